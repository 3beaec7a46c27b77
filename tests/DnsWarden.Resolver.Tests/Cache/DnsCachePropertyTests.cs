using DnsWarden.Resolver.Cache;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Cache;

/// <summary>Random responses through the cache: it never throws and returns exactly what was stored, modulo ID, question case and aged TTLs.</summary>
public sealed class DnsCachePropertyTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long T0 = 1_000 * Second;
    private static readonly DnsRcode[] s_rcodes = [DnsRcode.NoError, DnsRcode.NoError, DnsRcode.NxDomain, DnsRcode.ServFail, DnsRcode.Refused];

    private static string RandomName(Random rng)
    {
        int labels = rng.Next(1, 5);
        var parts = new string[labels];
        for (int i = 0; i < labels; i++)
        {
            char[] label = new char[rng.Next(1, 12)];
            for (int j = 0; j < label.Length; j++)
            {
                label[j] = (char)(rng.Next(2) == 0 ? 'a' + rng.Next(26) : 'A' + rng.Next(26));
            }

            parts[i] = new string(label);
        }

        return string.Join('.', parts);
    }

    private static string Recase(string name, Random rng) =>
        string.Create(name.Length, (name, rng), static (dst, s) =>
        {
            for (int i = 0; i < dst.Length; i++)
            {
                char c = s.name[i];
                dst[i] = char.IsLetter(c) && s.rng.Next(2) == 0 ? (char)(c ^ 0x20) : c;
            }
        });

    private static byte[] RandomResponse(Random rng, byte[] query, string name)
    {
        DnsRcode rcode = s_rcodes[rng.Next(s_rcodes.Length)];
        int answers = rng.Next(0, 6);
        bool soa = rng.Next(2) == 0;
        int additional = rng.Next(0, 3);
        return DnsCacheTests.Respond(query, rcode, (ref DnsMessageWriter w) =>
        {
            for (int i = 0; i < answers; i++)
            {
                uint ttl = (uint)rng.Next(0, 4000);
                switch (rng.Next(4))
                {
                    case 0:
                        Assert.True(w.TryWriteA(DnsSection.Answer, name, ttl, IpAddr.FromV4((uint)rng.Next())));
                        break;
                    case 1:
                        Assert.True(w.TryWriteAaaa(DnsSection.Answer, name, ttl, IpAddr.FromV6((ulong)rng.NextInt64(), (ulong)rng.NextInt64())));
                        break;
                    case 2:
                        Assert.True(w.TryWriteCname(DnsSection.Answer, name, ttl, "target." + name));
                        break;
                    default:
                        Assert.True(w.TryWriteMx(DnsSection.Answer, name, ttl, (ushort)rng.Next(100), "mx." + name));
                        break;
                }
            }

            if (soa)
            {
                Assert.True(w.TryWriteSoa(DnsSection.Authority, name, (uint)rng.Next(0, 4000), "ns." + name, "host." + name, 1, 2, 3, 4, (uint)rng.Next(0, 4000)));
            }

            for (int i = 0; i < additional; i++)
            {
                Assert.True(w.TryWriteA(DnsSection.Additional, "ns." + name, (uint)rng.Next(0, 4000), IpAddr.FromV4((uint)rng.Next())));
            }
        });
    }

    [Fact]
    public void RandomResponsesRoundTrip()
    {
        var rng = new Random(20261124);
        var cache = new DnsCache(new DnsCacheOptions { MaxEntries = 64, NegativeTtlWithoutSoa = TimeSpan.FromSeconds(30), ServFailTtl = TimeSpan.FromSeconds(10) });
        var dst = new byte[4096];
        int hits = 0;
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            string name = RandomName(rng);
            byte[] query = DnsCacheTests.Query(name, (DnsType)rng.Next(1, 30), (ushort)rng.Next(65536), rng.Next(2) == 0);
            byte[] response = RandomResponse(rng, query, name);
            long storedAt = T0 + rng.Next(1000);
            if (cache.Store(query, response, storedAt) != DnsCacheStoreResult.Stored)
            {
                continue;
            }

            var q = new DnsMessageReader(query);
            Assert.True(q.TryReadQuestion(out DnsQuestion question));
            byte[] asked = DnsCacheTests.Query(Recase(name, rng), question.Type, (ushort)rng.Next(65536), HasDo(query));
            uint age = (uint)rng.Next(0, 60);
            if (!cache.TryAnswer(asked, storedAt + (age * Second) + rng.Next((int)Second), dst, out int n))
            {
                continue;
            }

            hits++;
            AssertSameModuloIdCaseTtl(response, asked, dst.AsSpan(0, n), age);
            _ = ARSoft.Tools.Net.Dns.DnsMessage.Parse(dst.AsSpan(0, n).ToArray());
        }

        Assert.True(hits > 100, $"only {hits} hits");
    }

    [Fact]
    public void MutatedMessagesNeverThrow()
    {
        var rng = new Random(5);
        var cache = new DnsCache();
        var dst = new byte[4096];
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            string name = RandomName(rng);
            byte[] query = DnsCacheTests.Query(name);
            byte[] response = RandomResponse(rng, query, name);
            byte[] mq = Mutate(query, rng);
            byte[] mr = Mutate(response, rng);
            cache.Store(mq, mr, T0);
            cache.Store(query, mr, T0);
            cache.Lookup(mq, T0 + Second, dst, out _);
            cache.Lookup(query.AsSpan(0, rng.Next(query.Length)), T0, dst, out _);
        }

        cache.Sweep(long.MaxValue);
    }

    private static bool HasDo(byte[] query)
    {
        var r = new DnsMessageReader(query);
        while (r.TryReadRecord(out DnsRecord rec))
        {
            if (rec.Type == DnsType.OPT && DnsOpt.TryRead(rec, out DnsOpt opt, out _))
            {
                return opt.DnssecOk;
            }
        }

        return false;
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        byte[] m = (byte[])seed.Clone();
        int flips = rng.Next(1, 4);
        for (int i = 0; i < flips; i++)
        {
            m[rng.Next(m.Length)] = (byte)rng.Next(256);
        }

        return m;
    }

    private static void AssertSameModuloIdCaseTtl(ReadOnlySpan<byte> stored, ReadOnlySpan<byte> asked, ReadOnlySpan<byte> answer, uint age)
    {
        Assert.Equal(stored.Length, answer.Length);
        Assert.True(asked.Slice(0, 2).SequenceEqual(answer.Slice(0, 2)));
        Assert.True(stored.Slice(2, DnsHeader.Length - 2).SequenceEqual(answer.Slice(2, DnsHeader.Length - 2)));
        var a = new DnsMessageReader(answer);
        var s = new DnsMessageReader(stored);
        var k = new DnsMessageReader(asked);
        Assert.True(a.TryReadQuestion(out DnsQuestion aq));
        Assert.True(k.TryReadQuestion(out DnsQuestion kq));
        Assert.Equal(kq.Name.ToString(), aq.Name.ToString());
        while (s.TryReadRecord(out DnsRecord sr))
        {
            Assert.True(a.TryReadRecord(out DnsRecord ar));
            Assert.Equal(sr.Type, ar.Type);
            Assert.Equal(sr.Class, ar.Class);
            Assert.True(sr.Rdata.SequenceEqual(ar.Rdata));
            Assert.True(sr.Name.Equals(ar.Name));
            uint expected = sr.Type == DnsType.OPT ? sr.Ttl : (sr.Ttl > age ? sr.Ttl - age : 0);
            Assert.Equal(expected, ar.Ttl);
        }

        Assert.True(a.IsComplete);
    }
}
