using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;

namespace DnsWarden.Resolver.Hosting;

/// <summary>
/// The parts of a DNS engine every plane builds the same way from one configuration: the proxy from its file and
/// flags, the jail's stub and the TUN filter's virtual DNS from the same defaults (docs/RESOLVER.md, "Configuration").
/// </summary>
public static class EngineParts
{
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
