using System.Net;

namespace DnsWarden.Resolver.Listeners;

internal static class ListenerAddress
{
    /// <summary>
    /// A UDP reply must leave from the address the query was sent to, or the client drops it; a socket bound to the
    /// wildcard cannot promise that on a host with several addresses, so listeners take specific addresses only.
    /// </summary>
    public static void EnsureSpecific(IPEndPoint endpoint)
    {
        if (endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            throw new ArgumentException(
                $"listen address {endpoint} is a wildcard: give each address to answer on (e.g. 127.0.0.1:53 and [::1]:53), so every reply leaves from the address its query was sent to",
                nameof(endpoint));
        }
    }
}
