using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // asm-generic/unistd.h: the Landlock system calls have the same numbers on every architecture (no glibc wrappers).
    public const nint SysLandlockCreateRuleset = 444;
    public const nint SysLandlockAddRule = 445;
    public const nint SysLandlockRestrictSelf = 446;

    /// <summary>syscall(2) with three arguments.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall3(nint number, nint a1, nint a2, nint a3);

    /// <summary>syscall(2) with four arguments.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall4(nint number, nint a1, nint a2, nint a3, nint a4);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint a2, nuint a3, nuint a4, nuint a5);
}
