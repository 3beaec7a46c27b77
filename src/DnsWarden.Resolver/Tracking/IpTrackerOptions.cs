namespace DnsWarden.Resolver.Tracking;

/// <summary>How long <see cref="IpTracker"/> keeps an address and how many it keeps per name.</summary>
public sealed class IpTrackerOptions
{
    public static readonly TimeSpan DefaultFixedTtl = TimeSpan.FromMinutes(5);

    /// <summary>Lower bound on the answer's TTL (default 0).</summary>
    public TimeSpan MinTtl { get; init; } = TimeSpan.Zero;

    /// <summary>Upper bound on the answer's TTL; null for none.</summary>
    public TimeSpan? MaxTtl { get; init; }

    /// <summary>When set, every address is kept this long whatever its TTL.</summary>
    public TimeSpan? FixedTtl { get; init; }

    /// <summary>Addresses kept per owner name; the oldest is dropped beyond it.</summary>
    public int MaxAddressesPerName { get; init; } = 64;

    /// <summary>Every address kept for <paramref name="ttl"/> (default 5 minutes), ignoring the answer's TTL.</summary>
    public static IpTrackerOptions Fixed(TimeSpan? ttl = null) => new() { FixedTtl = ttl ?? DefaultFixedTtl };
}
