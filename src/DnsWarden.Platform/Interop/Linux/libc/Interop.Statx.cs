using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // fcntl.h, linux/stat.h: statx(2) of a path without following a final symbolic link, asking for the file type.
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const uint StatxType = 0x1;

    /// <summary>struct statx is 256 bytes on every architecture (linux/stat.h); stx_mode is the u16 at offset 28.</summary>
    public const int StatxSize = 256;
    public const int StatxModeOffset = 28;

    // sys/stat.h: the file type bits of st_mode.
    public const int SIfMt = 0xF000;
    public const int SIfReg = 0x8000;
    public const int SIfDir = 0x4000;
    public const int SIfLnk = 0xA000;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);
}
