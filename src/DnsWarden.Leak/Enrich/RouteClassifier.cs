using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Enrich;

/// <summary>A route class and why it was chosen.</summary>
public readonly record struct RouteClassResult(RouteClass Class, string Reason);

/// <summary>
/// Where an interface leads: policy hints first, then what the kernel says of it when the capture is live (a veth, a
/// bridge of veths and VM taps, a tap enslaved to one: <c>virtual</c>), then the name (<c>lo</c>, tunnel names such as
/// <c>wg*</c> or <c>tun*</c>, host-internal names such as <c>veth*</c>, <c>docker0</c>, <c>virbr*</c>), then the link
/// type (raw IP means a point-to-point tunnel device). Results are cached per name.
/// </summary>
/// <param name="interfaces">The live host's interfaces, or null for capture files (names only).</param>
public sealed class RouteClassifier(LeakPolicy policy, IInterfaceTable? interfaces = null)
{
    private static readonly InterfacePattern[] s_tunnels = [.. Profiles.TunnelNameGlobs.Select(g => new InterfacePattern(g))];

    private static readonly InterfacePattern[] s_virtual = [.. Profiles.VirtualNameGlobs.Select(g => new InterfacePattern(g))];

    /// <summary>Names libpcap and the capture readers give an interface whose name is unknown.</summary>
    private static readonly InterfacePattern[] s_unnamed = [new("any"), new("ifindex*")];

    /// <summary>Names Linux, BSD and macOS give wired and wireless cards: physical whatever the capture's link type.</summary>
    private static readonly InterfacePattern[] s_physical = [.. new[] { "eth*", "en*", "wl*", "ww*", "em*", "bond*" }.Select(g => new InterfacePattern(g))];

    private readonly Dictionary<(string, LinkType), RouteClassResult> _cache = [];
    private int _tableVersion;

    public RouteClassResult Classify(string interfaceName, LinkType linkType)
    {
        if (interfaces is not null && interfaces.Version != _tableVersion)
        {
            _tableVersion = interfaces.Version;
            _cache.Clear();
        }

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

        InterfaceFacts? facts = interfaces?.Find(name);
        if (facts is not null && VirtualByKernel(facts) is { } reason)
        {
            return new(RouteClass.Virtual, reason);
        }

        foreach (InterfacePattern p in s_tunnels)
        {
            if (p.Matches(name))
            {
                return new(RouteClass.Tunnel, $"tunnel name ({p.Pattern})");
            }
        }

        if (facts is { Uplink: true } && (facts.Kind is "veth" or "bridge" || facts.BridgeName is not null))
        {
            return new(RouteClass.Physical, $"{facts.Kind ?? "port of " + facts.BridgeName} carrying a route through a gateway: a way out of this namespace (kernel)");
        }

        if (facts is { Kind: "bridge" })
        {
            string uplink = string.Join(", ", facts.Ports.Where(p => p.Kind is not ("veth" or "tun")).Select(p => p.Name));
            return new(RouteClass.Physical, $"bridge with a physical port ({uplink}) (kernel)");
        }

        // Names stand in for the kernel's facts only when there are none (a capture file, an interface gone).
        if (facts is null)
        {
            foreach (InterfacePattern p in s_virtual)
            {
                if (p.Matches(name))
                {
                    return new(RouteClass.Virtual, $"host-internal interface name ({p.Pattern})");
                }
            }

            if (IsNumberedBridgeName(name))
            {
                return new(RouteClass.Virtual, "bridge name (br<N>)");
            }

            if (IsDockerNetworkBridgeName(name))
            {
                return new(RouteClass.Virtual, "Docker network bridge name (br-<network id>)");
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

    /// <summary>
    /// Why the kernel's facts make an interface host-internal, or null. A veth is one end of a pair inside the host. A
    /// tap enslaved to a bridge is a VM's port (libvirt's vnetN); a tap on its own stays a tunnel (OpenVPN's tap
    /// mode). A bridge is virtual when every port it has is: a bridge holding a physical card is the host's uplink.
    /// </summary>
    private static string? VirtualByKernel(InterfaceFacts facts)
    {
        if (facts.Uplink)
        {
            return null; // a route through a gateway leaves by it: a way out of this namespace (a container's eth0 is a veth)
        }

        if (facts.Kind == "veth")
        {
            return "veth (kernel: link kind veth)";
        }

        if (facts.Kind == "tun" && facts.Ethernet && facts.BridgeName is { } bridge)
        {
            return $"tap, port of bridge {bridge} (kernel)";
        }

        if (facts.Kind != "bridge")
        {
            return null;
        }

        foreach (InterfaceFacts port in facts.Ports)
        {
            if (port.Kind is not ("veth" or "tun"))
            {
                return null;
            }
        }

        return facts.Ports.Count == 0
            ? "bridge without ports (kernel: link kind bridge)"
            : $"bridge of {string.Join(", ", facts.Ports.Select(p => p.Name))} (kernel: link kind bridge, no physical port)";
    }

    /// <summary><c>br0</c>, <c>br12</c>: the names bridge tools use in their examples; <c>br-*</c> are Docker's.</summary>
    private static bool IsNumberedBridgeName(string name) =>
        name.Length > 2 && name.StartsWith("br", StringComparison.Ordinal) && name.AsSpan(2).IndexOfAnyExceptInRange('0', '9') < 0;

    /// <summary><c>br-</c> and the first 12 hex digits of a Docker network's id; <c>br-lan</c> (OpenWrt's LAN, physical ports) is not one.</summary>
    private static bool IsDockerNetworkBridgeName(string name) =>
        name.Length == 15 && name.StartsWith("br-", StringComparison.Ordinal) && !name.AsSpan(3).ContainsAnyExcept("0123456789abcdef");

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
        RouteClass.Virtual => "virtual",
        _ => "unknown",
    };
}
