namespace DnsWarden.Resolver.Clients;

/// <summary>What <see cref="ResponseRateLimiter.Check"/> lets a listener send.</summary>
public enum RateVerdict : byte
{
    /// <summary>Within the client's rate: serve the query.</summary>
    Answer,

    /// <summary>Over the rate: send nothing.</summary>
    Drop,

    /// <summary>Over the rate, and this one slips through as a truncated answer (no records, TC set) so a real client retries over TCP.</summary>
    Slip,
}
