using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    private const string Library = "libc";

    // bits/socket.h, asm-generic/socket.h, asm-generic/errno-base.h.
    public const int AfNetlink = 16;
    public const int SockDgram = 2;
    public const int SockCloexec = 0x80000;
    public const int SolSocket = 1;
    public const int SoRcvtimeo = 20;
    public const int EIntr = 4;
    public const int ENoEnt = 2;
    public const int EAccess = 13;
    public const int EPerm = 1;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    public static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, uint length);
}
