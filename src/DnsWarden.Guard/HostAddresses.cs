using System.Net;
using System.Runtime.Versioning;
using DnsWarden.Platform.Network;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Guard;

/// <summary>
/// The addresses of the network namespace dnsw runs in, read once over rtnetlink, in the resolver's terms: the proxy's
/// default client allow list and every engine's rebinding protection take "the host's own addresses" from here.
/// </summary>
[SupportedOSPlatform("linux")]
public static class HostAddresses
{
    /// <summary>The calling thread's namespace's addresses with their prefix lengths; empty when rtnetlink cannot be read.</summary>
    public static IReadOnlyList<InterfaceAddress> Read() =>
        RtnetlinkClient.TryReadState(out NetworkState? state, out _)
            ? [.. state!.Addresses.Select(a => new InterfaceAddress(a.Address, a.PrefixLength))]
            : [];

    /// <summary>Rebinding protection refusing the special-purpose ranges, the host's own addresses and <paramref name="extra"/> (a jail's).</summary>
    public static RebindingGuard Rebinding(params IEnumerable<IPAddress> extra) =>
        new([.. Read().Select(a => a.Address), .. extra]);
}
