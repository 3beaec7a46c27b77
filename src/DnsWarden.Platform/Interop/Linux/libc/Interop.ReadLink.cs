using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    /// <summary>readlink(2) over a NUL-terminated path; no terminator is written to <paramref name="buffer"/>.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "readlink", SetLastError = true)]
    public static unsafe partial nint ReadLink(byte* path, byte* buffer, nuint size);
}
