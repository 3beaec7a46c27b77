using System.Globalization;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// How long answers were held for their addresses to reach the kernel: 1 µs buckets to 2 ms, 1 ms buckets to 1 s
/// beyond, counted with Interlocked (no locks on the answer path), read as percentiles at exit.
/// </summary>
public sealed class HoldTimes
{
    private const int FineBuckets = 2000;
    private const int CoarseBuckets = 1000;
    private readonly long[] _fine = new long[FineBuckets];
    private readonly long[] _coarse = new long[CoarseBuckets + 1];
    private long _count;
    private long _maxTicks;

    public long Count => Interlocked.Read(ref _count);

    public void Record(TimeSpan held)
    {
        long micros = Math.Max(0, (long)held.TotalMicroseconds);
        if (micros < FineBuckets)
        {
            Interlocked.Increment(ref _fine[micros]);
        }
        else
        {
            Interlocked.Increment(ref _coarse[Math.Min(CoarseBuckets, micros / 1000)]);
        }

        Interlocked.Increment(ref _count);
        long ticks = held.Ticks;
        long max;
        while (ticks > (max = Interlocked.Read(ref _maxTicks)) && Interlocked.CompareExchange(ref _maxTicks, ticks, max) != max)
        {
        }
    }

    /// <summary>The hold at quantile <paramref name="q"/> (0–1), to the bucket's upper edge.</summary>
    public TimeSpan Quantile(double q)
    {
        long total = Count;
        if (total == 0)
        {
            return TimeSpan.Zero;
        }

        long rank = (long)Math.Ceiling(Math.Clamp(q, 0, 1) * total);
        long seen = 0;
        for (int i = 0; i < FineBuckets; i++)
        {
            seen += Interlocked.Read(ref _fine[i]);
            if (seen >= rank && seen > 0)
            {
                return TimeSpan.FromMicroseconds(i + 1);
            }
        }

        for (int i = 0; i <= CoarseBuckets; i++)
        {
            seen += Interlocked.Read(ref _coarse[i]);
            if (seen >= rank)
            {
                return i == CoarseBuckets ? Max : TimeSpan.FromMilliseconds(i + 1);
            }
        }

        return Max;
    }

    public TimeSpan Max => TimeSpan.FromTicks(Interlocked.Read(ref _maxTicks));

    /// <summary>"N answers held: p50 X µs, p99 Y µs, max Z µs", or null when none was.</summary>
    public string? Describe()
    {
        long n = Count;
        return n == 0
            ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"{n} answers held for their addresses: p50 {Quantile(0.5).TotalMicroseconds:F0} µs, p99 {Quantile(0.99).TotalMicroseconds:F0} µs, p99.9 {Quantile(0.999).TotalMicroseconds:F0} µs, max {Max.TotalMicroseconds:F0} µs");
    }
}
