using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// Where the metrics endpoint pulls its figures from at each scrape. Delegates rather than the engine itself, so the
/// cache, the tracker and the upstream list can be wired from whatever owns them (and left out when there is none).
/// </summary>
public sealed class MetricsSnapshotSource
{
    private static readonly Func<DnsCacheStatistics?> s_noCache = static () => null;
    private static readonly Func<IReadOnlyList<IDnsUpstream>> s_noUpstreams = static () => [];

    private readonly Func<DnsCacheStatistics?> _cache;
    private readonly Func<int>? _trackerCount;
    private readonly Func<IReadOnlyList<IDnsUpstream>> _upstreams;
    private readonly Func<IDnsUpstream, bool>? _isUp;
    private readonly Func<IReadOnlyList<MetricFamily>>? _extra;

    /// <param name="metrics">The engine's counters.</param>
    /// <param name="cache">The cache's statistics, or null when the engine runs without a cache (the dnsw_cache_* families are then left out).</param>
    /// <param name="trackerCount">Addresses the IP tracker holds; null leaves dnsw_tracked_addresses out.</param>
    /// <param name="upstreams">The configured upstreams, in order.</param>
    /// <param name="isUp">The health check's view of an upstream; null leaves dnsw_upstream_up out.</param>
    /// <param name="extra">Families from outside the engine (the exporter's), rendered last.</param>
    public MetricsSnapshotSource(
        ResolverMetrics metrics,
        Func<DnsCacheStatistics?>? cache = null,
        Func<int>? trackerCount = null,
        Func<IReadOnlyList<IDnsUpstream>>? upstreams = null,
        Func<IDnsUpstream, bool>? isUp = null,
        Func<IReadOnlyList<MetricFamily>>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        Metrics = metrics;
        _cache = cache ?? s_noCache;
        _trackerCount = trackerCount;
        _upstreams = upstreams ?? s_noUpstreams;
        _isUp = isUp;
        _extra = extra;
    }

    public ResolverMetrics Metrics { get; }

    public bool HasTracker => _trackerCount is not null;

    public bool HasHealth => _isUp is not null;

    public DnsCacheStatistics? CacheStatistics() => _cache();

    public int TrackerCount() => _trackerCount?.Invoke() ?? 0;

    public IReadOnlyList<IDnsUpstream> Upstreams() => _upstreams();

    public bool IsUp(IDnsUpstream upstream) => _isUp?.Invoke(upstream) ?? true;

    public IReadOnlyList<MetricFamily> Extra() => _extra?.Invoke() ?? [];
}
