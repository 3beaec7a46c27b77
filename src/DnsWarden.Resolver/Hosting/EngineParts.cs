using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Hosting;

/// <summary>
/// The one place a DNS engine is built from one configuration (docs/RESOLVER.md, "Configuration"): the proxy from its
/// file and flags, the jail's stub and the TUN filter's virtual DNS from the same file (<c>--config</c>) or their
/// defaults. Upstreams, strategy and timeout, cache, tracker TTLs and the forwarding bound come from the
/// <see cref="ProxyConfig"/>; what a plane plugs in is in <see cref="EngineSeams"/>.
/// </summary>
public static class EngineParts
{
    /// <summary>
    /// The engine for <paramref name="config"/> forwarding to <paramref name="routes"/> (<see cref="Routes"/>, the
    /// per-domain upstreams over the pool) when the configuration routes domains, else to <paramref name="pool"/>
    /// (<see cref="Pool"/>; null when nothing is forwarded). The caller keeps and disposes both.
    /// </summary>
    public static DnsEngine Engine(ProxyConfig config, UpstreamPool? pool, DomainForwarder? routes, EngineSeams seams)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(seams);
        return new DnsEngine(new DnsEngineOptions
        {
            Policy = config.Policy,
            DefaultSinkholeV4 = seams.DefaultSinkholeV4,
            Forwarder = (IDnsForwarder?)routes ?? (pool is null ? null : new PoolForwarder(pool)),
            Cache = Cache(config),
            Tracker = new IpTracker(Tracker(config)),
            Exfiltration = seams.Exfiltration,
            QueryLog = seams.QueryLog,
            AnswerObserver = seams.AnswerObserver,
            Rebinding = seams.Rebinding,
            MaxForwardsInFlight = config.InFlightTotal,
            Metrics = seams.Metrics,
            Time = seams.Time,
        });
    }

    /// <summary>The upstreams of <paramref name="config"/> with its strategy and per-attempt timeout; null when there are none.</summary>
    public static UpstreamPool? Pool(ProxyConfig config, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Upstreams.Count == 0)
        {
            return null;
        }

        var upstreams = new List<IDnsUpstream>(config.Upstreams.Count);
        foreach (UpstreamConfig u in config.Upstreams)
        {
            upstreams.Add(UpstreamFactory.Create(u, config.UpstreamTimeout));
        }

        return new UpstreamPool(upstreams, config.Strategy, config.UpstreamTimeout, time);
    }

    /// <summary>
    /// The conditional forwarder for <see cref="ProxyConfig.DomainUpstreams"/> over <paramref name="fallback"/> (the
    /// default pool, which the caller keeps and disposes); null when the configuration routes no domain.
    /// </summary>
    public static DomainForwarder? Routes(ProxyConfig config, UpstreamPool? fallback, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.DomainUpstreams.Count == 0)
        {
            return null;
        }

        return new DomainForwarder(fallback, config.DomainUpstreams.Select(r =>
            (r.Suffix, new UpstreamPool([.. r.Upstreams.Select(u => UpstreamFactory.Create(u, config.UpstreamTimeout))], config.Strategy, config.UpstreamTimeout, time))));
    }

    /// <summary>The IP tracker's TTL floor, ceiling, fixed lifetime and per-name bound from <paramref name="config"/>.</summary>
    public static IpTrackerOptions Tracker(ProxyConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new IpTrackerOptions
        {
            MinTtl = config.TrackerMinTtl,
            MaxTtl = config.TrackerMaxTtl,
            FixedTtl = config.TrackerFixedTtl,
            MaxAddressesPerName = config.TrackerMaxAddressesPerName,
        };
    }

    /// <summary>The answer cache the configuration asks for; null when it is off.</summary>
    public static DnsCache? Cache(ProxyConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.CacheEnabled
            ? new DnsCache(new DnsCacheOptions
            {
                MaxEntries = config.CacheMaxEntries,
                MaxBytes = config.CacheMaxBytes,
                MaxTtl = config.CacheMaxTtl ?? TimeSpan.FromSeconds(DnsCacheOptions.MaxRfcTtlSeconds),
                StaleWindow = config.CacheServeStale,
                Prefetch = config.CachePrefetch,
            })
            : null;
    }
}
