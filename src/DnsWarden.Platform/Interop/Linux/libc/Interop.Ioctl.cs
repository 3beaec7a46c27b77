using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    /// <summary>ioctl(2) with its one argument as a pointer; requests that take a value (TUNSETOFFLOAD) pass it cast.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int Ioctl(int fd, nuint request, void* argument);

    /// <summary>if_nametoindex(3): the index of a link in the calling thread's network namespace, 0 if absent.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);
}
