using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Engine;

/// <summary>
/// The engine's counters for the metrics endpoint (docs/RESOLVER.md, "Metrics"). Interlocked updates, no locks,
/// no allocation: the serving path increments, the endpoint reads.
/// </summary>
public sealed class ResolverMetrics
{
    private static readonly int s_protocols = Enum.GetValues<ListenerProtocol>().Length;
    private static readonly int s_outcomes = Enum.GetValues<QueryOutcome>().Length;

    private readonly long[] _byProtocolAndOutcome = new long[s_protocols * s_outcomes];
    private readonly LatencyHistogram _latency = new();
    private long _inFlight;
    private long _queryLogDropped;
    private long _rebindingStrips;
    private long _prefetches;
    private long _prefetchesFailed;

    /// <summary>When the engine started counting (Unix seconds), for the endpoint's <c>_created</c> samples.</summary>
    public long CreatedUnixSeconds { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public long Count(ListenerProtocol protocol, QueryOutcome outcome) =>
        Volatile.Read(ref _byProtocolAndOutcome[((int)protocol * s_outcomes) + (int)outcome]);

    /// <summary>Queries with <paramref name="outcome"/> from every listener.</summary>
    public long Count(QueryOutcome outcome)
    {
        long total = 0;
        for (int p = 0; p < s_protocols; p++)
        {
            total += Count((ListenerProtocol)p, outcome);
        }

        return total;
    }

    /// <summary>Queries being served right now (waiting on an upstream, mostly).</summary>
    public long InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Query log lines dropped because the writer fell behind (the log is bounded so serving never waits on a disk).</summary>
    public long QueryLogDropped => Volatile.Read(ref _queryLogDropped);

    /// <summary>Forwarded answers from which rebinding protection removed records (private, loopback, own addresses…).</summary>
    public long RebindingStrips => Volatile.Read(ref _rebindingStrips);

    /// <summary>Cached answers refreshed before they expired (<c>cache.prefetch</c>).</summary>
    public long Prefetches => Volatile.Read(ref _prefetches);

    /// <summary>Refreshes that were due but not done: no forward free, no usable upstream reply, or a reply not kept.</summary>
    public long PrefetchesFailed => Volatile.Read(ref _prefetchesFailed);

    /// <summary>Total time from receipt to answer, summed, for answered queries.</summary>
    public long LatencySumMicroseconds => _latency.SumMicroseconds;

    /// <summary>Queries answered with a total time ≤ the bucket's bound (<see cref="UpstreamStats.LatencyBucketsMicroseconds"/>; not cumulative).</summary>
    public long LatencyBucket(int index) => _latency.Bucket(index);

    public void Record(ListenerProtocol protocol, QueryOutcome outcome, long microseconds)
    {
        Interlocked.Increment(ref _byProtocolAndOutcome[((int)protocol * s_outcomes) + (int)outcome]);
        _latency.Record(microseconds);
    }

    /// <summary>Counts a query a listener dealt with before the engine (a refused client, a rate limit): no latency to record.</summary>
    public void Increment(ListenerProtocol protocol, QueryOutcome outcome, int count = 1) =>
        Interlocked.Add(ref _byProtocolAndOutcome[((int)protocol * s_outcomes) + (int)outcome], count);

    public void RecordRebindingStrip() => Interlocked.Increment(ref _rebindingStrips);

    public void RecordPrefetch(bool done) => Interlocked.Increment(ref done ? ref _prefetches : ref _prefetchesFailed);

    public void EnterQuery() => Interlocked.Increment(ref _inFlight);

    public void LeaveQuery() => Interlocked.Decrement(ref _inFlight);

    public void RecordQueryLogDropped() => Interlocked.Increment(ref _queryLogDropped);
}
