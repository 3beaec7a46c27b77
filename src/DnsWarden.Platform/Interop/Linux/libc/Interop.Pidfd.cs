namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // asm-generic/unistd.h: pidfd_open and pidfd_send_signal have the same numbers on every architecture (Linux 5.3+ and
    // 5.1+; called through syscall(2), as glibc has no wrappers before 2.36). errno.h ESRCH.
    public const nint SysPidfdSendSignal = 424;
    public const nint SysPidfdOpen = 434;
    public const int ESrch = 3;
}
