using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // poll.h; sys/eventfd.h (EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK); fcntl.h O_RDWR, O_NONBLOCK; EAGAIN.
    public const short PollIn = 0x1;
    public const short PollErr = 0x8;
    public const short PollHup = 0x10;
    public const short PollNval = 0x20;
    public const int EventFdCloseOnExecNonBlocking = 0x80000 | 0x800;
    public const int OpenReadWriteNonBlockingCloseOnExec = 0x2 | 0x800 | 0x80000;
    public const int EAgain = 11;
    public const int EBadF = 9;

    /// <summary>struct pollfd { int fd; short events; short revents; }.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buffer, nuint count);
}
