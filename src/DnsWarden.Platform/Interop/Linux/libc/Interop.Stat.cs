using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    /// <summary>Offset of st_ino in struct stat on the 64-bit Linux ABIs (x86_64, aarch64: st_dev is 8 bytes before it).</summary>
    public const int StatInodeOffset = 8;

    /// <summary>Room for struct stat on every 64-bit Linux ABI (144 bytes on x86_64, 128 on aarch64).</summary>
    public const int StatSize = 256;

    /// <summary>stat(2) (a real symbol since glibc 2.33).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Stat(string path, byte* buffer);
}
