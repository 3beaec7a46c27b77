using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Enrich;

/// <summary>A route class and why it was chosen.</summary>
public readonly record struct RouteClassResult(RouteClass Class, string Reason);

/// <summary>
/// Where an interface leads: policy hints first, then the name (<c>lo</c>, tunnel names such as <c>wg*</c> or
/// <c>tun*</c>), then the link type (raw IP means a point-to-point tunnel device). Results are cached per name.
/// </summary>
public sealed class RouteClassifier(LeakPolicy policy)
{
    private static readonly InterfacePattern[] s_tunnels = [.. Profiles.TunnelNameGlobs.Select(g => new InterfacePattern(g))];

    /// <summary>Names libpcap and the capture readers give an interface whose name is unknown.</summary>
    private static readonly InterfacePattern[] s_unnamed = [new("any"), new("ifindex*")];

    /// <summary>Names Linux, BSD and macOS give wired and wireless cards: physical whatever the capture's link type.</summary>
    private static readonly InterfacePattern[] s_physical = [.. new[] { "eth*", "en*", "wl*", "ww*", "em*", "bond*" }.Select(g => new InterfacePattern(g))];

    private readonly Dictionary<(string, LinkType), RouteClassResult> _cache = [];

    public RouteClassResult Classify(string interfaceName, LinkType linkType)
    {
        if (_cache.TryGetValue((interfaceName, linkType), out RouteClassResult cached))
        {
            return cached;
        }

        RouteClassResult result = Decide(interfaceName, linkType);
        if (_cache.Count < 4096)
        {
            _cache[(interfaceName, linkType)] = result;
        }

        return result;
    }

    private RouteClassResult Decide(string name, LinkType linkType)
    {
        if (policy.HintFor(name) is { } hinted)
        {
            return new(hinted, "policy hint");
        }

        if (name == "lo" || name.StartsWith("lo0", StringComparison.Ordinal) || linkType is LinkType.Null or LinkType.Loop
            || name.Equals("Loopback Pseudo-Interface 1", StringComparison.OrdinalIgnoreCase))
        {
            return new(RouteClass.Loopback, "loopback interface");
        }

        foreach (InterfacePattern p in s_tunnels)
        {
            if (p.Matches(name))
            {
                return new(RouteClass.Tunnel, $"tunnel name ({p.Pattern})");
            }
        }

        foreach (InterfacePattern p in s_physical)
        {
            if (p.Matches(name))
            {
                return new(RouteClass.Physical, $"physical interface name ({p.Pattern})");
            }
        }

        if (linkType is LinkType.Raw or LinkType.Ipv4 or LinkType.Ipv6)
        {
            return new(RouteClass.Tunnel, "raw-IP link type (point-to-point device)");
        }

        if (IsPlaceholderName(name))
        {
            return new(RouteClass.Unknown, "interface name unknown");
        }

        return new(RouteClass.Physical, "not loopback, not a tunnel");
    }

    /// <summary><c>ifN</c> (a classic pcap names no interface), <c>any</c>, <c>ifindexN</c> (an unmapped "any" index); <c>ifb0</c> is a real device.</summary>
    private static bool IsPlaceholderName(string name)
    {
        foreach (InterfacePattern p in s_unnamed)
        {
            if (p.Matches(name))
            {
                return true;
            }
        }

        return name.Length > 2 && name.StartsWith("if", StringComparison.Ordinal) && name.AsSpan(2).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    public static string Name(RouteClass c) => c switch
    {
        RouteClass.Loopback => "loopback",
        RouteClass.Tunnel => "tunnel",
        RouteClass.Physical => "physical",
        _ => "unknown",
    };
}
