using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Waits until addresses just given to an interface are the host's own. An IPv6 address, even added without
/// duplicate address detection, becomes local only when addrconf's work queue installs its route in the local table
/// after the link came up; a packet to it before that is not delivered, and a socket cannot send from it. Under load
/// that takes milliseconds, so whatever says "ready" waits for it.
/// </summary>
[SupportedOSPlatform("linux")]
public static class LocalAddresses
{
    /// <summary>Polls the calling thread's namespace until every address has its local route; throws after <paramref name="timeout"/>.</summary>
    public static void WaitUntilLocal(IReadOnlyCollection<IPAddress> addresses, TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (!RtnetlinkClient.TryReadState(out NetworkState? state, out string? error))
            {
                throw new IOException("cannot read the routes: " + error);
            }

            IPAddress[] missing = [.. addresses.Where(a => !state!.Routes.Any(r => IsLocalRouteOf(r, a)))];
            if (missing.Length == 0)
            {
                return;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new IOException($"{string.Join(", ", missing.Select(a => a.ToString()))} not usable after {timeout.TotalSeconds:0.#} s (no local route yet)");
            }

            Thread.Sleep(1);
        }
    }

    private static bool IsLocalRouteOf(RouteInfo route, IPAddress address) =>
        route.Table == RouteInfo.TableLocal && route.Type == RouteInfo.TypeLocal && address.Equals(route.Destination)
        && route.DestinationLength == (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32);
}
