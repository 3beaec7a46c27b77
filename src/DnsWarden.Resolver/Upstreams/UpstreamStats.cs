using System.Diagnostics;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// What one upstream has done, for health decisions and the metrics endpoint. Counters are updated with
/// interlocked operations; readers see each counter exact but the set of them not as one snapshot.
/// </summary>
public sealed class UpstreamStats
{
    /// <summary>Upper bounds of the latency histogram's buckets, in microseconds (the last bucket is +Inf).</summary>
    public static readonly long[] LatencyBucketsMicroseconds =
        [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000];

    private readonly LatencyHistogram _latency = new();
    private readonly long[] _errors = new long[Enum.GetValues<UpstreamError>().Length];
    private long _queries;
    private long _answers;
    private long _truncatedRetries;

    /// <summary>Exchanges started.</summary>
    public long Queries => Volatile.Read(ref _queries);

    /// <summary>Exchanges that ended with a usable response.</summary>
    public long Answers => Volatile.Read(ref _answers);

    /// <summary>UDP answers that came back truncated and were asked again over TCP.</summary>
    public long TruncatedRetries => Volatile.Read(ref _truncatedRetries);

    /// <summary>Sum of the latencies of answered exchanges.</summary>
    public long LatencySumMicroseconds => _latency.SumMicroseconds;

    public long Failures(UpstreamError error) => Volatile.Read(ref _errors[(int)error]);

    /// <summary>Answered exchanges with latency ≤ the bucket's bound (not cumulative; index Length is +Inf).</summary>
    public long BucketCount(int index) => _latency.Bucket(index);

    public void RecordQuery() => Interlocked.Increment(ref _queries);

    public void RecordTruncatedRetry() => Interlocked.Increment(ref _truncatedRetries);

    public void RecordAnswer(long elapsedTimestampTicks)
    {
        long us = elapsedTimestampTicks * 1_000_000 / Stopwatch.Frequency;
        Interlocked.Increment(ref _answers);
        _latency.Record(us);
    }

    /// <summary>An exchange started at <paramref name="startedTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>) ended with <paramref name="reply"/>.</summary>
    public void RecordOutcome(UpstreamReply reply, long startedTimestamp)
    {
        if (reply.Ok)
        {
            RecordAnswer(Stopwatch.GetTimestamp() - startedTimestamp);
        }
        else
        {
            RecordFailure(reply.Error);
        }
    }

    public void RecordFailure(UpstreamError error) => Interlocked.Increment(ref _errors[(int)error]);
}
