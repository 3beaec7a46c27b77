using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>In-flight de-duplication (one upstream query for N identical client queries) and serve-stale (RFC 8767).</summary>
public sealed class SharedForwardAndStaleTests
{
    private static DnsRcode Rcode(byte[] message) => (DnsRcode)(message[3] & 0x0F);

    private static ushort Id(byte[] message) => (ushort)(message[0] << 8 | message[1]);

    private static async Task<byte[]> Ask(DnsEngine engine, byte[] query)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        int n = await engine.HandleAsync(query, response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        return response.AsSpan(0, n).ToArray();
    }

    /// <summary>The Extended DNS Error INFO-CODE of a response, or null.</summary>
    private static int? ExtendedError(byte[] response)
    {
        var reader = new DnsMessageReader(response);
        Assert.True(reader.TryReadHeader(out _));
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT && r.TryReadOpt(out DnsOpt opt) && opt.Options.TryGet((ushort)EdnsOptionCode.ExtendedDnsError, out ReadOnlySpan<byte> ede))
            {
                return ede[0] << 8 | ede[1];
            }
        }

        return null;
    }

    /// <summary>The answer section's addresses with their TTLs.</summary>
    internal static IReadOnlyList<(string Address, uint Ttl)> Answers(byte[] response)
    {
        var list = new List<(string, uint)>();
        var reader = new DnsMessageReader(response);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer && r.TryReadAddress(out IpAddr a))
            {
                list.Add((a.ToString(), r.Ttl));
            }
        }

        return list;
    }

    [Fact]
    public async Task IdenticalQueriesInFlightShareOneUpstreamQueryAndEachGetsItsOwnIdAndCase()
    {
        var upstream = new GatedForwarder();
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        string[] names = ["www.example.test", "WWW.example.test", "www.EXAMPLE.test", "Www.Example.Test"];
        Task<byte[]>[] asked = [.. names.Select((n, i) => Ask(engine, DnsCacheTests.Query(n, id: (ushort)(100 + i))))];

        // Every query has reached the engine before the one upstream query is answered.
        await upstream.FirstCall.WaitAsync(TestContext.Current.CancellationToken);
        Assert.All(asked, t => Assert.False(t.IsCompleted));
        upstream.Release(q => DnsCacheTests.AnswerA(q, 60, "198.51.100.7"));
        byte[][] answers = await Task.WhenAll(asked);

        Assert.Equal(1, upstream.Calls);
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(100 + i, Id(answers[i]));
            var reader = new DnsMessageReader(answers[i]);
            Assert.True(reader.TryReadQuestion(out DnsQuestion q));
            Assert.Equal(names[i], q.Name.ToString());
            Assert.Equal([("198.51.100.7", 60u)], Answers(answers[i]));
        }

        Assert.Equal(names.Length, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Forwarded));
    }

    [Fact]
    public async Task QueriesThatDifferInTypeOrDnssecOkAreNotShared()
    {
        var upstream = new GatedForwarder();
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        Task<byte[]> a = Ask(engine, DnsCacheTests.Query("x.test", DnsType.A));
        await upstream.FirstCall.WaitAsync(TestContext.Current.CancellationToken);
        Task<byte[]> aaaa = Ask(engine, DnsCacheTests.Query("x.test", DnsType.AAAA));
        Task<byte[]> dnssec = Ask(engine, DnsCacheTests.Query("x.test", DnsType.A, dnssecOk: true));
        upstream.Release(q => DnsCacheTests.Respond(q, DnsRcode.NoError, (ref DnsMessageWriter _) => { }));
        await Task.WhenAll(a, aaaa, dnssec);
        Assert.Equal(3, upstream.Calls);
    }

    [Fact]
    public async Task WhenTheSharedQueryFailsEveryJoinerGetsServFailAndNoSecondUpstreamQuery()
    {
        var upstream = new GatedForwarder();
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        Task<byte[]>[] asked = [.. Enumerable.Range(0, 3).Select(i => Ask(engine, DnsCacheTests.Query("down.test", id: (ushort)i)))];
        await upstream.FirstCall.WaitAsync(TestContext.Current.CancellationToken);
        upstream.Fail(UpstreamError.Timeout);
        byte[][] answers = await Task.WhenAll(asked);
        Assert.All(answers, r => Assert.Equal(DnsRcode.ServFail, Rcode(r)));
        Assert.Equal(1, upstream.Calls);

        // The next query is not stuck behind the finished one: it asks the upstream again.
        upstream.Reset();
        Task<byte[]> later = Ask(engine, DnsCacheTests.Query("down.test"));
        await upstream.FirstCall.WaitAsync(TestContext.Current.CancellationToken);
        upstream.Release(q => DnsCacheTests.AnswerA(q, 60, "198.51.100.8"));
        Assert.Equal([("198.51.100.8", 60u)], Answers(await later));
    }

    [Fact]
    public async Task WithEveryUpstreamDown_AnExpiredAnswerIsServedStaleWithTtl30AndEde3_OthersGetServFail()
    {
        var time = new ManualTime();
        var cache = new DnsCache(new DnsCacheOptions { StaleWindow = TimeSpan.FromHours(1) });
        bool down = false;
        var upstream = new SwitchForwarder(() => down, q => DnsCacheTests.AnswerA(q, 60, "198.51.100.9"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Cache = cache, Time = time });

        Assert.Equal([("198.51.100.9", 60u)], Answers(await Ask(engine, DnsCacheTests.Query("kept.test"))));
        down = true;
        time.Advance(TimeSpan.FromSeconds(61));

        byte[] stale = await Ask(engine, DnsCacheTests.Query("kept.test", id: 77));
        Assert.Equal(DnsRcode.NoError, Rcode(stale));
        Assert.Equal(77, Id(stale));
        Assert.Equal([("198.51.100.9", DnsCacheOptions.StaleAnswerTtlSeconds)], Answers(stale));
        Assert.Equal((int)DnsExtendedError.StaleAnswer, ExtendedError(stale));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Stale));

        // Never seen: SERVFAIL, never an answer from elsewhere.
        byte[] unknown = await Ask(engine, DnsCacheTests.Query("never.test"));
        Assert.Equal(DnsRcode.ServFail, Rcode(unknown));
        Assert.Empty(Answers(unknown));

        // Past the stale window the answer is gone too.
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(DnsRcode.ServFail, Rcode(await Ask(engine, DnsCacheTests.Query("kept.test"))));

        // The upstream back: a fresh answer, not the stale one.
        down = false;
        Assert.Equal([("198.51.100.9", 60u)], Answers(await Ask(engine, DnsCacheTests.Query("kept.test"))));
    }

    [Fact]
    public async Task WithoutAStaleWindowAnExpiredAnswerIsNeverServed()
    {
        var time = new ManualTime();
        bool down = false;
        var upstream = new SwitchForwarder(() => down, q => DnsCacheTests.AnswerA(q, 60, "198.51.100.9"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Cache = new DnsCache(), Time = time });
        await Ask(engine, DnsCacheTests.Query("kept.test"));
        down = true;
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(DnsRcode.ServFail, Rcode(await Ask(engine, DnsCacheTests.Query("kept.test"))));
        Assert.Equal(0, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Stale));
    }

    [Fact]
    public void TheCacheKeepsAnExpiredEntryForItsStaleWindowOnly()
    {
        var cache = new DnsCache(new DnsCacheOptions { StaleWindow = TimeSpan.FromSeconds(100) });
        byte[] q = DnsCacheTests.Query("s.test");
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, DnsCacheTests.AnswerA(q, 10, "198.51.100.1"), 0));
        var buffer = new byte[512];
        long second = TimeSpan.TicksPerSecond;

        Assert.Equal(DnsCacheLookupResult.Expired, cache.Lookup(q, 11 * second, buffer, out _));
        Assert.Equal(0, cache.Sweep(50 * second));
        Assert.Equal(DnsCacheLookupResult.Hit, cache.LookupStale(q, 109 * second, buffer, out int n));
        Assert.Equal([("198.51.100.1", DnsCacheOptions.StaleAnswerTtlSeconds)], Answers(buffer[..n]));
        Assert.Equal(DnsCacheLookupResult.Miss, cache.LookupStale(q, 110 * second, buffer, out _));
        Assert.Equal(1, cache.Sweep(110 * second));
    }

    [Fact]
    public void AnOptionIsAppendedOnlyToAnOptThatEndsTheMessage()
    {
        byte[] q = DnsCacheTests.Query("e.test");
        byte[] withOpt = DnsCacheTests.AnswerA(q, 10, "198.51.100.1");
        var buffer = new byte[withOpt.Length + 16];
        withOpt.CopyTo(buffer, 0);
        Assert.True(DnsOptEdit.TryAppendExtendedError(buffer, withOpt.Length, DnsExtendedError.StaleAnswer, out int n));
        Assert.Equal(withOpt.Length + 6, n);
        Assert.Equal((int)DnsExtendedError.StaleAnswer, ExtendedError(buffer[..n]));
        Assert.Equal([("198.51.100.1", 10u)], Answers(buffer[..n]));

        // No room, or no OPT: unchanged.
        Assert.False(DnsOptEdit.TryAppendExtendedError(withOpt.AsSpan().ToArray(), withOpt.Length, DnsExtendedError.StaleAnswer, out _));
        var noOptQuery = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(noOptQuery, 1, "e.test", DnsType.A, true, null, out int ql));
        byte[] noOpt = DnsCacheTests.AnswerA(noOptQuery[..ql], 10, "198.51.100.1");
        var b2 = new byte[noOpt.Length + 16];
        noOpt.CopyTo(b2, 0);
        Assert.False(DnsOptEdit.TryAppendExtendedError(b2, noOpt.Length, DnsExtendedError.StaleAnswer, out int same));
        Assert.Equal(noOpt.Length, same);
    }

    /// <summary>Holds every query until the test answers or fails the first one; counts calls.</summary>
    private sealed class GatedForwarder : IDnsForwarder
    {
        private TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<(Func<byte[], byte[]>? Answer, UpstreamError Error)> _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task FirstCall => _first.Task;

        public void Release(Func<byte[], byte[]> answer) => _gate.SetResult((answer, UpstreamError.None));

        public void Fail(UpstreamError error) => _gate.SetResult((null, error));

        public void Reset()
        {
            _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
            _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            byte[] q = query.ToArray();
            Task<(Func<byte[], byte[]>? Answer, UpstreamError Error)> gate = _gate.Task;
            _first.TrySetResult();
            (Func<byte[], byte[]>? answer, UpstreamError error) = await gate.ConfigureAwait(false);
            if (answer is null)
            {
                return new ForwardReply(0, "gated://", error);
            }

            byte[] r = answer(q);
            r.CopyTo(response);
            return new ForwardReply(r.Length, "gated://", UpstreamError.None);
        }
    }

    /// <summary>Answers while <c>down</c> says no; times out while it says yes.</summary>
    private sealed class SwitchForwarder(Func<bool> down, Func<byte[], byte[]> answer) : IDnsForwarder
    {
        public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            if (down())
            {
                return ValueTask.FromResult(new ForwardReply(0, "switch://", UpstreamError.Timeout));
            }

            byte[] r = answer(query.ToArray());
            r.CopyTo(response);
            return ValueTask.FromResult(new ForwardReply(r.Length, "switch://", UpstreamError.None));
        }
    }
}
