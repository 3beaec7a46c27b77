using System.Buffers.Binary;
using DnsWarden.Resolver.Cache;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Cache;

[Collection(MemoryMeasurementCollection.Name)]
public sealed class DnsCacheTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long T0 = 1_000 * Second;

    internal static byte[] Query(string name, DnsType type = DnsType.A, ushort id = 0x1234, bool dnssecOk = false)
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryWriteHeader(id, DnsHeaderFlags.RecursionDesired));
        Assert.True(w.TryWriteQuestion(name, type));
        Assert.True(w.TryWriteOpt(1232, dnssecOk));
        Assert.True(w.TryFinish(out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    internal static byte[] AnswerA(byte[] query, uint ttl, params string[] addresses) =>
        Respond(query, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            var reader = new DnsMessageReader(query);
            Assert.True(reader.TryReadQuestion(out DnsQuestion q));
            foreach (string a in addresses)
            {
                IpAddr ip = IpAddr.Parse(a);
                Assert.True(ip.IsV4 ? w.TryWriteA(DnsSection.Answer, q.Name, ttl, ip) : w.TryWriteAaaa(DnsSection.Answer, q.Name, ttl, ip));
            }
        });

    internal delegate void Body(ref DnsMessageWriter writer);

    internal static byte[] Respond(byte[] query, DnsRcode rcode, Body body, bool truncated = false)
    {
        var buffer = new byte[4096];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryBeginResponse(query, rcode));
        body(ref w);
        Assert.True(w.TryFinish(out int n));
        byte[] result = buffer.AsSpan(0, n).ToArray();
        if (truncated)
        {
            result[2] |= 0x02;
        }

        return result;
    }

    private static List<uint> Ttls(ReadOnlySpan<byte> message)
    {
        var ttls = new List<uint>();
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type != DnsType.OPT)
            {
                ttls.Add(r.Ttl);
            }
        }

        Assert.True(reader.IsComplete);
        return ttls;
    }

    [Fact]
    public void HitRewritesIdCaseAndTtls()
    {
        var cache = new DnsCache();
        byte[] q = Query("www.example.com", id: 1);
        byte[] r = AnswerA(q, 300, "192.0.2.1", "192.0.2.2");
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, r, T0));

        byte[] asked = Query("wWw.ExAmPlE.cOm", id: 0xBEEF);
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(asked, T0 + (7 * Second) + (Second / 2), dst, out int n));
        Assert.Equal(r.Length, n);
        Assert.Equal(0xBEEF, BinaryPrimitives.ReadUInt16BigEndian(dst));
        Assert.Equal([293u, 293u], Ttls(dst.AsSpan(0, n)));
        var reader = new DnsMessageReader(dst.AsSpan(0, n));
        Assert.True(reader.TryReadQuestion(out DnsQuestion question));
        Assert.Equal("wWw.ExAmPlE.cOm", question.Name.ToString().TrimEnd('.'));

        // Everything else is the stored response.
        Assert.Equal(r.AsSpan(DnsHeader.Length + 17).ToArray().Length, dst.AsSpan(DnsHeader.Length + 17, n - DnsHeader.Length - 17).Length);
        var parsed = ARSoft.Tools.Net.Dns.DnsMessage.Parse(dst.AsSpan(0, n).ToArray());
        Assert.Equal(2, parsed.AnswerRecords.Count);
        Assert.All(parsed.AnswerRecords, a => Assert.Equal(293, a.TimeToLive));
        Assert.Equal(0xBEEF, parsed.TransactionID);
    }

    [Fact]
    public void TtlSaturatesAtZeroAndExpires()
    {
        var cache = new DnsCache();
        byte[] q = Query("a.example");
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, AnswerA(q, 10, "198.51.100.1"), T0));
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + (9 * Second), dst, out int n));
        Assert.Equal([1u], Ttls(dst.AsSpan(0, n)));
        Assert.Equal(DnsCacheLookupResult.Expired, cache.Lookup(q, T0 + (10 * Second), dst, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void MinTtlOfAnswerAndAuthority()
    {
        var cache = new DnsCache();
        byte[] q = Query("b.example");
        byte[] r = Respond(q, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            Assert.True(w.TryWriteA(DnsSection.Answer, "b.example", 100, IpAddr.Parse("198.51.100.2")));
            Assert.True(w.TryWriteNs(DnsSection.Authority, "example", 40, "ns.example"));
            Assert.True(w.TryWriteA(DnsSection.Additional, "ns.example", 5, IpAddr.Parse("198.51.100.3")));
        });
        cache.Store(q, r, T0);
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + (39 * Second), dst, out _));
        Assert.False(cache.TryAnswer(q, T0 + (40 * Second), dst, out _));
    }

    [Fact]
    public void TtlWithTopBitSetIsZero()
    {
        var cache = new DnsCache();
        byte[] q = Query("c.example");
        Assert.Equal(DnsCacheStoreResult.ZeroTtl, cache.Store(q, AnswerA(q, 0x8000_0001, "198.51.100.4"), T0));
    }

    [Theory]
    [InlineData(DnsRcode.NxDomain)]
    [InlineData(DnsRcode.NoError)]
    public void NegativeWithSoaUsesMinOfSoaTtlAndMinimum(DnsRcode rcode)
    {
        var cache = new DnsCache();
        byte[] q = Query("nx.example");
        byte[] r = Respond(q, rcode, (ref DnsMessageWriter w) =>
            Assert.True(w.TryWriteSoa(DnsSection.Authority, "example", 900, "ns.example", "host.example", 1, 2, 3, 4, 60)));
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, r, T0));
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + (59 * Second), dst, out int n));
        Assert.Equal((byte)rcode, dst[3] & 0x0F);
        Assert.False(cache.TryAnswer(q, T0 + (60 * Second), dst, out _));
    }

    [Fact]
    public void NegativeIsCappedByMaxNegativeTtl()
    {
        var cache = new DnsCache(new DnsCacheOptions { MaxNegativeTtl = TimeSpan.FromSeconds(30) });
        byte[] q = Query("nx.example");
        byte[] r = Respond(q, DnsRcode.NxDomain, (ref DnsMessageWriter w) =>
            Assert.True(w.TryWriteSoa(DnsSection.Authority, "example", 900, "ns.example", "host.example", 1, 2, 3, 4, 600)));
        cache.Store(q, r, T0);
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + (29 * Second), dst, out _));
        Assert.False(cache.TryAnswer(q, T0 + (30 * Second), dst, out _));
    }

    [Fact]
    public void NegativeWithoutSoaIsNotCachedByDefault()
    {
        byte[] q = Query("nx.example");
        byte[] r = Respond(q, DnsRcode.NxDomain, (ref DnsMessageWriter w) => { });
        Assert.Equal(DnsCacheStoreResult.NegativeWithoutSoa, new DnsCache().Store(q, r, T0));

        var cache = new DnsCache(new DnsCacheOptions { NegativeTtlWithoutSoa = TimeSpan.FromSeconds(5) });
        Assert.Equal(DnsCacheStoreResult.Stored, cache.Store(q, r, T0));
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + (4 * Second), dst, out _));
        Assert.False(cache.TryAnswer(q, T0 + (5 * Second), dst, out _));
    }

    [Fact]
    public void ServFailTruncatedAndRefused()
    {
        byte[] q = Query("s.example");
        byte[] servfail = Respond(q, DnsRcode.ServFail, (ref DnsMessageWriter w) => { });
        Assert.Equal(DnsCacheStoreResult.ServFailNotCached, new DnsCache().Store(q, servfail, T0));
        var shortServFail = new DnsCache(new DnsCacheOptions { ServFailTtl = TimeSpan.FromSeconds(2) });
        Assert.Equal(DnsCacheStoreResult.Stored, shortServFail.Store(q, servfail, T0));
        Assert.True(shortServFail.TryAnswer(q, T0 + Second, new byte[512], out _));
        Assert.False(shortServFail.TryAnswer(q, T0 + (2 * Second), new byte[512], out _));

        Assert.Equal(DnsCacheStoreResult.Truncated, new DnsCache().Store(q, Respond(q, DnsRcode.NoError, (ref DnsMessageWriter w) => { }, truncated: true), T0));
        Assert.Equal(DnsCacheStoreResult.UncacheableRcode, new DnsCache().Store(q, Respond(q, DnsRcode.Refused, (ref DnsMessageWriter w) => { }), T0));
    }

    [Fact]
    public void KeyIncludesTypeAndDoBitAndRejectsMismatch()
    {
        var cache = new DnsCache();
        byte[] q = Query("k.example");
        cache.Store(q, AnswerA(q, 60, "198.51.100.5"), T0);
        var dst = new byte[512];
        Assert.False(cache.TryAnswer(Query("k.example", DnsType.AAAA), T0, dst, out _));
        Assert.False(cache.TryAnswer(Query("k.example", dnssecOk: true), T0, dst, out _));
        Assert.True(cache.TryAnswer(Query("K.EXAMPLE"), T0, dst, out _));
        byte[] checkingDisabled = Query("k.example");
        checkingDisabled[3] |= 0x10;
        Assert.False(cache.TryAnswer(checkingDisabled, T0, dst, out _));
        Assert.Equal(DnsCacheStoreResult.QuestionMismatch, cache.Store(Query("other.example"), AnswerA(q, 60, "198.51.100.5"), T0));
        Assert.Equal(DnsCacheStoreResult.MalformedQuery, cache.Store(q.AsSpan(0, 10).ToArray(), AnswerA(q, 60, "198.51.100.5"), T0));
        Assert.Equal(DnsCacheLookupResult.BufferTooSmall, cache.Lookup(q, T0, new byte[20], out _));
    }

    [Fact]
    public void EvictsLeastRecentlyUsed()
    {
        var cache = new DnsCache(new DnsCacheOptions { MaxEntries = 3, ShardCount = 1 });
        byte[][] qs = [Query("1.example"), Query("2.example"), Query("3.example"), Query("4.example")];
        var dst = new byte[512];
        for (int i = 0; i < 3; i++)
        {
            cache.Store(qs[i], AnswerA(qs[i], 60, "198.51.100.1"), T0);
        }

        Assert.True(cache.TryAnswer(qs[0], T0, dst, out _)); // 2 is now the oldest
        cache.Store(qs[3], AnswerA(qs[3], 60, "198.51.100.1"), T0);
        Assert.True(cache.TryAnswer(qs[0], T0, dst, out _));
        Assert.False(cache.TryAnswer(qs[1], T0, dst, out _));
        Assert.True(cache.TryAnswer(qs[2], T0, dst, out _));
        Assert.True(cache.TryAnswer(qs[3], T0, dst, out _));
        DnsCacheStatistics s = cache.GetStatistics();
        Assert.Equal(1, s.Evictions);
        Assert.Equal(4, s.Inserts);
        Assert.Equal(3, s.Entries);
        Assert.Equal(4, s.Hits);
        Assert.Equal(1, s.Misses);
    }

    [Fact]
    public void ByteBoundHolds()
    {
        byte[] q0 = Query("0.example");
        int cost = AnswerA(q0, 60, "198.51.100.1").Length + 16 + DnsCache.EntryOverheadBytes;
        var cache = new DnsCache(new DnsCacheOptions { MaxBytes = cost * 5, ShardCount = 1 });
        for (int i = 0; i < 50; i++)
        {
            byte[] q = Query($"{i % 10}.example");
            cache.Store(q, AnswerA(q, 60, "198.51.100.1"), T0);
            Assert.True(cache.GetStatistics().Bytes <= cost * 5);
        }

        Assert.Equal(5, cache.Count);
        Assert.Equal(DnsCacheStoreResult.TooLarge, new DnsCache(new DnsCacheOptions { MaxBytes = 100, ShardCount = 1 }).Store(q0, AnswerA(q0, 60, "198.51.100.1"), T0));
    }

    [Fact]
    public void SweepRemovesExpired()
    {
        var cache = new DnsCache();
        for (int i = 0; i < 20; i++)
        {
            byte[] q = Query($"{i}.example");
            cache.Store(q, AnswerA(q, (uint)(i < 10 ? 5 : 500), "198.51.100.1"), T0);
        }

        Assert.Equal(10, cache.Sweep(T0 + (5 * Second)));
        Assert.Equal(10, cache.Count);
        Assert.Equal(10, cache.GetStatistics().Expirations);
    }

    [Fact]
    public void HitAllocatesNothing()
    {
        var cache = new DnsCache();
        byte[] q = Query("alloc.example");
        cache.Store(q, AnswerA(q, 60, "198.51.100.1", "198.51.100.2"), T0);
        var dst = new byte[512];
        Assert.True(cache.TryAnswer(q, T0 + Second, dst, out _));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            cache.TryAnswer(q, T0 + Second, dst, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void ConcurrentReadersAndWriters()
    {
        var cache = new DnsCache(new DnsCacheOptions { MaxEntries = 200 });
        byte[][] qs = Enumerable.Range(0, 500).Select(i => Query($"{i}.example")).ToArray();
        byte[][] rs = qs.Select(q => AnswerA(q, 60, "198.51.100.1")).ToArray();
        Parallel.For(0, 8, t =>
        {
            var dst = new byte[512];
            var rng = new Random(t);
            for (int i = 0; i < 20_000; i++)
            {
                int k = rng.Next(qs.Length);
                if ((i & 3) == 0)
                {
                    cache.Store(qs[k], rs[k], T0);
                }
                else if (cache.TryAnswer(qs[k], T0, dst, out int n))
                {
                    Assert.Equal(rs[k].Length, n);
                    Assert.True(dst.AsSpan(2, n - 2).SequenceEqual(rs[k].AsSpan(2)));
                }
            }
        });
        DnsCacheStatistics s = cache.GetStatistics();
        Assert.True(s.Entries <= 200);
        Assert.Equal(s.Entries, cache.Count);
        Assert.Equal(8 * 15_000, s.Hits + s.Misses);
        Assert.True(s.Bytes > 0);
    }

    [Fact]
    public void MeasuresBytesPerEntry()
    {
        const int N = 20_000;
        byte[][] qs = Enumerable.Range(0, N).Select(i => Query($"host{i}.example.com")).ToArray();
        byte[][] rs = qs.Select(q => AnswerA(q, 300, "198.51.100.1")).ToArray();
        var cache = new DnsCache(new DnsCacheOptions { MaxEntries = N, ShardCount = 1, MaxBytes = long.MaxValue / 2 });
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < N; i++)
        {
            cache.Store(qs[i], rs[i], T0);
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perEntry = (after - before) / (double)N;
        TestContext.Current.SendDiagnosticMessage($"DnsCache: {perEntry:F0} B per entry (response {rs[0].Length} B)");
        Console.WriteLine($"DnsCache: {perEntry:F0} B per entry (response {rs[0].Length} B)");
        Assert.Equal(N, cache.Count);
        Assert.True(perEntry < rs[0].Length + 400);
    }
}
