using System.Net;
using System.Net.Sockets;
using DnsWarden.Policy;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Clients;

/// <summary>
/// The networks a listener answers (docs/RESOLVER.md, "Clients"): a query from anywhere else is refused, so the
/// resolver is no reflector for spoofed queries and no open resolver. Prefixes are compared as 128-bit values (IPv4
/// held IPv4-mapped, as <see cref="IpAddr"/> does), a handful of masks and compares per query, nothing allocated.
/// </summary>
public sealed class ClientAllowList
{
    private readonly Prefix[] _prefixes;

    public ClientAllowList(IEnumerable<IPNetwork> networks)
    {
        ArgumentNullException.ThrowIfNull(networks);
        Networks = [.. networks];
        _prefixes = [.. Networks.Select(Prefix.Of)];
    }

    /// <summary>Loopback only: 127.0.0.0/8 and ::1.</summary>
    public static IReadOnlyList<IPNetwork> Loopback { get; } = [new(IPAddress.Parse("127.0.0.0"), 8), new(IPAddress.IPv6Loopback, 128)];

    public IReadOnlyList<IPNetwork> Networks { get; }

    public bool IsAllowed(IpAddr client)
    {
        foreach (ref readonly Prefix p in _prefixes.AsSpan())
        {
            if (client.IsV4 == p.V4 && (client.High & p.HighMask) == p.High && (client.Low & p.LowMask) == p.Low)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The default list of <c>dnsw proxy</c>: loopback, and for each listening address the subnet it has on its
    /// interface (from <paramref name="hostAddresses"/>, the host's addresses with their prefix lengths), or the
    /// address alone when it is not among them.
    /// </summary>
    public static IReadOnlyList<IPNetwork> DefaultFor(IEnumerable<IPAddress> listen, IReadOnlyList<InterfaceAddress> hostAddresses)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(hostAddresses);
        var networks = new List<IPNetwork>(Loopback);
        foreach (IPAddress address in listen)
        {
            int prefix = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
            foreach (InterfaceAddress host in hostAddresses)
            {
                if (host.Address.Equals(address))
                {
                    prefix = host.PrefixLength;
                    break;
                }
            }

            IPNetwork network = ProxyConfig.Mask(address, prefix);
            if (!networks.Contains(network))
            {
                networks.Add(network);
            }
        }

        return networks;
    }

    /// <summary>A network as masks over the 128-bit form; an IPv6 network (even ::/0) never admits an IPv4 client, nor the reverse.</summary>
    private readonly record struct Prefix(ulong High, ulong Low, ulong HighMask, ulong LowMask, bool V4)
    {
        public static Prefix Of(IPNetwork network)
        {
            IpAddr a = IpAddr.FromIPAddress(network.BaseAddress);
            bool v4 = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
            int bits = v4 ? 96 + network.PrefixLength : network.PrefixLength;
            ulong highMask = bits >= 64 ? ulong.MaxValue : bits == 0 ? 0 : ulong.MaxValue << (64 - bits);
            ulong lowMask = bits <= 64 ? 0 : bits >= 128 ? ulong.MaxValue : ulong.MaxValue << (128 - bits);
            return new Prefix(a.High & highMask, a.Low & lowMask, highMask, lowMask, v4);
        }
    }
}
