using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Hosting;

/// <summary>
/// The parts of a DNS engine every plane builds the same way from one configuration: the proxy from its file and
/// flags, the jail's stub and the TUN filter's virtual DNS from the same defaults (docs/RESOLVER.md, "Configuration").
/// </summary>
public static class EngineParts
{
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
            })
            : null;
    }
}
