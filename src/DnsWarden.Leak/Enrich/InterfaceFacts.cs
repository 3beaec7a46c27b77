using DnsWarden.Platform.Network;

namespace DnsWarden.Leak.Enrich;

/// <summary>
/// What the kernel says about one interface, as far as its route class depends on it (rtnetlink RTM_NEWLINK).
/// </summary>
/// <param name="Kind">IFLA_INFO_KIND: <c>veth</c>, <c>bridge</c>, <c>tun</c> (also a tap), <c>wireguard</c>…; null for a plain device.</param>
/// <param name="Ethernet">Frames on it are Ethernet (ARPHRD_ETHER): a <c>tun</c> kind with Ethernet frames is a tap.</param>
/// <param name="BridgeName">The bridge this interface is a port of, or null.</param>
/// <param name="Ports">For a bridge, its ports; empty otherwise.</param>
/// <param name="Uplink">A unicast default route, or a route through a gateway, leaves by this interface: it is a way out of the namespace, whatever its kind.</param>
public sealed record InterfaceFacts(string Name, int Index, string? Kind, bool Ethernet, string? BridgeName, IReadOnlyList<InterfaceFacts> Ports, bool Uplink = false)
{
    /// <summary>The facts of every link in a rtnetlink dump, by name (pure: tested on states built in memory).</summary>
    public static Dictionary<string, InterfaceFacts> FromDump(IReadOnlyList<LinkInfo> links, IReadOnlyList<RouteInfo> routes)
    {
        var byIndex = links.ToDictionary(l => l.Index);
        var uplinks = new HashSet<int>();
        foreach (RouteInfo r in routes)
        {
            // A default route, or any route through a gateway: traffic leaves the namespace by it. The veths of
            // containers carry only the routes of their own subnets (on link, no gateway).
            if (r.Type == RouteInfo.TypeUnicast && (r.IsDefault || r.Gateway is not null || r.NextHops.Any(h => h.Gateway is not null)))
            {
                uplinks.Add(r.OutputInterfaceIndex);
                uplinks.UnionWith(r.NextHops.Select(h => h.InterfaceIndex));
            }
        }

        InterfaceFacts Plain(LinkInfo l) => new(
            l.Name, l.Index, l.Kind, l.HardwareType == LinkInfo.ArphrdEther,
            l.PortKind == "bridge" && byIndex.TryGetValue(l.Master, out LinkInfo? master) ? master.Name : null, [], uplinks.Contains(l.Index));
        var result = new Dictionary<string, InterfaceFacts>(StringComparer.Ordinal);
        foreach (LinkInfo l in links)
        {
            InterfaceFacts facts = Plain(l);
            if (l.Kind == "bridge")
            {
                facts = facts with { Ports = [.. links.Where(p => p.Master == l.Index && p.PortKind == "bridge").Select(Plain)] };
            }

            result[l.Name] = facts;
        }

        return result;
    }
}
