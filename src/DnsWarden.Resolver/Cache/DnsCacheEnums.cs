namespace DnsWarden.Resolver.Cache;

/// <summary>What <see cref="DnsCache.Store"/> did with a response, and why when it did not keep it.</summary>
public enum DnsCacheStoreResult
{
    Stored,
    MalformedQuery,
    MalformedResponse,
    QuestionMismatch,
    Truncated,
    UncacheableRcode,
    ServFailNotCached,
    NegativeWithoutSoa,
    ZeroTtl,
    TooLarge,
}

/// <summary>Outcome of <see cref="DnsCache.TryAnswer"/>.</summary>
public enum DnsCacheLookupResult
{
    Hit,
    Miss,
    Expired,
    MalformedQuery,
    BufferTooSmall,
}

/// <summary>Counters since the cache was built (<see cref="Entries"/> and <see cref="Bytes"/> are current).</summary>
public readonly record struct DnsCacheStatistics(
    long Hits, long Misses, long Inserts, long Evictions, long Expirations, int Entries, long Bytes);
