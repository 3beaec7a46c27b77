using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>Prefetch (<c>cache.prefetch</c>): a hit in the last tenth of a TTL refreshes the answer once, in the background.</summary>
public sealed class PrefetchTests
{
    private static async Task<byte[]> Ask(DnsEngine engine, string name)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        int n = await engine.HandleAsync(DnsCacheTests.Query(name), response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        return response.AsSpan(0, n).ToArray();
    }

    private static IReadOnlyList<(string Address, uint Ttl)> Answers(byte[] response) => SharedForwardAndStaleTests.Answers(response);

    private static (DnsEngine Engine, ManualTime Time) Engine(IDnsForwarder upstream, bool prefetch)
    {
        var time = new ManualTime();
        var cache = new DnsCache(new DnsCacheOptions { Prefetch = prefetch });
        return (new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Cache = cache, Time = time }), time);
    }

    [Fact]
    public async Task AHitInTheLastTenthOfTheTtlIsAnsweredFromTheCacheAndRefreshesItOnce()
    {
        var upstream = new CountingForwarder(n => ["198.51.100." + n]);
        (DnsEngine engine, ManualTime time) = Engine(upstream, prefetch: true);
        Assert.Equal([("198.51.100.1", 100u)], Answers(await Ask(engine, "popular.test")));

        // Before the last tenth: plain hits.
        time.Advance(TimeSpan.FromSeconds(89));
        Assert.Equal([("198.51.100.1", 11u)], Answers(await Ask(engine, "popular.test")));
        Assert.Equal(1, upstream.Calls);

        // In it: this asker still gets the cached answer, and one refresh goes upstream.
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal([("198.51.100.1", 9u)], Answers(await Ask(engine, "popular.test")));
        Assert.Equal(2, upstream.Calls);
        Assert.Equal(1, engine.Metrics.Prefetches);

        // The next askers get the refreshed answer with its whole TTL, from the cache.
        Assert.Equal([("198.51.100.2", 100u)], Answers(await Ask(engine, "popular.test")));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([("198.51.100.2", 99u)], Answers(await Ask(engine, "popular.test")));
        Assert.Equal(2, upstream.Calls);
        Assert.Equal(4, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Cached));
    }

    [Fact]
    public async Task AFailedRefreshIsNotRetriedByEveryHit_TheAnswerExpiresAndTheNextAskerForwards()
    {
        var upstream = new CountingForwarder(n => ["198.51.100." + n]);
        (DnsEngine engine, ManualTime time) = Engine(upstream, prefetch: true);
        await Ask(engine, "flaky.test");
        upstream.Down = true;
        time.Advance(TimeSpan.FromSeconds(95));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal([("198.51.100.1", 5u)], Answers(await Ask(engine, "flaky.test")));
        }

        Assert.Equal(2, upstream.Calls);
        Assert.Equal(0, engine.Metrics.Prefetches);
        Assert.Equal(1, engine.Metrics.PrefetchesFailed);

        upstream.Down = false;
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal([("198.51.100.3", 100u)], Answers(await Ask(engine, "flaky.test")));
        Assert.Equal(3, upstream.Calls);
    }

    [Fact]
    public async Task ARefreshedAnswerGoesThroughRebindingProtectionBeforeItIsStored()
    {
        var upstream = new CountingForwarder(n => n == 1 ? ["198.51.100.1"] : ["10.0.0.1", "198.51.100.2"]);
        (DnsEngine engine, ManualTime time) = Engine(upstream, prefetch: true);
        await Ask(engine, "rebind.test");
        time.Advance(TimeSpan.FromSeconds(95));
        await Ask(engine, "rebind.test");
        Assert.Equal(2, upstream.Calls);
        Assert.Equal([("198.51.100.2", 100u)], Answers(await Ask(engine, "rebind.test")));
        Assert.Equal(1, engine.Metrics.RebindingStrips);
    }

    [Fact]
    public async Task WithoutPrefetchAHitNearExpiryAsksNothing()
    {
        var upstream = new CountingForwarder(n => ["198.51.100." + n]);
        (DnsEngine engine, ManualTime time) = Engine(upstream, prefetch: false);
        await Ask(engine, "plain.test");
        time.Advance(TimeSpan.FromSeconds(99));
        Assert.Equal([("198.51.100.1", 1u)], Answers(await Ask(engine, "plain.test")));
        Assert.Equal(1, upstream.Calls);
        Assert.Equal(0, engine.Metrics.Prefetches + engine.Metrics.PrefetchesFailed);
    }

    [Fact]
    public void TheCacheSaysARefreshIsDueOncePerStoredAnswer()
    {
        var cache = new DnsCache(new DnsCacheOptions { Prefetch = true });
        byte[] q = DnsCacheTests.Query("c.test");
        long second = TimeSpan.TicksPerSecond;
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, DnsCacheTests.AnswerA(q, 50, "198.51.100.1"), 0));
        var buffer = new byte[512];

        Assert.Equal(DnsCacheLookupResult.Hit, cache.Lookup(q, 44 * second, buffer, out _, out bool due));
        Assert.False(due);
        Assert.Equal(DnsCacheLookupResult.Hit, cache.Lookup(q, 45 * second, buffer, out _, out due));
        Assert.True(due);
        Assert.Equal(DnsCacheLookupResult.Hit, cache.Lookup(q, 46 * second, buffer, out _, out due));
        Assert.False(due);

        // A new answer stored for the name may be refreshed in its own last tenth.
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, DnsCacheTests.AnswerA(q, 50, "198.51.100.2"), 46 * second));
        Assert.Equal(DnsCacheLookupResult.Hit, cache.Lookup(q, 91 * second, buffer, out _, out due));
        Assert.True(due);
    }

    /// <summary>Answers at once (so a refresh is stored before the hit that started it returns), TTL 100, with the addresses <c>answer(call number)</c> gives; times out while <see cref="Down"/>.</summary>
    private sealed class CountingForwarder(Func<int, string[]> answer) : IDnsForwarder
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public bool Down { get; set; }

        public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            int n = Interlocked.Increment(ref _calls);
            if (Down)
            {
                return ValueTask.FromResult(new ForwardReply(0, "counting://", UpstreamError.Timeout));
            }

            byte[] r = DnsCacheTests.AnswerA(query.ToArray(), 100, answer(n));
            r.CopyTo(response);
            return ValueTask.FromResult(new ForwardReply(r.Length, "counting://", UpstreamError.None));
        }
    }
}
