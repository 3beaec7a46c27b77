using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    /// <summary>sched.h: CLONE_NEWNET, the network namespace type for setns(2).</summary>
    public const int CloneNewNet = 0x40000000;

    /// <summary>fcntl.h: O_RDONLY | O_CLOEXEC.</summary>
    public const int OpenReadOnlyCloseOnExec = 0x80000;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nsType);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);
}
