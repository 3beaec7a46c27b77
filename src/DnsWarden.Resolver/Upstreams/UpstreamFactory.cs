using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>Makes the upstream a configuration names.</summary>
public static class UpstreamFactory
{
    /// <summary>
    /// The upstream for <paramref name="config"/>, each exchange bounded by <paramref name="timeout"/>. A host name
    /// without a bootstrap address is refused: the resolver never asks the system resolver to look it up.
    /// </summary>
    /// <exception cref="ArgumentException">No address to connect to, or an unreadable CA file.</exception>
    public static IDnsUpstream Create(UpstreamConfig config, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        if (config.ConnectAddress is null)
        {
            throw new ArgumentException(
                $"upstream '{config.Url}': '{config.Host}' is a host name and no bootstrap address was given; "
                + "the resolver never looks names up through the system resolver, so give the server's IP address as bootstrap",
                nameof(config));
        }

        return config.Protocol switch
        {
            UpstreamProtocol.Udp => new UdpUpstream(config, timeout),
            UpstreamProtocol.Tcp => new TcpUpstream(config, timeout),
            UpstreamProtocol.Tls => new TlsUpstream(config, timeout),
            UpstreamProtocol.Https => new HttpsUpstream(config, timeout),
            _ => throw new ArgumentException($"upstream '{config.Url}': unknown protocol {config.Protocol}", nameof(config)),
        };
    }
}
