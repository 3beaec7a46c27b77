using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Platform.Network;

/// <summary>
/// Which route the kernel would pick for a destination under the default rules: the local table first (addresses
/// of this host, 127/8), then main, longest prefix and lowest metric winning. Policy rules (fwmark, uid) are not
/// evaluated: they depend on the sending socket, which status does not have.
/// </summary>
public static class RouteLookup
{
    public static RouteInfo? Lookup(IReadOnlyList<RouteInfo> routes, IPAddress destination)
    {
        IPAddress dst = destination.IsIPv4MappedToIPv6 ? destination.MapToIPv4() : destination;
        return Best(routes, dst, RouteInfo.TableLocal, localOnly: true) ?? Best(routes, dst, RouteInfo.TableMain, localOnly: false);
    }

    public static bool Contains(RouteInfo route, IPAddress address)
    {
        if (route.Family != address.AddressFamily)
        {
            return false;
        }

        if (route.DestinationLength == 0)
        {
            return true;
        }

        IPAddress network = route.Destination ?? (route.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any);
        Span<byte> a = stackalloc byte[16];
        Span<byte> n = stackalloc byte[16];
        address.TryWriteBytes(a, out int length);
        network.TryWriteBytes(n, out _);
        int bits = route.DestinationLength;
        for (int i = 0; i < length && bits > 0; i++, bits -= 8)
        {
            int mask = bits >= 8 ? 0xFF : (0xFF << (8 - bits)) & 0xFF;
            if ((a[i] & mask) != (n[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    private static RouteInfo? Best(IReadOnlyList<RouteInfo> routes, IPAddress dst, uint table, bool localOnly)
    {
        RouteInfo? best = null;
        foreach (RouteInfo r in routes)
        {
            if (r.Table != table || (localOnly && r.Type != RouteInfo.TypeLocal) || (!localOnly && r.Type is 3 or 5) || !Contains(r, dst))
            {
                continue;
            }

            if (best is null || r.DestinationLength > best.DestinationLength
                || (r.DestinationLength == best.DestinationLength && (r.Metric ?? 0) < (best.Metric ?? 0)))
            {
                best = r;
            }
        }

        return best;
    }
}
