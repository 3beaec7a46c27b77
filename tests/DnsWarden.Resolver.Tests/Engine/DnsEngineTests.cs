using System.Text;
using DnsWarden.Indicators;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Engine;

[Collection(MemoryMeasurementCollection.Name)]
public sealed class DnsEngineTests
{
    private static ResolverPolicy Policy(string json)
    {
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "p.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        return p!;
    }

    private static byte[] QueryNoEdns(string name, DnsType type = DnsType.A, ushort id = 0x2222)
    {
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buf, id, name, type, true, null, out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    private static async Task<byte[]> Ask(DnsEngine engine, byte[] query, ListenerProtocol protocol = ListenerProtocol.Udp)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        int n = await engine.HandleAsync(query, response, protocol, null, TestContext.Current.CancellationToken);
        return response.AsSpan(0, n).ToArray();
    }

    private static DnsRcode Rcode(byte[] message) => (DnsRcode)(message[3] & 0x0F);

    [Fact]
    public async Task BlockedNameNeverReachesTheForwarder()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.11"));
        var engine = new DnsEngine(new DnsEngineOptions { Policy = Policy("""{ "block": ["bad.test"], "default_action": "allow" }"""), Forwarder = upstream });

        byte[] r = await Ask(engine, DnsCacheTests.Query("x.bad.test"));
        Assert.Equal(DnsRcode.NxDomain, Rcode(r));
        Assert.Equal(0, upstream.Calls);
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Blocked));
    }

    [Fact]
    public async Task ForwardedAnswerIsTrackedAndCachedBeforeItIsReleased()
    {
        var tracker = new IpTracker();
        var cache = new DnsCache();
        bool trackedWhenForwarderReturned = false;
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "198.51.100.23", "2001:db8::5"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Tracker = tracker, Cache = cache });

        byte[] r = await Ask(engine, DnsCacheTests.Query("www.example.test", id: 7));
        trackedWhenForwarderReturned = tracker.Contains(IpAddr.Parse("198.51.100.23"), engine.NowTicks);
        Assert.True(trackedWhenForwarderReturned);
        Assert.True(tracker.Contains(IpAddr.Parse("2001:db8::5"), engine.NowTicks));
        Assert.Equal(7, r[0] << 8 | r[1]);

        byte[] again = await Ask(engine, DnsCacheTests.Query("WWW.example.test", id: 9));
        Assert.Equal(9, again[0] << 8 | again[1]);
        Assert.Equal(1, upstream.Calls);
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Cached));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Forwarded));
    }

    [Fact]
    public async Task EveryUpstreamFailingGivesServFailNeverSilence()
    {
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = new FakeForwarder(null, UpstreamError.Timeout) });
        byte[] r = await Ask(engine, DnsCacheTests.Query("a.test"));
        Assert.Equal(DnsRcode.ServFail, Rcode(r));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.ServFail));
    }

    [Fact]
    public async Task NoForwarderGivesServFail()
    {
        var engine = new DnsEngine(new DnsEngineOptions());
        Assert.Equal(DnsRcode.ServFail, Rcode(await Ask(engine, DnsCacheTests.Query("a.test"))));
    }

    [Fact]
    public async Task AReplyToAnotherQuestionIsNotPassedOn()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(DnsCacheTests.Query("other.test", id: (ushort)(q[0] << 8 | q[1])), 60, "198.51.100.99"));
        var tracker = new IpTracker();
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Tracker = tracker });
        Assert.Equal(DnsRcode.ServFail, Rcode(await Ask(engine, DnsCacheTests.Query("a.test"))));
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public async Task LargeAnswerIsTruncatedForUdpButWholeOverTcp()
    {
        string[] many = [.. Enumerable.Range(1, 60).Select(i => "203.0.113." + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, many));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        byte[] q = QueryNoEdns("big.test");

        byte[] udp = await Ask(engine, q, ListenerProtocol.Udp);
        Assert.True(udp.Length <= 512);
        Assert.NotEqual(0, udp[2] & 0x02); // TC
        var reader = new DnsMessageReader(udp);
        Assert.True(reader.TryReadHeader(out DnsHeader h));
        Assert.Equal(0, h.AnswerCount);
        Assert.True(reader.TryReadQuestion(out DnsQuestion question));
        Assert.True(question.Name.EqualsAscii("big.test"));

        // TCP, DoT and DoH carry whole messages: nothing is cut.
        foreach (ListenerProtocol stream in (ListenerProtocol[])[ListenerProtocol.Tcp, ListenerProtocol.Tls, ListenerProtocol.Https])
        {
            byte[] whole = await Ask(engine, q, stream);
            Assert.Equal(0, whole[2] & 0x02);
            Assert.True(whole.Length > 512, stream.ToString());
        }

        // With EDNS 1232 the same answer (60 × 16 B + header) fits.
        byte[] edns = await Ask(engine, DnsCacheTests.Query("big.test"), ListenerProtocol.Udp);
        Assert.Equal(0, edns[2] & 0x02);
    }

    [Fact]
    public async Task ReloadTakesEffectOnTheNextQuery()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.11"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        Assert.Equal(DnsRcode.NoError, Rcode(await Ask(engine, DnsCacheTests.Query("a.test"))));
        engine.Reload(Policy("""{ "block": ["a.test"], "block_action": "refused", "default_action": "allow" }"""));
        Assert.Equal(DnsRcode.Refused, Rcode(await Ask(engine, DnsCacheTests.Query("a.test"))));
    }

    [Fact]
    public async Task SinkholeAddressesAreNotTrackedLocalOnesAre()
    {
        var tracker = new IpTracker();
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = Policy("""{ "mode": "sinkhole-all", "local_records": [ { "name": "svc.lan", "type": "A", "value": "10.7.7.7" } ] }"""),
            Tracker = tracker,
        });
        byte[] sink = await Ask(engine, DnsCacheTests.Query("anything.test"));
        Assert.Equal(DnsRcode.NoError, Rcode(sink));
        Assert.False(tracker.Contains(IpAddr.Parse("6.6.6.6"), engine.NowTicks));
        await Ask(engine, DnsCacheTests.Query("svc.lan"));
        Assert.True(tracker.Contains(IpAddr.Parse("10.7.7.7"), engine.NowTicks));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Sinkholed));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Local));
    }

    [Fact]
    public async Task ExfiltrationBurstIsBlockedOnceTheScoreReachesTheThreshold()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.11"));
        var log = new ListLog();
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = Policy("""{ "exfiltration": { "block_score": 50 }, "default_action": "allow" }"""),
            Forwarder = upstream,
            Exfiltration = new ExfiltrationScorer(baseDomains: BaseDomains.Fallback),
            QueryLog = log,
        });

        var rng = new Random(5);
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for (int i = 0; i < 60; i++)
        {
            string label = new([.. Enumerable.Range(0, 50).Select(_ => Alphabet[rng.Next(Alphabet.Length)])]);
            await Ask(engine, DnsCacheTests.Query(label + ".tunnel.test"));
        }

        Assert.InRange(upstream.Calls, 1, 30);
        Assert.Equal(60 - upstream.Calls, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.BlockedExfiltration));
        QueryLogEntry last = log.Entries[^1];
        Assert.Equal(QueryOutcome.BlockedExfiltration, last.Outcome);
        Assert.True(last.ExfiltrationScore >= 50);

        // An ordinary name elsewhere is untouched.
        Assert.Equal(DnsRcode.NoError, Rcode(await Ask(engine, DnsCacheTests.Query("www.example.org"))));
    }

    [Fact]
    public async Task QueryLogEntryCarriesWhatHappened()
    {
        var log = new ListLog();
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.23"), url: "udp://10.0.0.1");
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, QueryLog = log });
        await engine.HandleAsync(DnsCacheTests.Query("www.example.test", DnsType.A), new byte[DnsEngine.MaxMessageSize], ListenerProtocol.Tcp,
            new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.0.0.9"), 4000), TestContext.Current.CancellationToken);
        QueryLogEntry e = Assert.Single(log.Entries);
        Assert.Equal("www.example.test", e.QName);
        Assert.Equal("A", e.QType);
        Assert.Equal(QueryOutcome.Forwarded, e.Outcome);
        Assert.Equal("NOERROR", e.Rcode);
        Assert.Equal(["198.51.100.23"], e.Answers);
        Assert.Equal("udp://10.0.0.1", e.Upstream);
        Assert.Equal("10.0.0.9:4000", e.Client);
        Assert.Equal(ListenerProtocol.Tcp, e.Protocol);
    }

    [Fact]
    public async Task ResponsesAndRuntsGetNothingBrokenQueriesGetFormErr()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.11"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        byte[] q = DnsCacheTests.Query("a.test");
        byte[] asResponse = DnsCacheTests.AnswerA(q, 60, "198.51.100.11");
        Assert.Empty(await Ask(engine, asResponse));
        Assert.Empty(await Ask(engine, [1, 2, 3]));
        byte[] cut = q[..(q.Length - 3)];
        Assert.Equal(DnsRcode.FormErr, Rcode(await Ask(engine, cut)));
        Assert.Equal(0, upstream.Calls);
    }

    [Fact]
    public async Task CacheHitAllocatesNothing()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "198.51.100.23"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Cache = new DnsCache(), Tracker = new IpTracker() });
        byte[] q = DnsCacheTests.Query("hot.test");
        var response = new byte[DnsEngine.MaxMessageSize];
        await engine.HandleAsync(q, response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        for (int i = 0; i < 100; i++)
        {
            Assert.True(engine.HandleAsync(q, response, ListenerProtocol.Udp, null).IsCompletedSuccessfully);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            ValueTask<int> done = engine.HandleAsync(q, response, ListenerProtocol.Udp, null);
            Assert.True(done.IsCompletedSuccessfully);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class ListLog : IQueryLog
    {
        public List<QueryLogEntry> Entries { get; } = [];

        public void Write(QueryLogEntry entry)
        {
            lock (Entries)
            {
                Entries.Add(entry);
            }
        }
    }
}

/// <summary>A forwarder for tests of the engine alone: answers with what the function builds, or fails.</summary>
internal sealed class FakeForwarder(Func<byte[], int, byte[]>? answer, UpstreamError error = UpstreamError.None, string url = "fake://")
    : IDnsForwarder
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        int call = Interlocked.Increment(ref _calls);
        if (answer is null)
        {
            return ValueTask.FromResult(new ForwardReply(0, url, error));
        }

        byte[] r = answer(query.ToArray(), call);
        r.CopyTo(response);
        return ValueTask.FromResult(new ForwardReply(r.Length, url, UpstreamError.None));
    }
}
