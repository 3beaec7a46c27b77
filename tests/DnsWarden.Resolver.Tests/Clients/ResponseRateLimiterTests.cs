using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Clients;

/// <summary>The rate limiter on a clock that moves only when told: counts, not timings.</summary>
public sealed class ResponseRateLimiterTests
{
    private static readonly IpAddr s_flooder = IpAddr.Parse("198.51.100.66");
    private static readonly IpAddr s_neighbour = IpAddr.Parse("198.51.100.67");

    [Fact]
    public void ABurstOfOneSecondsWorthPassesThenEverySlipthIsTruncatedAndTheRestDropped()
    {
        var time = new ManualTime();
        var limiter = new ResponseRateLimiter(10, 2, 32, 64, time);
        int[] seen = Count(limiter, s_flooder, 30);
        Assert.Equal([10, 10, 10], seen); // answered, dropped, slipped

        // A well-behaved neighbour is untouched by the flood.
        Assert.Equal([10, 0, 0], Count(limiter, s_neighbour, 10));
    }

    [Fact]
    public void TheBudgetRefillsAtTheRate()
    {
        var time = new ManualTime();
        var limiter = new ResponseRateLimiter(10, 0, 32, 64, time);
        Assert.Equal([10, 5, 0], Count(limiter, s_flooder, 15));
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal([5, 5, 0], Count(limiter, s_flooder, 10));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([10, 0, 0], Count(limiter, s_flooder, 10)); // never more than a second's worth saved up
    }

    [Fact]
    public void ClientsShareTheBudgetOfTheirPrefix()
    {
        var time = new ManualTime();
        var limiter = new ResponseRateLimiter(10, 0, 24, 56, time);
        Assert.Equal([10, 0, 0], Count(limiter, IpAddr.Parse("203.0.113.1"), 10));
        Assert.Equal([0, 10, 0], Count(limiter, IpAddr.Parse("203.0.113.200"), 10));
        Assert.Equal([10, 0, 0], Count(limiter, IpAddr.Parse("203.0.114.1"), 10));
        Assert.Equal([10, 0, 0], Count(limiter, IpAddr.Parse("2001:db8:0:1::1"), 10));
        Assert.Equal([0, 10, 0], Count(limiter, IpAddr.Parse("2001:db8:0:ff::1"), 10)); // same /56
        Assert.Equal([10, 0, 0], Count(limiter, IpAddr.Parse("2001:db8:0:100::1"), 10));
    }

    [Fact]
    public void LoopbackIsExempt()
    {
        var limiter = new ResponseRateLimiter(1, 0, 32, 64, new ManualTime());
        Assert.Equal([1000, 0, 0], Count(limiter, IpAddr.Parse("127.0.0.1"), 1000));
        Assert.Equal([1000, 0, 0], Count(limiter, IpAddr.Parse("::1"), 1000));
    }

    [Fact]
    public void AFloodOfSpoofedPrefixesPushesOutIdleClientsNotTheBusyFlooder()
    {
        var time = new ManualTime();
        var limiter = new ResponseRateLimiter(10, 0, 32, 64, time);
        Assert.Equal([10, 5, 0], Count(limiter, s_flooder, 15));
        for (int i = 0; i < 100_000; i++)
        {
            limiter.Check(IpAddr.FromV4(0x0A00_0000u + (uint)i));
        }

        // The flooder's slot had the latest arrival time in its bucket: it is still over its rate.
        Assert.Equal(RateVerdict.Drop, limiter.Check(s_flooder));
    }

    /// <summary>[answered, dropped, slipped] for <paramref name="count"/> queries at one instant.</summary>
    private static int[] Count(ResponseRateLimiter limiter, IpAddr client, int count)
    {
        int[] seen = new int[3];
        for (int i = 0; i < count; i++)
        {
            seen[(int)limiter.Check(client)]++;
        }

        return seen;
    }
}
