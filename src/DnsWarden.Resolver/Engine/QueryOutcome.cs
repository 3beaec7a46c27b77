namespace DnsWarden.Resolver.Engine;

/// <summary>Where a listener got the query from.</summary>
public enum ListenerProtocol : byte
{
    Udp,
    Tcp,

    /// <summary>DNS over TLS (RFC 7858): a TCP stream inside TLS.</summary>
    Tls,

    /// <summary>DNS over HTTPS (RFC 8484): one message per HTTP request.</summary>
    Https,

    /// <summary>A DNS payload handed over from a packet path (the TUN filter) rather than read from a socket.</summary>
    Packet,
}

/// <summary>How the engine dealt with one query (the query log's <c>verdict</c>, the metrics' <c>outcome</c> label).</summary>
public enum QueryOutcome : byte
{
    /// <summary>Answered by an upstream.</summary>
    Forwarded,

    /// <summary>Answered from the cache.</summary>
    Cached,

    /// <summary>Answered from the policy's local records.</summary>
    Local,

    /// <summary>Refused by the policy with NXDOMAIN or REFUSED (block lists, default block, canaries).</summary>
    Blocked,

    /// <summary>Answered with the sinkhole addresses (block action sinkhole, or sinkhole-everything mode).</summary>
    Sinkholed,

    /// <summary>Blocked because the name's base domain scored at or above the exfiltration block threshold.</summary>
    BlockedExfiltration,

    /// <summary>Every upstream failed: the client got SERVFAIL.</summary>
    ServFail,

    /// <summary>Not a query the engine can answer (bad header, no question, a response): FORMERR or NOTIMP when a header was readable.</summary>
    Malformed,

    /// <summary>Nothing was sent back (unreadable header, policy drop, shutting down).</summary>
    Dropped,

    /// <summary>Too many forwarded queries were waiting on upstreams (the listener's or the engine's limit): SERVFAIL at once.</summary>
    Overloaded,

    /// <summary>The client is not on the listener's allow list: REFUSED over UDP, the connection closed over TCP.</summary>
    ClientRefused,

    /// <summary>The client's prefix was over its response rate: dropped, or answered truncated (the slip) so it can retry over TCP.</summary>
    RateLimited,

    /// <summary>Every upstream failed and the cache still held an expired answer within its stale window (RFC 8767): answered with it, TTL 30 s, EDE 3.</summary>
    Stale,
}
