using System.Net;

namespace DnsWarden.Policy;

/// <summary>How several upstreams share the work.</summary>
public enum UpstreamStrategy
{
    /// <summary>The healthiest upstream first (in the order written among equals); the next one when it fails.</summary>
    Failover,

    /// <summary>The two fastest healthy upstreams at once; the first good answer wins and the other is cancelled.</summary>
    Race,
}

/// <summary>
/// The DNS engine's configuration: what <c>dnsw proxy --config FILE</c> reads (docs/RESOLVER.md, "Configuration"),
/// and what the jail and the TUN filter build in code. Every field has a default a careful user would pick.
/// </summary>
public sealed record ProxyConfig
{
    public const int DefaultCacheEntries = 10_000;
    public const long DefaultCacheBytes = 16L * 1024 * 1024;
    public const int DefaultMaxTcpConnections = 1024;

    public static TimeSpan DefaultUpstreamTimeout { get; } = TimeSpan.FromSeconds(2);

    public static TimeSpan DefaultTcpIdleTimeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>Addresses and ports to answer on, UDP and TCP each (default 127.0.0.1:53 and [::1]:53).</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [new(IPAddress.Loopback, 53), new(IPAddress.IPv6Loopback, 53)];

    /// <summary>Where forwarded queries go; empty is allowed only when the policy never forwards (sinkhole mode).</summary>
    public IReadOnlyList<UpstreamConfig> Upstreams { get; init; } = [];

    public UpstreamStrategy Strategy { get; init; } = UpstreamStrategy.Failover;

    /// <summary>How long one attempt at one upstream may take before the next is tried.</summary>
    public TimeSpan UpstreamTimeout { get; init; } = DefaultUpstreamTimeout;

    public bool CacheEnabled { get; init; } = true;

    public int CacheMaxEntries { get; init; } = DefaultCacheEntries;

    public long CacheMaxBytes { get; init; } = DefaultCacheBytes;

    /// <summary>Upper bound on how long a cached answer lives, whatever its TTL says (null: the TTL decides).</summary>
    public TimeSpan? CacheMaxTtl { get; init; }

    /// <summary>IP tracker: lowest TTL an address is kept for.</summary>
    public TimeSpan TrackerMinTtl { get; init; } = TimeSpan.Zero;

    /// <summary>IP tracker: highest TTL an address is kept for (null: none).</summary>
    public TimeSpan? TrackerMaxTtl { get; init; }

    /// <summary>IP tracker: one fixed lifetime for every address instead of the answer's TTL (the seeds' 5 minutes).</summary>
    public TimeSpan? TrackerFixedTtl { get; init; }

    public int TrackerMaxAddressesPerName { get; init; } = 64;

    /// <summary>A file to append the query log to as JSON lines (<c>-</c> for standard output); null for none.</summary>
    public string? QueryLogPath { get; init; }

    /// <summary><c>full</c>, <c>redacted</c> (default) or <c>minimal</c>, as the leak detector's events.</summary>
    public string QueryLogPrivacy { get; init; } = "redacted";

    /// <summary>Where to serve <c>GET /metrics</c> (Prometheus text and OpenMetrics); null for no endpoint.</summary>
    public IPEndPoint? MetricsListen { get; init; }

    public int MaxTcpConnections { get; init; } = DefaultMaxTcpConnections;

    public TimeSpan TcpIdleTimeout { get; init; } = DefaultTcpIdleTimeout;

    /// <summary>The policy file this configuration names (resolved against the configuration's directory), reread on reload.</summary>
    public string? PolicyPath { get; init; }

    /// <summary>The policy in force: read from <see cref="PolicyPath"/>, written inline under <c>policy</c>, or the default.</summary>
    public ResolverPolicy Policy { get; init; } = ResolverPolicy.Default;

    /// <summary>Where this configuration came from (a file path, or "flags").</summary>
    public string Source { get; init; } = "default";
}
