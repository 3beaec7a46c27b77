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

    /// <summary>A client's share of the TCP connections: 1,024 idle connections from one address cannot lock the others out.</summary>
    public const int DefaultMaxTcpConnectionsPerClient = 64;

    /// <summary>
    /// Forwarded queries one listener keeps waiting on upstreams at once: some 10 MB of buffers against an upstream
    /// that never answers, while carrying a million queries a second to one answering in a millisecond.
    /// </summary>
    public const int DefaultInFlightPerListener = 1024;

    /// <summary>Over every listener: four listeners' worth.</summary>
    public const int DefaultInFlightTotal = 4 * DefaultInFlightPerListener;

    /// <summary>
    /// UDP answers a second per client prefix (a busy page load is a few dozen queries; loopback is exempt). Beyond it
    /// every <see cref="DefaultRateLimitSlip"/>-th query gets a truncated answer and the rest are dropped.
    /// </summary>
    public const int DefaultRateLimitResponsesPerSecond = 200;

    public const int DefaultRateLimitSlip = 2;

    /// <summary>Per client address: the default allow list is the listeners' own subnets, where one address is one host.</summary>
    public const int DefaultRateLimitV4Prefix = 32;

    /// <summary>A /64 is one host's share of an IPv6 subnet (RFC 7934 hands hosts whole prefixes).</summary>
    public const int DefaultRateLimitV6Prefix = 64;

    /// <summary>The query log's budget: 4 MiB a minute (some 16,000 lines), a few MB a minute under any flood.</summary>
    public const long DefaultQueryLogBytesPerMinute = 4L * 1024 * 1024;

    public static TimeSpan DefaultUpstreamTimeout { get; } = TimeSpan.FromSeconds(2);

    public static TimeSpan DefaultTcpIdleTimeout { get; } = TimeSpan.FromSeconds(10);

    /// <summary>The words <see cref="QueryLogPrivacy"/> takes, as the leak detector's <c>--privacy</c>.</summary>
    public static IReadOnlyList<string> PrivacyLevels { get; } = ["full", "redacted", "minimal"];

    /// <summary>The words <see cref="QueryLogFormat"/> takes: dnsw's JSON, or Elastic Common Schema (docs/ECS.md).</summary>
    public static IReadOnlyList<string> LogFormats { get; } = ["json", "ecs"];

    /// <summary>Addresses and ports to answer on, UDP and TCP each (default 127.0.0.1:53 and [::1]:53).</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [new(IPAddress.Loopback, 53), new(IPAddress.IPv6Loopback, 53)];

    /// <summary>Where forwarded queries go; empty is allowed only when the policy never forwards (sinkhole mode).</summary>
    public IReadOnlyList<UpstreamConfig> Upstreams { get; init; } = [];

    /// <summary>DNS over TLS listeners (RFC 7858, <c>dot.listen</c>, <c>--dot-listen</c>); empty for none.</summary>
    public IReadOnlyList<IPEndPoint> DotListen { get; init; } = [];

    /// <summary>DNS over HTTPS listeners (RFC 8484, <c>doh.listen</c>, <c>--doh-listen</c>) on <c>/dns-query</c>; empty for none.</summary>
    public IReadOnlyList<IPEndPoint> DohListen { get; init; } = [];

    /// <summary>The PEM certificate chain the DoT and DoH listeners present (<c>dot.certificate</c>, <c>--tls-cert</c>).</summary>
    public string? TlsCertificateFile { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertificateFile"/> (<c>dot.key</c>, <c>--tls-key</c>).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>Conditional forwarding: names under a suffix go only to its upstreams (longest suffix wins); the rest to <see cref="Upstreams"/>.</summary>
    public IReadOnlyList<DomainUpstream> DomainUpstreams { get; init; } = [];

    public UpstreamStrategy Strategy { get; init; } = UpstreamStrategy.Failover;

    /// <summary>How long one attempt at one upstream may take before the next is tried.</summary>
    public TimeSpan UpstreamTimeout { get; init; } = DefaultUpstreamTimeout;

    public bool CacheEnabled { get; init; } = true;

    public int CacheMaxEntries { get; init; } = DefaultCacheEntries;

    public long CacheMaxBytes { get; init; } = DefaultCacheBytes;

    /// <summary>Upper bound on how long a cached answer lives, whatever its TTL says (null: the TTL decides).</summary>
    public TimeSpan? CacheMaxTtl { get; init; }

    /// <summary>
    /// Serve-stale (RFC 8767, <c>cache.serve_stale</c>): how long past its TTL an answer is kept to be given, with TTL
    /// 30 s and EDE 3, when every upstream fails; zero (the default) gives SERVFAIL instead.
    /// </summary>
    public TimeSpan CacheServeStale { get; init; } = TimeSpan.Zero;

    /// <summary>Prefetch (<c>cache.prefetch</c>): a hit in the last tenth of an answer's TTL refreshes it from upstream in the background, once.</summary>
    public bool CachePrefetch { get; init; }

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

    /// <summary><c>json</c> (default) or <c>ecs</c>: the vocabulary of the query log's lines.</summary>
    public string QueryLogFormat { get; init; } = "json";

    /// <summary>Where to serve <c>GET /metrics</c> (Prometheus text and OpenMetrics); null for no endpoint.</summary>
    public IPEndPoint? MetricsListen { get; init; }

    public int MaxTcpConnections { get; init; } = DefaultMaxTcpConnections;

    public TimeSpan TcpIdleTimeout { get; init; } = DefaultTcpIdleTimeout;

    /// <summary>TCP connections one client address may hold at once.</summary>
    public int MaxTcpConnectionsPerClient { get; init; } = DefaultMaxTcpConnectionsPerClient;

    /// <summary>
    /// The networks whose clients are answered; null for the default: loopback and each listening address's own subnet
    /// (the subnet read from its interface, or the address alone). Others get REFUSED over UDP, a closed connection over TCP.
    /// </summary>
    public IReadOnlyList<IPNetwork>? AllowClients { get; init; }

    /// <summary>UDP answers a second per client prefix; 0 turns response rate limiting off.</summary>
    public int RateLimitResponsesPerSecond { get; init; } = DefaultRateLimitResponsesPerSecond;

    /// <summary>Every this many queries over the rate one gets a truncated answer (0: all dropped).</summary>
    public int RateLimitSlip { get; init; } = DefaultRateLimitSlip;

    public int RateLimitV4Prefix { get; init; } = DefaultRateLimitV4Prefix;

    public int RateLimitV6Prefix { get; init; } = DefaultRateLimitV6Prefix;

    /// <summary>Forwarded queries waiting on upstreams at once, per listener; beyond it SERVFAIL at once.</summary>
    public int InFlightPerListener { get; init; } = DefaultInFlightPerListener;

    /// <summary>Forwarded queries waiting on upstreams at once, over every listener.</summary>
    public int InFlightTotal { get; init; } = DefaultInFlightTotal;

    /// <summary>
    /// DNS rebinding protection: forwarded answers lose loopback, private, link-local and the host's own addresses
    /// unless the policy's <c>private_answers</c> names the question. Off for the proxy by default: a forwarder on a
    /// LAN serves intranet names with private addresses (docs/DECISIONS.md).
    /// </summary>
    public bool RebindProtection { get; init; }

    /// <summary>Bytes a minute the query log may write (repeats folded first); 0 for no limit.</summary>
    public long QueryLogBytesPerMinute { get; init; } = DefaultQueryLogBytesPerMinute;

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

        foreach ((string name, IReadOnlyList<IPEndPoint> endPoints) in new[] { ("dot", DotListen), ("doh", DohListen) })
        {
            foreach (IPEndPoint endPoint in endPoints)
            {
                if (!listen.Add(endPoint))
                {
                    problems.Add($"{name}.listen: {Format(endPoint)} is also another listening address");
                }
            }

            if (endPoints.Count > 0 && (TlsCertificateFile is null || TlsKeyFile is null))
            {
                problems.Add($"{name}: an encrypted listener needs a certificate and its key ({name}.certificate and {name}.key, or --tls-cert and --tls-key)");
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

        foreach (DomainUpstream route in DomainUpstreams)
        {
            foreach (UpstreamConfig u in route.Upstreams)
            {
                if (u.ConnectAddress is null)
                {
                    problems.Add($"upstream_for.{route.Suffix}: '{u.Host}' needs a bootstrap address: the resolver never asks the system resolver");
                }
            }
        }

        if (!PrivacyLevels.Contains(QueryLogPrivacy))
        {
            problems.Add($"query_log.privacy: '{QueryLogPrivacy}' is not valid (expected one of: {string.Join(", ", PrivacyLevels)})");
        }

        if (!LogFormats.Contains(QueryLogFormat))
        {
            problems.Add($"query_log.format: '{QueryLogFormat}' is not valid (expected one of: {string.Join(", ", LogFormats)})");
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

        if (MaxTcpConnections < 1 || TcpIdleTimeout <= TimeSpan.Zero || MaxTcpConnectionsPerClient < 1)
        {
            problems.Add("tcp: max_connections and max_connections_per_client must be at least 1 and idle_timeout above zero");
        }

        if (RateLimitResponsesPerSecond < 0 || RateLimitSlip < 0 || RateLimitV4Prefix is < 1 or > 32 || RateLimitV6Prefix is < 1 or > 128)
        {
            problems.Add("rate_limit: responses_per_second and slip must be at least 0, ipv4_prefix 1–32, ipv6_prefix 1–128");
        }

        if (InFlightPerListener < 1 || InFlightTotal < 1)
        {
            problems.Add("in_flight: per_listener and total must be at least 1");
        }

        if (QueryLogBytesPerMinute < 0)
        {
            problems.Add("query_log.limit: must be at least 0 (0: no limit)");
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

    /// <summary>
    /// Parses a client network: <c>10.0.0.0/8</c>, <c>fd00::/8</c>, or an address alone (a /32 or /128). Bits past
    /// the prefix must be zero, so <c>10.1.2.3/8</c> is an error naming the network meant.
    /// </summary>
    public static bool TryParseNetwork(string text, out IPNetwork network, [NotNullWhen(false)] out string? error)
    {
        network = default;
        text ??= "";
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? text : text[..slash];
        if (!Profiles.TryParseAddress(host, out IPAddress? address))
        {
            error = $"'{text}' is not a network (expected an address or address/prefix such as 10.0.0.0/8 or fd00::/8)";
            return false;
        }

        int max = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32;
        int prefix = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max))
        {
            error = $"'{text}': the prefix length must be a number from 0 to {max.ToString(CultureInfo.InvariantCulture)}";
            return false;
        }

        IPNetwork masked = Mask(address, prefix);
        if (!masked.BaseAddress.Equals(address))
        {
            error = $"'{text}' has bits set past the prefix (did you mean {masked}?)";
            return false;
        }

        network = masked;
        error = null;
        return true;
    }

    /// <summary>The network of <paramref name="address"/> with the bits past <paramref name="prefixLength"/> cleared.</summary>
    public static IPNetwork Mask(IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int length);
        bytes = bytes[..length];
        for (int bit = prefixLength; bit < length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPNetwork(new IPAddress(bytes), prefixLength);
    }

    /// <summary>Parses the query log's budget: <c>0</c> (no limit), bytes, or a size with KiB, MiB or GiB, per minute.</summary>
    public static bool TryParseLogLimit(string text, out long bytesPerMinute, [NotNullWhen(false)] out string? error)
    {
        text ??= "";
        if ((long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out bytesPerMinute) && bytesPerMinute >= 0)
            || ProxyConfigReader.TryParseSize(text, out bytesPerMinute))
        {
            error = null;
            return true;
        }

        error = $"'{text}' is not a size per minute (expected 0 for no limit, or e.g. 4MiB, 512KiB)";
        return false;
    }

    /// <summary>The text <see cref="TryParseEndPoint"/> reads back: <c>127.0.0.1:53</c>, <c>[::1]:53</c>.</summary>
    public static string Format(IPEndPoint endPoint) => endPoint.ToString();
}
