using System.Runtime.Versioning;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Network sysctls as /proc/sys shows them to the calling thread: /proc/sys/net is per network namespace, so a thread
/// that entered another namespace (<see cref="NetworkNamespace.RunAsync{T}"/>) reads and writes that one's. Keys are
/// paths under /proc/sys ("net/ipv4/conf/eth0/forwarding"), not the dotted form: an interface name may hold dots.
/// </summary>
[SupportedOSPlatform("linux")]
public static class Sysctl
{
    public const string Root = "/proc/sys/";

    /// <summary>The value without its newline; null when the key does not exist (an interface that is gone, an older kernel).</summary>
    public static string? TryRead(string key)
    {
        try
        {
            return File.ReadAllText(PathOf(key)).TrimEnd('\n');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether the kernel has this key (e.g. <c>net/ipv6/conf/all/force_forwarding</c>, Linux 6.17+).</summary>
    public static bool Exists(string key) => File.Exists(PathOf(key));

    /// <summary>Writes <paramref name="value"/>; an <see cref="IOException"/> names the key when the kernel refuses it.</summary>
    public static void Write(string key, string value)
    {
        try
        {
            File.WriteAllText(PathOf(key), value + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot set {key} to {value}: {e.Message}", e);
        }
    }

    /// <summary>The interfaces that have a configuration directory under net/ipv4/conf or net/ipv6/conf (not all, default).</summary>
    public static IReadOnlyList<string> Interfaces(string family)
    {
        if (family is not ("ipv4" or "ipv6"))
        {
            throw new ArgumentException("ipv4 or ipv6", nameof(family));
        }

        string dir = Root + "net/" + family + "/conf";
        if (!Directory.Exists(dir))
        {
            return [];
        }

        return [.. Directory.EnumerateDirectories(dir).Select(Path.GetFileName).OfType<string>()
            .Where(n => n is not ("all" or "default")).Order(StringComparer.Ordinal)];
    }

    private static string PathOf(string key)
    {
        if (!key.StartsWith("net/", StringComparison.Ordinal) || key.Contains("..", StringComparison.Ordinal) || key.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"not a network sysctl key: '{key}'", nameof(key));
        }

        return Root + key;
    }
}
