using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // linux/prctl.h, linux/seccomp.h, linux/filter.h.
    public const int PrSetDumpable = 4;
    public const int PrSetNoNewPrivs = 38;
    public const nint SysSeccomp = 317;                  // x86_64
    public const nint SysSeccompArm64 = 277;             // arm64 (asm-generic)
    public const nint SeccompSetModeFilter = 1;
    public const nint SeccompFilterFlagTsync = 1;
    public const ushort BpfRetK = 0x06;                  // BPF_RET | BPF_K
    public const uint SeccompRetAllow = 0x7fff0000;

    /// <summary>struct sock_filter.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockFilter
    {
        public ushort Code;
        public byte JumpTrue;
        public byte JumpFalse;
        public uint K;
    }

    /// <summary>struct sock_fprog on LP64: an unsigned short length, padding, a pointer.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }

    /// <summary>glibc passes it to every thread of the process (as it does setresuid and setresgid).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setgroups", SetLastError = true)]
    public static unsafe partial int SetGroups(nuint size, uint* list);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setresgid", SetLastError = true)]
    public static partial int SetResGid(uint real, uint effective, uint saved);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setresuid", SetLastError = true)]
    public static partial int SetResUid(uint real, uint effective, uint saved);
}
