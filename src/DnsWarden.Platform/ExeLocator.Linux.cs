using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// The path of an executable the kernel named by file name and inode, for a process that exited before
/// /proc/PID/exe could be read: first what a live process of the same name and inode showed, then the file of that
/// name in the usual program directories whose inode matches. Nothing is guessed: no match, no path.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ExeLocator
{
    private const int MaxRemembered = 4096;

    private static readonly string[] s_directories = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/libexec"];

    private readonly Dictionary<(string Name, ulong Inode), string?> _paths = [];

    /// <summary>A live process showed this path for this name and inode.</summary>
    public void Learn(string name, ulong inode, string path)
    {
        if (name.Length > 0 && _paths.Count < MaxRemembered)
        {
            _paths[(name, inode)] = path;
        }
    }

    public string? Find(string name, ulong inode)
    {
        if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || inode == 0)
        {
            return null;
        }

        if (_paths.TryGetValue((name, inode), out string? known))
        {
            return known;
        }

        string? found = null;
        foreach (string directory in s_directories)
        {
            string candidate = Path.Combine(directory, name);
            if (InodeOf(candidate) == inode)
            {
                found = candidate;
                break;
            }
        }

        if (_paths.Count < MaxRemembered)
        {
            _paths[(name, inode)] = found;
        }

        return found;
    }

    private static unsafe ulong InodeOf(string path)
    {
        byte* buffer = stackalloc byte[LibC.StatSize];
        return LibC.Stat(path, buffer) == 0 ? *(ulong*)(buffer + LibC.StatInodeOffset) : 0;
    }
}
