using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // fcntl.h: O_DIRECTORY; sys/file.h: flock(2) operations.
    public const int OpenDirectory = 0x10000;
    public const int LockExclusive = 2;
    public const int LockUnlock = 8;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);
}
