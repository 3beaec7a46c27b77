using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // sys/mount.h (linux/mount.h): mount(2) flags and umount2(2)'s MNT_DETACH.
    public const ulong MsBind = 0x1000;
    public const ulong MsRec = 0x4000;
    public const ulong MsShared = 1 << 20;
    public const int MntDetach = 2;

    // fcntl.h: O_CREAT | O_EXCL for a file that must not exist yet; asm-generic/errno-base.h.
    public const int OpenCreateExclusive = 0x40 | 0x80;
    public const int EExist = 17;
    public const int EInval = 22;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "unshare", SetLastError = true)]
    public static partial int Unshare(int flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fileSystemType, ulong flags, nint data);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlink(string path);

    /// <summary>open(2) with a mode, for O_CREAT (the variadic third argument is passed as a plain int on Linux ABIs).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenMode(string path, int flags, uint mode);
}
