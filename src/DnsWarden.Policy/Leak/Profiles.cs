using System.Net;

namespace DnsWarden.Policy;

/// <summary>The built-in profiles and the quick flags that adjust any policy (docs/POLICY.md).</summary>
public static class Profiles
{
    /// <summary>Interface-name globs that read as tunnels when nothing else says: WireGuard, OpenVPN/tun, PPP, IPsec, Tailscale, ZeroTier.</summary>
    public static IReadOnlyList<string> TunnelNameGlobs { get; } =
        ["tun*", "tap*", "wg*", "utun*", "ppp*", "ipsec*", "vti*", "xfrm*", "tailscale*", "zt*", "nordlynx*", "proton*", "mullvad*", "gpd*", "cscotun*"];

    /// <summary>
    /// Interface-name globs of host-internal devices, for captures whose kernel facts are unknown (files): veth pairs,
    /// Docker/podman/libvirt/CNI bridges and libvirt's VM taps (Docker's <c>br-</c> + 12 hex digits is told apart by the
    /// route classifier: OpenWrt's <c>br-lan</c> holds physical ports). <c>tap*</c> stays a tunnel name (OpenVPN's tap mode);
    /// live, a tap enslaved to a bridge is judged virtual from the kernel's facts.
    /// </summary>
    public static IReadOnlyList<string> VirtualNameGlobs { get; } =
        ["veth*", "docker*", "virbr*", "cni*", "podman*", "vnet*", "cali*", "flannel*", "kube-bridge*", "lxcbr*", "lxdbr*"];

    public static string Name(PolicyProfile profile) => profile switch
    {
        PolicyProfile.FullTunnel => "full-tunnel",
        PolicyProfile.ProxyStub => "proxy-stub",
        PolicyProfile.Split => "split",
        _ => profile.ToString(),
    };

    public static bool TryParse(string name, out PolicyProfile profile)
    {
        switch (name)
        {
            case "full-tunnel":
                profile = PolicyProfile.FullTunnel;
                return true;
            case "proxy-stub":
                profile = PolicyProfile.ProxyStub;
                return true;
            case "split":
                profile = PolicyProfile.Split;
                return true;
            default:
                profile = PolicyProfile.ProxyStub;
                return false;
        }
    }

    /// <summary>A profile's policy, with the built-in encrypted-DNS endpoint list.</summary>
    public static LeakPolicy Create(PolicyProfile profile)
    {
        IReadOnlyList<RouteClass> safe = profile == PolicyProfile.ProxyStub
            ? [RouteClass.Loopback]
            : [RouteClass.Loopback, RouteClass.Tunnel];
        return new LeakPolicy(
            profile,
            safe,
            SafeInterfaces: [],
            InterfaceClasses: [],
            SafeResolvers: [],
            AllowedProcesses: [],
            AllowedPorts: [],
            Split: SplitPolicy.None,
            EncryptedDns: new EncryptedDnsPolicy([], DomainSet.Empty, EncryptedDnsEndpoints.BuiltIn),
            Exfiltration: ExfiltrationPolicy.Default)
        {
            Source = "profile " + Name(profile),
        };
    }

    /// <summary>
    /// Applies the quick flags: each <paramref name="tunnelInterfaces"/> entry becomes a safe interface with a tunnel hint,
    /// each <paramref name="safeResolvers"/> entry a safe resolver, each <paramref name="proxyDomains"/> entry a proxy-required name.
    /// </summary>
    public static LeakPolicy WithQuickFlags(
        LeakPolicy policy, IEnumerable<string> tunnelInterfaces, IEnumerable<EndpointRule> safeResolvers, IEnumerable<string> proxyDomains)
    {
        var tunnels = tunnelInterfaces.Select(n => new InterfacePattern(n)).ToList();
        var resolvers = safeResolvers.ToList();
        var domains = proxyDomains.ToList();
        if (tunnels.Count == 0 && resolvers.Count == 0 && domains.Count == 0)
        {
            return policy;
        }

        return policy with
        {
            SafeInterfaces = [.. policy.SafeInterfaces, .. tunnels],
            InterfaceClasses = [.. tunnels.Select(t => new InterfaceHint(t, RouteClass.Tunnel)), .. policy.InterfaceClasses],
            SafeResolvers = [.. policy.SafeResolvers, .. resolvers],
            Split = domains.Count == 0
                ? policy.Split
                : policy.Split with { ProxyDomains = new DomainSet([.. policy.Split.ProxyDomains.Rules, .. domains]) },
        };
    }

    /// <summary>Parses <c>IP</c>, <c>IP:PORT</c>, <c>[IPv6]:PORT</c>, <c>CIDR</c> or <c>CIDR:PORT</c>; the error says what was expected.</summary>
    public static bool TryParseEndpoint(string text, out EndpointRule? rule, out string? error)
    {
        rule = null;
        error = null;
        string net = text.Trim();
        ushort? port = null;
        if (net.StartsWith('['))
        {
            int close = net.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}' has '[' without ']' (expected [IPv6]:PORT)";
                return false;
            }

            string rest = net[(close + 1)..];
            net = net[1..close];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':') || !ushort.TryParse(rest[1..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort p) || p == 0)
                {
                    error = $"'{text}' has a bad port (expected [IPv6]:PORT with PORT 1–65535)";
                    return false;
                }

                port = p;
            }
        }
        else if (net.Count(c => c == ':') == 1)
        {
            int colon = net.IndexOf(':', StringComparison.Ordinal);
            if (!ushort.TryParse(net[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort p) || p == 0)
            {
                error = $"'{text}' has a bad port (expected IP:PORT with PORT 1–65535)";
                return false;
            }

            port = p;
            net = net[..colon];
        }

        if (net.Contains('/', StringComparison.Ordinal))
        {
            // IPNetwork.TryParse masks host bits away; 10.0.0.1/8 is more likely a typo than a way to write 10.0.0.0/8.
            int slash = net.IndexOf('/', StringComparison.Ordinal);
            string prefix = net[(slash + 1)..];
            if (!TryParseAddress(net[..slash], out IPAddress? baseAddress)
                || prefix.Length is 0 or > 3 || !prefix.All(char.IsAsciiDigit) || (prefix.Length > 1 && prefix[0] == '0')
                || !IPNetwork.TryParse(net, out IPNetwork network) || !network.BaseAddress.Equals(baseAddress))
            {
                error = $"'{text}' is not a CIDR range (expected e.g. 10.0.0.0/8 or fd00::/8 with no host bits set)";
                return false;
            }

            rule = new EndpointRule(network, port);
            return true;
        }

        if (!TryParseAddress(net, out IPAddress? address))
        {
            error = $"'{text}' is not an IP address (expected IP, IP:PORT, [IPv6]:PORT or CIDR)";
            return false;
        }

        rule = new EndpointRule(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128), port);
        return true;
    }

    /// <summary>
    /// Parses one IP address, IPv4 only as a dotted quad: <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> alone
    /// reads <c>10</c> as 0.0.0.10, <c>10.1</c> as 10.0.0.1 and <c>010.0.0.1</c> as octal, which in a policy is a typo, not an address.
    /// IPv4-mapped IPv6 addresses come back as IPv4.
    /// </summary>
    public static bool TryParseAddress(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.Length == 0 || char.IsWhiteSpace(text[0]) || char.IsWhiteSpace(text[^1]))
        {
            return false;
        }

        if (!text.Contains(':', StringComparison.Ordinal))
        {
            int parts = 0;
            foreach (string part in text.Split('.'))
            {
                parts++;
                if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || (part.Length > 1 && part[0] == '0'))
                {
                    return false;
                }
            }

            if (parts != 4)
            {
                return false;
            }
        }

        if (!IPAddress.TryParse(text, out IPAddress? parsed))
        {
            return false;
        }

        address = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
        return true;
    }
}
