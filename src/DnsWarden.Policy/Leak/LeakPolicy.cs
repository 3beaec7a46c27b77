using System.Net;

namespace DnsWarden.Policy;

/// <summary>Where a packet's interface leads. Policy hints decide first, then the name and link type.</summary>
public enum RouteClass
{
    Unknown,
    Loopback,
    Tunnel,
    Physical,

    /// <summary>
    /// A host-internal hop (veth, bridge, a VM's tap): a packet here is on its way through the host, not yet out
    /// (docs/DECISIONS.md, virtual interfaces).
    /// </summary>
    Virtual,
}

/// <summary>The built-in starting points (docs/POLICY.md).</summary>
public enum PolicyProfile
{
    /// <summary>VPN style: DNS must stay on loopback or a tunnel interface.</summary>
    FullTunnel,

    /// <summary>Censorship model (default): applications ask a local stub on loopback; only the stub/proxy goes out.</summary>
    ProxyStub,

    /// <summary>Split tunnel: ordinary names may resolve directly; proxy-required names must stay on the safe path.</summary>
    Split,
}

/// <summary>What split policy does with a name on neither list.</summary>
public enum SplitDefault
{
    Direct,
    Proxy,
}

/// <summary>An address range with an optional port: <c>10.8.0.1</c>, <c>10.0.0.0/8</c>, <c>[fd00::1]:853</c>, <c>fd00::/8</c>.</summary>
/// <param name="Port">Null: any port.</param>
public sealed record EndpointRule(IPNetwork Network, ushort? Port)
{
    public bool Matches(IPAddress address, ushort port)
    {
        if (Port is { } p && p != port)
        {
            return false;
        }

        IPAddress a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return Network.Contains(a);
    }

    public override string ToString()
    {
        string net = Network.PrefixLength == (Network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            ? Network.BaseAddress.ToString()
            : Network.ToString();
        if (Port is not { } port)
        {
            return net;
        }

        return Network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{net}]:{port}" : $"{net}:{port}";
    }
}

/// <summary>Split-policy domain lists.</summary>
public sealed record SplitPolicy(DomainSet ProxyDomains, DomainSet DirectDomains, SplitDefault Default)
{
    public static SplitPolicy None { get; } = new(DomainSet.Empty, DomainSet.Empty, SplitDefault.Direct);

    /// <summary>True when the name must only ever be resolved over the safe path.</summary>
    public bool IsProxyRequired(string name) =>
        ProxyDomains.Matches(name) || (Default == SplitDefault.Proxy && !DirectDomains.Matches(name));
}

/// <summary>Encrypted DNS (DoT/DoH/DoQ): which egress is approved, and which endpoints count as known resolvers.</summary>
/// <param name="ApprovedEgress">Destinations encrypted DNS may go to from any interface.</param>
/// <param name="ApprovedHosts">Server names (TLS SNI) encrypted DNS may go to; suffix rules as in <see cref="DomainSet"/>.</param>
/// <param name="Endpoints">The known public encrypted-DNS endpoints after the policy's additions and removals.</param>
public sealed record EncryptedDnsPolicy(
    IReadOnlyList<EndpointRule> ApprovedEgress,
    DomainSet ApprovedHosts,
    EncryptedDnsEndpoints Endpoints);

/// <summary>Thresholds of the exfiltration/tunnelling indicator (per base domain over a sliding window).</summary>
/// <param name="Window">Length of the sliding window.</param>
/// <param name="MinQueries">Fewer queries than this under one base domain in a window are never scored.</param>
/// <param name="MinUniqueSubdomains">Unique names under the base domain in the window that count as many.</param>
/// <param name="MinEntropy">Mean Shannon entropy (bits per character) of the subdomain part that counts as high.</param>
/// <param name="LongLabel">A label this long or longer counts as long.</param>
/// <param name="LongName">A name this long or longer counts as long.</param>
/// <param name="TxtNullShare">Share of TXT/NULL/ANY queries that counts as high.</param>
/// <param name="NxdomainShare">Share of NXDOMAIN answers that counts as high.</param>
/// <param name="ScoreThreshold">Indicator score (0–100) from which an event is raised.</param>
public sealed record ExfiltrationPolicy(
    TimeSpan Window,
    int MinQueries,
    int MinUniqueSubdomains,
    double MinEntropy,
    int LongLabel,
    int LongName,
    double TxtNullShare,
    double NxdomainShare,
    int ScoreThreshold)
{
    public static ExfiltrationPolicy Default { get; } = new(
        Window: TimeSpan.FromSeconds(60),
        MinQueries: 10,
        MinUniqueSubdomains: 10,
        MinEntropy: 3.5,
        LongLabel: 40,
        LongName: 100,
        TxtNullShare: 0.5,
        NxdomainShare: 0.5,
        ScoreThreshold: 60);
}

/// <summary>
/// The leak detector's policy: what the safe DNS path is. A DNS packet is on the safe path when its interface's
/// route class is safe, or its interface is a safe interface, or its destination is a safe resolver, or it was
/// sent by an allowed process to an allowed port. docs/POLICY.md is the reference.
/// </summary>
public sealed record LeakPolicy(
    PolicyProfile Profile,
    IReadOnlyList<RouteClass> SafeRouteClasses,
    IReadOnlyList<InterfacePattern> SafeInterfaces,
    IReadOnlyList<InterfaceHint> InterfaceClasses,
    IReadOnlyList<EndpointRule> SafeResolvers,
    IReadOnlyList<string> AllowedProcesses,
    IReadOnlyList<ushort> AllowedPorts,
    SplitPolicy Split,
    EncryptedDnsPolicy EncryptedDns,
    ExfiltrationPolicy Exfiltration)
{
    /// <summary>Where this policy came from: a profile name or a file path, for the summary.</summary>
    public string Source { get; init; } = "";

    /// <summary>The route class a policy hint gives an interface, or null when no hint names it.</summary>
    public RouteClass? HintFor(string interfaceName)
    {
        foreach (InterfaceHint hint in InterfaceClasses)
        {
            if (hint.Pattern.Matches(interfaceName))
            {
                return hint.Class;
            }
        }

        return null;
    }

    public bool IsSafeInterface(string interfaceName, RouteClass routeClass)
    {
        if (SafeRouteClasses.Contains(routeClass))
        {
            return true;
        }

        foreach (InterfacePattern p in SafeInterfaces)
        {
            if (p.Matches(interfaceName))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsSafeResolver(IPAddress address, ushort port)
    {
        foreach (EndpointRule r in SafeResolvers)
        {
            if (r.Matches(address, port))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when the process may resolve upstream on this port (allowed processes, allowed ports).</summary>
    public bool IsAllowedProcess(string? processName, ushort port) =>
        processName is not null
        && AllowedProcesses.Contains(processName, StringComparer.Ordinal)
        && (AllowedPorts.Count == 0 || AllowedPorts.Contains(port));

    public bool IsApprovedEncryptedEgress(IPAddress address, ushort port, string? serverName)
    {
        foreach (EndpointRule r in EncryptedDns.ApprovedEgress)
        {
            if (r.Matches(address, port))
            {
                return true;
            }
        }

        return serverName is not null && EncryptedDns.ApprovedHosts.Matches(serverName);
    }
}

/// <summary>An interface name or a glob with <c>*</c> (<c>wg*</c>, <c>tun*</c>).</summary>
public sealed record InterfacePattern(string Pattern)
{
    public bool Matches(string name)
    {
        int star = Pattern.IndexOf('*', StringComparison.Ordinal);
        if (star < 0)
        {
            return string.Equals(Pattern, name, StringComparison.Ordinal);
        }

        // One or more stars: prefix before the first, suffix after the last, the middle pieces in order.
        string[] parts = Pattern.Split('*');
        if (!name.StartsWith(parts[0], StringComparison.Ordinal) || !name.EndsWith(parts[^1], StringComparison.Ordinal)
            || name.Length < parts[0].Length + parts[^1].Length)
        {
            return false;
        }

        int at = parts[0].Length;
        int end = name.Length - parts[^1].Length;
        for (int i = 1; i < parts.Length - 1; i++)
        {
            int found = name.IndexOf(parts[i], at, end - at, StringComparison.Ordinal);
            if (found < 0)
            {
                return false;
            }

            at = found + parts[i].Length;
        }

        return true;
    }

    public override string ToString() => Pattern;
}

/// <summary>A policy hint: interfaces matching the pattern have this route class.</summary>
public sealed record InterfaceHint(InterfacePattern Pattern, RouteClass Class);
