using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Rules;

/// <summary>
/// Which processes are local stub resolvers: programs that take queries from other programs and send their own
/// upstream, so the process that sent a leaking packet is not the one that wanted the name.
/// </summary>
public static class LocalResolvers
{
    private static readonly HashSet<string> s_names = new(StringComparer.Ordinal)
    {
        "dnsmasq", "systemd-resolved", "systemd-resolve", "unbound", "kresd", "named", "pdns_recursor", "dnscrypt-proxy", "stubby",
        "coredns",
    };

    /// <summary>dnsw is a stub when it runs the DNS engine for others: <c>dnsw proxy</c>, and the stubs of <c>dnsw jail</c> and <c>dnsw tun</c>.</summary>
    private static readonly string[] s_dnswStubCommands = [" proxy", " jail", " tun"];

    /// <summary>By process name (the kernel's 15-byte comm, so "systemd-resolve" too) or executable name.</summary>
    public static bool IsLocalResolver(ProcessInfo process)
    {
        string exeName = process.Exe is { } exe ? Path.GetFileName(exe) : "";
        if (s_names.Contains(process.Name) || s_names.Contains(exeName))
        {
            return true;
        }

        if (process.Name == "dnsw" || exeName == "dnsw")
        {
            return process.CommandLine is not { } cmd || Array.Exists(s_dnswStubCommands, c => cmd.Contains(c, StringComparison.Ordinal));
        }

        return false;
    }
}
