using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Engine;

/// <summary>
/// Latencies counted into the fixed buckets of <see cref="UpstreamStats.LatencyBucketsMicroseconds"/> (not cumulative;
/// the last bucket is +Inf) with their sum: what the metrics endpoint renders as a histogram. Interlocked, no locks.
/// </summary>
internal sealed class LatencyHistogram
{
    private readonly long[] _buckets = new long[UpstreamStats.LatencyBucketsMicroseconds.Length + 1];
    private long _sumMicroseconds;

    public long SumMicroseconds => Volatile.Read(ref _sumMicroseconds);

    public long Bucket(int index) => Volatile.Read(ref _buckets[index]);

    public void Record(long microseconds)
    {
        Interlocked.Add(ref _sumMicroseconds, microseconds);
        long[] bounds = UpstreamStats.LatencyBucketsMicroseconds;
        int i = 0;
        while (i < bounds.Length && microseconds > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _buckets[i]);
    }
}
