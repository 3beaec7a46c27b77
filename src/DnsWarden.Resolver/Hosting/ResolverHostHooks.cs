using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Hosting;

/// <summary>What a caller adds to a <see cref="ResolverHost"/> without the resolver knowing what it is (the ClickHouse export).</summary>
public sealed record ResolverHostHooks
{
    /// <summary>Gets every query log entry as well as the configured query log; must not block.</summary>
    public IQueryLog? QueryLog { get; init; }

    /// <summary>Metric families served on /metrics after the engine's own.</summary>
    public Func<IReadOnlyList<MetricFamily>>? Metrics { get; init; }
}
