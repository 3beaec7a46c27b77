using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Hosting;

/// <summary>What a caller adds to a <see cref="ResolverHost"/> without the resolver knowing what it is (the ClickHouse export, how files are opened).</summary>
public sealed record ResolverHostHooks
{
    /// <summary>Gets every query log entry as well as the configured query log; must not block.</summary>
    public IQueryLog? QueryLog { get; init; }

    /// <summary>Opens the query log file for appending (the CLI opens it as the invoking user, never through a link); by default a plain <see cref="FileStream"/>.</summary>
    public Func<string, Stream>? OpenLogFile { get; init; }

    /// <summary>Metric families served on /metrics after the engine's own.</summary>
    public Func<IReadOnlyList<MetricFamily>>? Metrics { get; init; }
}
