using System.Collections.Concurrent;

namespace DnsWarden.E2E;

/// <summary>
/// Finds the host tools the E2E tests drive and skips a test, with the reason, when one is missing.
/// </summary>
public static class HostTools
{
    // Root's PATH normally has the sbin folders, but CI's environment may not: ip, dnsmasq and kresd live there.
    private static readonly string[] s_extraDirs = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

    private static readonly ConcurrentDictionary<string, string?> s_cache = new(StringComparer.Ordinal);

    /// <summary>Full path of an executable, or null when it is not installed.</summary>
    public static string? Find(string name)
    {
        return s_cache.GetOrAdd(name, static n =>
        {
            if (n.Contains('/', StringComparison.Ordinal))
            {
                return File.Exists(n) ? n : null;
            }

            string[] pathDirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
                .Split(':', StringSplitOptions.RemoveEmptyEntries);
            foreach (string dir in pathDirs.Concat(s_extraDirs))
            {
                string candidate = Path.Combine(dir, n);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return null;
        });
    }

    /// <summary>Full path of an executable; throws when it is missing (use after <see cref="RequireTools"/>).</summary>
    public static string Resolve(string name)
    {
        return Find(name) ?? throw new InvalidOperationException($"Required tool '{name}' is not installed.");
    }

    /// <summary>Skips the calling test when the process is not root: namespaces, veths and captures need it.</summary>
    public static void RequireRoot()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Needs Linux network namespaces (ip netns); this is not Linux.");
        }

        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Skip("Needs root to create network namespaces, veth pairs and captures; run as root (CI does).");
        }
    }

    /// <summary>Skips the calling test, naming every missing tool.</summary>
    public static void RequireTools(params string[] names)
    {
        string? reason = MissingToolsReason(names);
        if (reason is not null)
        {
            Assert.Skip(reason);
        }
    }

    /// <summary>The skip reason for missing tools, or null when all are installed.</summary>
    public static string? MissingToolsReason(params string[] names)
    {
        string[] missing = names.Where(n => Find(n) is null).ToArray();
        return missing.Length == 0
            ? null
            : $"Missing host tool(s): {string.Join(", ", missing)} (install them with the project's setup script).";
    }

    /// <summary>The skip reason for root, or null when the process may build namespaces.</summary>
    public static string? NotRootReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "Needs Linux network namespaces (ip netns); this is not Linux.";
        }

        return Environment.IsPrivilegedProcess
            ? null
            : "Needs root to create network namespaces, veth pairs and captures; run as root (CI does).";
    }
}
