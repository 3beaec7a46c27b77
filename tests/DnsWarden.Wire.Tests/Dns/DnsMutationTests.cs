using System.Diagnostics;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Tests.Dns;

/// <summary>
/// Bounded property test over the reader: random bytes and random mutations of valid messages,
/// fixed seed. Every accessor must return without throwing and in a bounded number of steps, and
/// every name that reads must survive its own text form.
/// </summary>
public sealed class DnsMutationTests
{
    private const int Iterations = 6000;
    private const int Seed = 0x5EED_D45;

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>
        {
            DnsMessageReaderTests.Query,
            DnsMessageReaderTests.Response,
            DnsTestUtil.SingleAnswer("example.com", DnsType.SVCB, DnsMessageReaderTests.Rfc9460Figure7),
            DnsTestUtil.SingleAnswer("example.com", DnsType.SVCB, DnsMessageReaderTests.Rfc9460Figure6),
        };

        var buf = new byte[1024];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(9, DnsHeaderFlags.Response | DnsHeaderFlags.RecursionAvailable));
        Assert.True(w.TryWriteQuestion("www.example.com", DnsType.A));
        Assert.True(w.TryWriteCname(DnsSection.Answer, "www.example.com", 1, "a.b.example.com"));
        Assert.True(w.TryWriteTxt(DnsSection.Answer, "t.example.com", 1, "hello"u8));
        Assert.True(w.TryWriteMx(DnsSection.Answer, "example.com", 1, 1, "mx.example.com"));
        Assert.True(w.TryWriteSoa(DnsSection.Authority, "example.com", 1, "ns.example.com", "h.example.com", 1, 2, 3, 4, 5));
        Assert.True(w.TryWriteOpt(1232, dnssecOk: true, [0, 10, 0, 2, 1, 2]));
        Assert.True(w.TryFinish(out int n));
        seeds.Add(buf.AsSpan(0, n).ToArray());
        return seeds;
    }

    [Fact]
    public void RandomMutations_NeverThrow_AndTerminate()
    {
        var rng = new Random(Seed);
        List<byte[]> seeds = Seeds();
        var sw = Stopwatch.StartNew();
        int parsedFully = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] m;
            if (i % 5 == 0)
            {
                m = new byte[rng.Next(0, 128)];
                rng.NextBytes(m);
                if (m.Length >= 12)
                {
                    // Keep counts small often, so the walk reaches names and records.
                    m[4] = 0;
                    m[5] = (byte)rng.Next(0, 3);
                    m[6] = 0;
                    m[7] = (byte)rng.Next(0, 4);
                }
            }
            else
            {
                m = Mutate(seeds[rng.Next(seeds.Count)], rng);
            }

            if (Exercise(m))
            {
                parsedFully++;
            }
        }

        // Some mutations keep the message valid, most do not: both paths were exercised.
        Assert.InRange(parsedFully, 1, Iterations - 1);
        Assert.True(sw.Elapsed < TimeSpan.FromMinutes(1), $"took {sw.Elapsed}");
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var m = new List<byte>(seed);
        int edits = rng.Next(1, 5);
        for (int e = 0; e < edits && m.Count > 0; e++)
        {
            int at = rng.Next(m.Count);
            switch (rng.Next(6))
            {
                case 0:
                    m[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    m[at] = (byte)rng.Next(256);
                    break;
                case 2:
                    m.RemoveRange(at, m.Count - at);
                    break;
                case 3:
                    m.Insert(at, (byte)rng.Next(256));
                    break;
                case 4:
                    // A compression pointer anywhere: loops, forward and header pointers.
                    m[at] = (byte)(0xC0 | rng.Next(0, 2));
                    if (at + 1 < m.Count)
                    {
                        m[at + 1] = (byte)rng.Next(256);
                    }

                    break;
                default:
                    // Label length bytes that lie: 0x3F, 0x40, 0x80 and friends.
                    m[at] = (byte)(rng.Next(4) switch { 0 => 0x3F, 1 => 0x40, 2 => 0x80, _ => rng.Next(64) });
                    break;
            }
        }

        return [.. m];
    }

    /// <summary>Touches every accessor; returns whether the message read completely.</summary>
    private static bool Exercise(byte[] m)
    {
        Span<char> text = stackalloc char[DnsName.MaxFormattedLength];
        var r = new DnsMessageReader(m);
        int steps = 0;
        while (r.TryReadQuestion(out DnsQuestion q))
        {
            CheckName(q.Name, text);
            Assert.True(++steps <= m.Length);
        }

        while (r.TryReadRecord(out DnsRecord rec))
        {
            Assert.True(++steps <= m.Length);
            CheckName(rec.Name, text);
            rec.TryReadAddress(out IpAddr _);
            if (rec.TryReadName(out DnsName target))
            {
                CheckName(target, text);
            }

            if (rec.TryReadTxt(out DnsCharacterStrings txt))
            {
                int count = 0;
                foreach (ReadOnlySpan<byte> s in txt)
                {
                    count++;
                }

                Assert.Equal(txt.Count, count);
            }

            if (rec.TryReadSoa(out DnsSoa soa))
            {
                CheckName(soa.PrimaryServer, text);
                CheckName(soa.ResponsibleMailbox, text);
            }

            if (rec.TryReadMx(out DnsMx mx))
            {
                CheckName(mx.Exchange, text);
            }

            if (rec.TryReadSrv(out DnsSrv srv))
            {
                CheckName(srv.Target, text);
            }

            if (rec.TryReadSvcb(out DnsSvcb svcb))
            {
                CheckName(svcb.Target, text);
                foreach (DnsSvcParam p in svcb.Params)
                {
                    _ = p.Value.Length;
                }

                svcb.Params.TryGetPort(out _);
                if (svcb.Params.TryGetAlpn(out DnsCharacterStrings alpn))
                {
                    foreach (ReadOnlySpan<byte> id in alpn)
                    {
                        Assert.NotEqual(0, id.Length);
                    }
                }

                if (svcb.Params.TryGetIpv4Hint(out DnsAddressList v4))
                {
                    foreach (IpAddr a in v4)
                    {
                        Assert.True(a.IsV4);
                    }
                }

                if (svcb.Params.TryGetIpv6Hint(out DnsAddressList v6))
                {
                    foreach (IpAddr a in v6)
                    {
                        _ = a;
                    }
                }
            }

            if (rec.TryReadOpt(out DnsOpt opt))
            {
                int count = 0;
                foreach (DnsEdnsOption o in opt.Options)
                {
                    count++;
                }

                Assert.Equal(opt.Options.Count, count);
            }
        }

        // Writing a response to arbitrary input must also stay clean.
        Span<byte> out1 = stackalloc byte[1024];
        var w = new DnsMessageWriter(out1);
        if (w.TryBeginResponse(m, DnsRcode.Refused) && w.TryFinish(out int n))
        {
            Assert.True(DnsMessageReader.TryValidate(out1.Slice(0, n), out _));
        }

        return r.IsComplete;
    }

    private static void CheckName(DnsName name, Span<char> text)
    {
        Assert.InRange(name.EncodedLength, 1, DnsName.MaxWireLength);
        int labels = 0;
        int encoded = 1;
        foreach (ReadOnlySpan<byte> label in name)
        {
            Assert.InRange(label.Length, 1, DnsName.MaxLabelLength);
            labels++;
            encoded += 1 + label.Length;
        }

        Assert.Equal(name.LabelCount, labels);
        Assert.Equal(name.EncodedLength, encoded);
        Assert.True(name.TryFormat(text, out int n));
        Assert.Equal(name.GetFormattedLength(), n);

        // The escaped text form names the same octets.
        Assert.True(name.EqualsAscii(text.Slice(0, n)));
        Assert.True(name.IsSubdomainOf(text.Slice(0, n)));
        Assert.True(name.Equals(name));
    }
}
