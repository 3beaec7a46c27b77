namespace DnsWarden.Resolver.Cache;

/// <summary>Bounds and TTL rules for <see cref="DnsCache"/>.</summary>
public sealed class DnsCacheOptions
{
    /// <summary>RFC 2181 §8: a TTL is an unsigned 31-bit number.</summary>
    public const uint MaxRfcTtlSeconds = int.MaxValue;

    public int MaxEntries { get; init; } = 10_000;

    /// <summary>Bound on stored bytes (responses, keys and a fixed per-entry overhead).</summary>
    public long MaxBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Lock stripes (rounded up to a power of two). LRU order and bounds hold per stripe.</summary>
    public int ShardCount { get; init; } = 16;

    /// <summary>Ceiling for positive answers.</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromSeconds(MaxRfcTtlSeconds);

    /// <summary>RFC 2308 §5: negative answers are kept at most this long (default 1 h).</summary>
    public TimeSpan MaxNegativeTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>RFC 2308 §5: a negative answer without SOA should not be cached; zero means it is not.</summary>
    public TimeSpan NegativeTtlWithoutSoa { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Serve-stale (RFC 8767): how long past its TTL an answer is kept for <see cref="DnsCache.LookupStale"/>, which
    /// the engine asks only when every upstream failed. Zero (the default) keeps nothing past its TTL.
    /// </summary>
    public TimeSpan StaleWindow { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Prefetch: a hit in the last tenth of an answer's TTL asks the engine to refresh it once
    /// (<see cref="DnsCache.Lookup(ReadOnlySpan{byte}, long, Span{byte}, out int, out bool)"/>), so a name asked often
    /// never expires in front of its askers. Off by default.
    /// </summary>
    public bool Prefetch { get; init; }

    /// <summary>RFC 8767 §4: the TTL a stale answer is given (30 s recommended), so clients ask again soon.</summary>
    public const uint StaleAnswerTtlSeconds = 30;

    /// <summary>RFC 2308 §7.1: SERVFAIL kept at most 5 minutes; default zero, never cached.</summary>
    public TimeSpan ServFailTtl { get; init; } = TimeSpan.Zero;
}
