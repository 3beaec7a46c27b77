using DnsWarden.Policy;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// How much the query log may write (docs/RESOLVER.md, "Query log"): repeats folded into one line with a count, and a
/// byte budget beyond which lines are left out and counted in a <c>log_suppressed</c> line. A flood of queries then
/// grows the file by a few megabytes a minute, not by the ~25 MB a second it can be asked to write.
/// </summary>
public sealed record QueryLogLimits
{
    public static QueryLogLimits Default { get; } = new();

    /// <summary>Every line written, nothing folded: the log as it was before limits (tests of the queue, tools that want it all).</summary>
    public static QueryLogLimits None { get; } = new() { BytesPerMinute = 0, AggregationWindow = TimeSpan.Zero };

    /// <summary>Bytes a minute the log may write, with a burst of a quarter of that; 0 for no limit.</summary>
    public long BytesPerMinute { get; init; } = ProxyConfig.DefaultQueryLogBytesPerMinute;

    /// <summary>
    /// Queries with the same client address, name, type, verdict and upstream within this time of the first are one more line
    /// with a <c>count</c>, written when the window closes; zero writes every query.
    /// </summary>
    public TimeSpan AggregationWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>While lines are being left out, a <c>log_suppressed</c> line says how many at most this often (and at the end).</summary>
    public TimeSpan SuppressionReportInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Folded series held open at once; past it the oldest are closed and written early.</summary>
    public int MaxOpenSeries { get; init; } = 4096;

    public long BurstBytes => BytesPerMinute / 4;

    internal bool Limits => BytesPerMinute > 0 || AggregationWindow > TimeSpan.Zero;
}
