using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // fcntl.h AT_FDCWD.
    public const int AtFdCwd = -100;

    /// <summary>
    /// name_to_handle_at(2); <paramref name="handle"/> is a <c>struct file_handle { unsigned int handle_bytes; int
    /// handle_type; unsigned char f_handle[]; }</c> whose handle_bytes says how much room follows it.
    /// </summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "name_to_handle_at", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int NameToHandleAt(int directoryFd, string path, byte* handle, int* mountId, int flags);

    /// <summary>getsockopt(2).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    public static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);
}
