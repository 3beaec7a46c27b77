using System.Net;
using System.Text;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>
/// DNS rebinding protection on crafted answers: every special-purpose range in IPv4 and IPv6 (and IPv4 carried in
/// IPv6), the host's own addresses, CNAME chains, SVCB hints, compression pointers into removed records, and the
/// engine's order — stripped before the tracker, the answer observer and the cache see anything.
/// </summary>
public sealed class RebindingGuardTests
{
    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("0.1.2.3")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.254")]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.255")]
    [InlineData("169.254.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("192.168.255.255")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::7f00:1")]
    [InlineData("fc00::1")]
    [InlineData("fd00::1")]
    [InlineData("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("fe80::1")]
    [InlineData("febf:ffff::1")]
    [InlineData("fec0::1")]
    [InlineData("feff::1")]
    [InlineData("ff02::1")]
    [InlineData("ff05::1:3")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.1.2.3")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::ffff:100.64.1.1")]
    [InlineData("64:ff9b::10.0.0.1")]
    [InlineData("64:ff9b::127.0.0.1")]
    [InlineData("64:ff9b::169.254.169.254")]
    [InlineData("64:ff9b:1::1")]
    public void SpecialPurposeAddressesAreForbidden(string address) =>
        Assert.True(RebindingGuard.IsSpecialPurpose(IpAddr.Parse(address)), address);

    [Theory]
    [InlineData("1.1.1.1")]
    [InlineData("9.255.255.255")]
    [InlineData("11.0.0.0")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.0")]
    [InlineData("126.255.255.255")]
    [InlineData("128.0.0.0")]
    [InlineData("169.253.255.255")]
    [InlineData("169.255.0.0")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.0")]
    [InlineData("192.167.255.255")]
    [InlineData("192.169.0.0")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.80")]
    [InlineData("223.255.255.255")]
    [InlineData("2001:db8::1")]
    [InlineData("2606:4700::1111")]
    [InlineData("fbff:ffff::1")]
    [InlineData("fe7f::1")]
    [InlineData("::1:0:0:1")]
    [InlineData("::ffff:198.51.100.7")]
    [InlineData("64:ff9b::198.51.100.7")]
    public void PublicAddressesAreNot(string address) =>
        Assert.False(RebindingGuard.IsSpecialPurpose(IpAddr.Parse(address)), address);

    [Fact]
    public void TheHostsOwnAddressesAreForbiddenEvenWhenPublic()
    {
        var guard = new RebindingGuard([IPAddress.Parse("198.51.100.10"), IPAddress.Parse("2001:db8::10")]);
        Assert.True(guard.IsForbidden(IpAddr.Parse("198.51.100.10")));
        Assert.True(guard.IsForbidden(IpAddr.Parse("::ffff:198.51.100.10")));
        Assert.True(guard.IsForbidden(IpAddr.Parse("2001:db8::10")));
        Assert.False(guard.IsForbidden(IpAddr.Parse("198.51.100.11")));
        Assert.False(RebindingGuard.Default.IsForbidden(IpAddr.Parse("198.51.100.10")));
    }

    [Fact]
    public void OnlyTheForbiddenRecordsGoTheRestAndTheHeaderStay()
    {
        byte[] query = DnsCacheTests.Query("Mixed.Test", id: 0x4321);
        byte[] answer = DnsCacheTests.AnswerA(query, 60, "10.0.0.1", "198.51.100.7", "fd00::1", "2001:db8::7", "::ffff:127.0.0.1");
        (byte[] stripped, int removed) = Strip(answer);
        Assert.Equal(3, removed);
        Assert.Equal(["198.51.100.7", "2001:db8::7"], Addresses(stripped));
        var reader = new DnsMessageReader(stripped);
        Assert.True(reader.TryReadHeader(out DnsHeader h));
        Assert.Equal(0x4321, h.Id);
        Assert.True(h.IsResponse);
        Assert.Equal(DnsRcode.NoError, h.Rcode);
        Assert.Equal("Mixed.Test", QuestionOf(stripped));
    }

    [Fact]
    public void ACnameChainEndingInAPrivateAddressKeepsTheChainLosesTheAddress()
    {
        byte[] query = DnsCacheTests.Query("www.allowed.test");
        byte[] answer = DnsCacheTests.Respond(query, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            Assert.True(w.TryWriteCname(DnsSection.Answer, "www.allowed.test", 60, "hop.cdn.test"));
            Assert.True(w.TryWriteCname(DnsSection.Answer, "hop.cdn.test", 60, "evil.attacker.test"));
            Assert.True(w.TryWriteA(DnsSection.Answer, "evil.attacker.test", 60, IpAddr.Parse("127.0.0.1")));
            Assert.True(w.TryWriteAaaa(DnsSection.Answer, "evil.attacker.test", 60, IpAddr.Parse("::1")));
        });
        Assert.True(RebindingGuard.Default.HoldsForbidden(answer));
        (byte[] stripped, int removed) = Strip(answer);
        Assert.Equal(2, removed);
        Assert.Empty(Addresses(stripped));
        Assert.Equal(["www.allowed.test CNAME hop.cdn.test", "hop.cdn.test CNAME evil.attacker.test"], Records(stripped));
    }

    [Fact]
    public void NothingLeftIsNoErrorWithAnEmptyAnswerAndABlockedExtendedError()
    {
        byte[] query = DnsCacheTests.Query("meta.test");
        byte[] answer = DnsCacheTests.AnswerA(query, 60, "169.254.169.254");
        (byte[] stripped, _) = Strip(answer);
        var reader = new DnsMessageReader(stripped);
        Assert.True(reader.TryReadHeader(out DnsHeader h));
        Assert.Equal(DnsRcode.NoError, h.Rcode);
        Assert.Equal(0, h.AnswerCount);
        Assert.True(reader.TryReadRecord(out DnsRecord opt));
        Assert.Equal(DnsType.OPT, opt.Type);
        Assert.True(opt.TryReadOpt(out DnsOpt o));
        Assert.True(o.Options.TryGet((ushort)EdnsOptionCode.ExtendedDnsError, out ReadOnlySpan<byte> ede));
        Assert.Equal(new byte[] { 0, 15 }, ede.ToArray()); // RFC 8914 INFO-CODE 15, Blocked
    }

    [Fact]
    public void ARecordWhoseNamePointsIntoARemovedRecordIsReEncoded()
    {
        // The writer compresses the second owner into a pointer at the first one's name: removing the first record
        // must not leave that pointer aimed at whatever comes there now.
        byte[] query = DnsCacheTests.Query("q.test");
        byte[] answer = DnsCacheTests.Respond(query, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            Assert.True(w.TryWriteA(DnsSection.Answer, "deep.name.evil.test", 60, IpAddr.Parse("10.9.9.9")));
            Assert.True(w.TryWriteA(DnsSection.Answer, "deep.name.evil.test", 60, IpAddr.Parse("198.51.100.9")));
            Assert.True(w.TryWriteMx(DnsSection.Authority, "name.evil.test", 60, 10, "mail.name.evil.test"));
            Assert.True(w.TryWriteSoa(DnsSection.Authority, "evil.test", 60, "ns.evil.test", "host.name.evil.test", 1, 2, 3, 4, 5));
        });
        (byte[] stripped, int removed) = Strip(answer);
        Assert.Equal(1, removed);
        Assert.True(DnsMessageReader.TryValidate(stripped, out DnsError error), error.ToString());
        Assert.Equal(
            ["deep.name.evil.test A 198.51.100.9", "name.evil.test MX mail.name.evil.test", "evil.test SOA ns.evil.test host.name.evil.test"],
            Records(stripped));
    }

    [Fact]
    public void SvcbAndHttpsHintsAreAddressesToo()
    {
        byte[] query = DnsCacheTests.Query("svc.test", DnsType.HTTPS);
        byte[] v4Hint = [0, 1, 0, 0, 4, 0, 4, 192, 168, 1, 1];                           // priority 1, target ".", ipv4hint 192.168.1.1
        byte[] v6Hint = [0, 1, 0, 0, 6, 0, 16, 0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // ipv6hint fe80::1
        byte[] clean = [0, 1, 0, 0, 4, 0, 4, 198, 51, 100, 7];                          // ipv4hint 198.51.100.7
        byte[] answer = DnsCacheTests.Respond(query, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            Assert.True(w.TryWriteRecord(DnsSection.Answer, "svc.test", DnsType.HTTPS, DnsClass.IN, 60, v4Hint));
            Assert.True(w.TryWriteRecord(DnsSection.Answer, "svc.test", DnsType.HTTPS, DnsClass.IN, 60, v6Hint));
            Assert.True(w.TryWriteRecord(DnsSection.Answer, "svc.test", DnsType.HTTPS, DnsClass.IN, 60, clean));
        });
        (byte[] stripped, int removed) = Strip(answer);
        Assert.Equal(2, removed);
        var reader = new DnsMessageReader(stripped);
        Assert.True(reader.TryReadRecord(out DnsRecord kept));
        Assert.Equal(DnsType.HTTPS, kept.Type);
        Assert.Equal(clean, kept.Rdata.ToArray());
    }

    [Fact]
    public void GarbageNeverThrowsAndNeverLetsAForbiddenAddressThrough()
    {
        byte[] query = DnsCacheTests.Query("fuzz.test");
        byte[] seed = DnsCacheTests.AnswerA(query, 60, "10.0.0.1", "198.51.100.7", "fd00::1");
        var random = new Random(14);
        var destination = new byte[DnsEngine.MaxMessageSize];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] mutated = (byte[])seed.Clone();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            mutated = mutated[..random.Next(mutated.Length + 1)];
            _ = RebindingGuard.Default.HoldsForbidden(mutated);
            if (RebindingGuard.Default.TryStrip(mutated, destination, out int written, out _))
            {
                Assert.False(RebindingGuard.Default.HoldsForbidden(destination.AsSpan(0, written)));
            }
        }
    }

    // ---- in the engine ----

    [Fact]
    public async Task TheEngineStripsBeforeTheTrackerTheObserverAndTheCacheSeeTheAnswer()
    {
        var tracker = new IpTracker();
        var cache = new DnsCache();
        var observer = new SeenAddresses();
        var log = new EntryLog();
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "10.0.0.1", "198.51.100.7", "169.254.169.254", "fd00::1"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Tracker = tracker, Cache = cache, AnswerObserver = observer, QueryLog = log });

        byte[] first = await Ask(engine, DnsCacheTests.Query("evil.test"));
        byte[] second = await Ask(engine, DnsCacheTests.Query("evil.test"));

        Assert.Equal(["198.51.100.7"], Addresses(first));
        Assert.Equal(["198.51.100.7"], Addresses(second));
        Assert.Equal(1, upstream.Calls); // the second came from the cache, stripped as stored
        Assert.Equal(["198.51.100.7", "198.51.100.7"], observer.Addresses);
        long now = engine.NowTicks;
        Assert.True(tracker.Contains(IpAddr.Parse("198.51.100.7"), now));
        Assert.False(tracker.Contains(IpAddr.Parse("10.0.0.1"), now));
        Assert.False(tracker.Contains(IpAddr.Parse("169.254.169.254"), now));
        Assert.False(tracker.Contains(IpAddr.Parse("fd00::1"), now));
        Assert.Equal(1, engine.Metrics.RebindingStrips);
        Assert.Equal("forwarded; 3 records with private or own addresses removed (rebinding protection)", log.Entries[0].Reason);
    }

    [Fact]
    public async Task PrivateAnswersInThePolicyKeepThemForTheNamesItListsOnly()
    {
        var tracker = new IpTracker();
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "10.1.1.1"));
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = Policy("""{ "private_answers": ["corp.test", "*.lan"] }"""),
            Forwarder = upstream,
            Tracker = tracker,
        });

        Assert.Equal(["10.1.1.1"], Addresses(await Ask(engine, DnsCacheTests.Query("intranet.corp.test"))));
        Assert.Equal(["10.1.1.1"], Addresses(await Ask(engine, DnsCacheTests.Query("printer.lan"))));
        Assert.Empty(Addresses(await Ask(engine, DnsCacheTests.Query("lan"))));                // *.lan: names under it only
        Assert.Empty(Addresses(await Ask(engine, DnsCacheTests.Query("corp.test.evil.test"))));
        Assert.True(tracker.Contains(IpAddr.Parse("10.1.1.1"), engine.NowTicks));
    }

    [Fact]
    public async Task APrivateAnswersNameAsACnameTargetDoesNotOpenTheQuestion()
    {
        // private_answers is about the name the client asked for: an attacker's name pointing at an intranet name
        // does not borrow its permission.
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = Policy("""{ "private_answers": ["corp.test"] }"""),
            Forwarder = new FakeForwarder((q, _) => DnsCacheTests.Respond(q, DnsRcode.NoError, (ref DnsMessageWriter w) =>
            {
                Assert.True(w.TryWriteCname(DnsSection.Answer, "evil.test", 60, "db.corp.test"));
                Assert.True(w.TryWriteA(DnsSection.Answer, "db.corp.test", 60, IpAddr.Parse("10.2.2.2")));
            })),
        });
        Assert.Empty(Addresses(await Ask(engine, DnsCacheTests.Query("evil.test"))));
    }

    [Fact]
    public async Task OffLeavesAnswersAsTheyCame()
    {
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Forwarder = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "10.1.1.1", "127.0.0.1")),
            Rebinding = null,
        });
        Assert.Equal(["10.1.1.1", "127.0.0.1"], Addresses(await Ask(engine, DnsCacheTests.Query("lan.test"))));
        Assert.Equal(0, engine.Metrics.RebindingStrips);
    }

    [Fact]
    public async Task LocalRecordsAreThePolicysOwnAndAreNotStripped()
    {
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = Policy("""{ "local_records": [ { "name": "printer.lan", "type": "A", "value": "192.168.1.9" } ] }"""),
        });
        Assert.Equal(["192.168.1.9"], Addresses(await Ask(engine, DnsCacheTests.Query("printer.lan"))));
    }

    [Fact]
    public async Task ChangingPrivateAnswersOnReloadEmptiesTheCache()
    {
        var cache = new DnsCache();
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 300, "10.1.1.1", "198.51.100.1"));
        var engine = new DnsEngine(new DnsEngineOptions { Policy = Policy("""{ "private_answers": ["corp.test"] }"""), Forwarder = upstream, Cache = cache });
        Assert.Equal(["10.1.1.1", "198.51.100.1"], Addresses(await Ask(engine, DnsCacheTests.Query("db.corp.test"))));
        Assert.Equal(1, cache.Count);

        engine.Reload(Policy("""{ "private_answers": ["corp.test"], "block": ["ads.test"] }"""));
        Assert.Equal(1, cache.Count); // the same private_answers: the cache is still right

        engine.Reload(Policy("{}"));
        Assert.Equal(0, cache.Count);
        Assert.Equal(["198.51.100.1"], Addresses(await Ask(engine, DnsCacheTests.Query("db.corp.test"))));
    }

    // ---- helpers ----

    internal static ResolverPolicy Policy(string json)
    {
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "p.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        return p!;
    }

    private static (byte[] Stripped, int Removed) Strip(byte[] answer)
    {
        var destination = new byte[DnsEngine.MaxMessageSize];
        Assert.True(RebindingGuard.Default.TryStrip(answer, destination, out int written, out int removed));
        return (destination[..written], removed);
    }

    internal static string[] Addresses(byte[] message)
    {
        var list = new List<string>();
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer && r.TryReadAddress(out IpAddr a))
            {
                list.Add(a.ToString());
            }
        }

        return [.. list];
    }

    private static string QuestionOf(byte[] message)
    {
        var reader = new DnsMessageReader(message);
        Assert.True(reader.TryReadQuestion(out DnsQuestion q));
        return q.Name.ToString();
    }

    /// <summary>"owner TYPE data" for each record but OPT, names read through the message's pointers.</summary>
    private static string[] Records(byte[] message)
    {
        var list = new List<string>();
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            string data = r.Type switch
            {
                DnsType.A or DnsType.AAAA when r.TryReadAddress(out IpAddr a) => a.ToString(),
                DnsType.CNAME when r.TryReadName(out DnsName n) => n.ToString(),
                DnsType.MX when r.TryReadMx(out DnsMx mx) => mx.Exchange.ToString(),
                DnsType.SOA when r.TryReadSoa(out DnsSoa soa) => soa.PrimaryServer.ToString() + " " + soa.ResponsibleMailbox.ToString(),
                _ => "?",
            };
            if (r.Type != DnsType.OPT)
            {
                list.Add($"{r.Name.ToString()} {r.Type} {data}");
            }
        }

        Assert.True(reader.IsComplete);
        return [.. list];
    }

    private static async Task<byte[]> Ask(DnsEngine engine, byte[] query)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        int n = await engine.HandleAsync(query, response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        return response.AsSpan(0, n).ToArray();
    }

    private sealed class SeenAddresses : IAnswerObserver
    {
        public List<string> Addresses { get; } = [];

        public void BeforeRelease(ReadOnlySpan<byte> response) => Addresses.AddRange(RebindingGuardTests.Addresses(response.ToArray()));
    }

    private sealed class EntryLog : IQueryLog
    {
        public List<QueryLogEntry> Entries { get; } = [];

        public void Write(QueryLogEntry entry) => Entries.Add(entry);
    }
}
