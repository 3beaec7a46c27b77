using System.Globalization;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Keeps this process's descriptors out of what it starts. Most are close-on-exec already (the runtime opens them so),
/// but not all: libnftables opens its netlink sockets without it, and a jailed command or the jail's keeper would
/// otherwise inherit root-opened netfilter sockets and files it has no business holding.
/// </summary>
[SupportedOSPlatform("linux")]
public static class InheritedDescriptors
{
    private const int GetDescriptorFlags = 1;
    private const int SetDescriptorFlags = 2;
    private const int CloseOnExecFlag = 1;

    /// <summary>Marks every descriptor above standard error close-on-exec except <paramref name="keep"/>.</summary>
    public static void CloseOnExecExcept(params int[] keep)
    {
        foreach (string entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int fd) && fd > 2 && !keep.Contains(fd))
            {
                int flags = LibC.Fcntl(fd, GetDescriptorFlags, 0);
                if (flags >= 0 && (flags & CloseOnExecFlag) == 0)
                {
                    _ = LibC.Fcntl(fd, SetDescriptorFlags, flags | CloseOnExecFlag);
                }
            }
        }
    }
}
