using System.Diagnostics.CodeAnalysis;
using System.Globalization;
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

    /// <summary>The words <see cref="QueryLogPrivacy"/> takes, as the leak detector's <c>--privacy</c>.</summary>
    public static IReadOnlyList<string> PrivacyLevels { get; } = ["full", "redacted", "minimal"];

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

    /// <summary>
    /// The checks that hold across fields, for a configuration built in code or from flags as well as one read from a
    /// file (the file reader reports most of them at their token first). Empty when the configuration can run.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Listen.Count == 0)
        {
            problems.Add("listen: at least one address is needed (e.g. 127.0.0.1:53)");
        }

        var listen = new HashSet<IPEndPoint>();
        foreach (IPEndPoint endPoint in Listen)
        {
            if (!listen.Add(endPoint))
            {
                problems.Add($"listen: {Format(endPoint)} is listed twice");
            }
        }

        if (MetricsListen is not null && listen.Contains(MetricsListen))
        {
            // Both would bind the same TCP port.
            problems.Add($"metrics.listen: {Format(MetricsListen)} is also a DNS listening address");
        }

        if (Upstreams.Count == 0 && Policy.Mode != ResolverMode.SinkholeAll)
        {
            problems.Add("upstreams: at least one upstream is needed unless the policy sinkholes everything");
        }

        for (int i = 0; i < Upstreams.Count; i++)
        {
            if (Upstreams[i].ConnectAddress is null)
            {
                problems.Add($"upstreams[{i}]: '{Upstreams[i].Host}' needs a bootstrap address: the resolver never asks the system resolver");
            }
        }

        if (!PrivacyLevels.Contains(QueryLogPrivacy))
        {
            problems.Add($"query_log.privacy: '{QueryLogPrivacy}' is not valid (expected one of: {string.Join(", ", PrivacyLevels)})");
        }

        if (QueryLogPath is { Length: 0 })
        {
            problems.Add("query_log.path: empty (expected a file path, or - for standard output)");
        }

        if (UpstreamTimeout <= TimeSpan.Zero)
        {
            problems.Add("upstream_timeout: must be above zero");
        }

        if (CacheMaxEntries < 1 || CacheMaxBytes < 1)
        {
            problems.Add("cache: max_entries and max_bytes must be at least 1");
        }

        if (CacheMaxTtl is { } cacheMaxTtl && cacheMaxTtl <= TimeSpan.Zero)
        {
            problems.Add("cache.max_ttl: must be above zero");
        }

        if (TrackerMinTtl < TimeSpan.Zero || (TrackerMaxTtl is { } max && max < TrackerMinTtl))
        {
            problems.Add("ip_tracker: min_ttl must be at least 0 and at most max_ttl");
        }

        if (TrackerMaxAddressesPerName < 1)
        {
            problems.Add("ip_tracker.max_addresses_per_name: must be at least 1");
        }

        if (MaxTcpConnections < 1 || TcpIdleTimeout <= TimeSpan.Zero)
        {
            problems.Add("tcp: max_connections must be at least 1 and idle_timeout above zero");
        }

        return problems;
    }

    /// <summary>
    /// Parses a listening address: <c>IP:PORT</c>, an IPv6 address in brackets (<c>[::1]:53</c>), the port required
    /// (1–65535). IPv4 only as a dotted quad, as in policy files.
    /// </summary>
    public static bool TryParseEndPoint(string text, [NotNullWhen(true)] out IPEndPoint? endPoint, [NotNullWhen(false)] out string? error)
    {
        endPoint = null;
        text ??= "";
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}' is not IP:PORT (expected e.g. [::1]:53: an IPv6 address in brackets, then ':' and the port)";
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
            if (!Profiles.TryParseAddress(host, out IPAddress? v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || host.Contains('.', StringComparison.Ordinal))
            {
                error = $"'{text}': '{host}' is not an IPv6 address";
                return false;
            }
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                error = $"'{text}': an IPv6 address must be in brackets, e.g. [::1]:53";
                return false;
            }

            if (colon < 0)
            {
                error = $"'{text}' has no port (expected IP:PORT such as 127.0.0.1:53)";
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
            if (!Profiles.TryParseAddress(host, out _))
            {
                error = $"'{text}': '{host}' is not an IPv4 address (expected IP:PORT such as 127.0.0.1:53)";
                return false;
            }
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            error = $"'{text}': port '{portText}' is not a number from 1 to 65535";
            return false;
        }

        endPoint = new IPEndPoint(IPAddress.Parse(host), port);
        error = null;
        return true;
    }

    /// <summary>The text <see cref="TryParseEndPoint"/> reads back: <c>127.0.0.1:53</c>, <c>[::1]:53</c>.</summary>
    public static string Format(IPEndPoint endPoint) => endPoint.ToString();
}
