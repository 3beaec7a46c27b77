using DnsWarden.Policy;
using DnsWarden.Resolver.Clients;

namespace DnsWarden.Resolver.Listeners;

/// <summary>
/// Who a listener serves and how much of it one client may take (docs/RESOLVER.md, "Clients"). The defaults suit a
/// listener only its own host reaches (the jail's stub, the TUN filter's): everyone allowed, no rate limit;
/// <c>dnsw proxy</c> sets an allow list and a rate limit.
/// </summary>
public sealed record ListenerOptions
{
    public static ListenerOptions Default { get; } = new();

    /// <summary>Clients outside it get REFUSED over UDP and their TCP connections are closed at once; null serves everyone.</summary>
    public ClientAllowList? AllowList { get; init; }

    /// <summary>UDP answers per client prefix; null for no limit. Shared by every listener of a resolver.</summary>
    public ResponseRateLimiter? RateLimit { get; init; }

    /// <summary>Forwarded queries of this listener waiting on upstreams at once; beyond it SERVFAIL at once.</summary>
    public int MaxForwardsInFlight { get; init; } = ProxyConfig.DefaultInFlightPerListener;

    /// <summary>
    /// TCP connections one client address may hold; more are closed on arrival (RFC 7766 §6.2.2 lets a server limit
    /// them). Unlimited by default: only the proxy has clients to share between.
    /// </summary>
    public int MaxConnectionsPerClient { get; init; } = int.MaxValue;

    /// <summary>
    /// DNS over TLS (RFC 7858): the TCP listener's connections are TLS with this certificate (which holds its key),
    /// ALPN "dot" offered; null for plain DNS over TCP. The handshake must finish within the idle timeout.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }
}
