using DnsWarden.Capture.Reassembly;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Capture.Tests.Reassembly;

public sealed class IpDefragmenterTests
{
    private const long Second = 1_000_000_000;

    private static readonly IpAddr s_v4Src = IpAddr.Parse("192.0.2.1");
    private static readonly IpAddr s_v4Dst = IpAddr.Parse("198.51.100.53");
    private static readonly IpAddr s_v6Src = IpAddr.Parse("2001:db8::1");
    private static readonly IpAddr s_v6Dst = IpAddr.Parse("2001:db8::53");

    private static byte[] Payload(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 7 + 3)).ToArray();

    /// <summary>Splits into fragments of <paramref name="size"/> bytes (a multiple of 8, RFC 791 §3.1).</summary>
    private static List<(int Offset, bool More, byte[] Data)> Split(byte[] payload, int size)
    {
        var list = new List<(int, bool, byte[])>();
        for (int o = 0; o < payload.Length; o += size)
        {
            int n = Math.Min(size, payload.Length - o);
            list.Add((o, o + n < payload.Length, payload[o..(o + n)]));
        }

        return list;
    }

    private static (DefragStatus Last, byte[]? Result, List<DefragStatus> All) Feed(
        IpDefragmenter d, bool v6, IEnumerable<(int Offset, bool More, byte[] Data)> fragments, uint id = 7, long t = 0)
    {
        byte[]? result = null;
        var all = new List<DefragStatus>();
        DefragStatus last = DefragStatus.Incomplete;
        foreach ((int off, bool more, byte[] data) in fragments)
        {
            last = d.Add(v6 ? s_v6Src : s_v4Src, v6 ? s_v6Dst : s_v4Dst, 17, id, off, more, data, t, out ReassembledDatagram dg);
            all.Add(last);
            if (last == DefragStatus.Complete)
            {
                result = dg.Payload.ToArray();
                dg.Return();
            }
            else
            {
                Assert.True(dg.IsEmpty);
            }
        }

        return (last, result, all);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InOrder_Reversed_Shuffled_AllRebuildTheSamePayload(bool v6)
    {
        byte[] payload = Payload(1000);
        List<(int, bool, byte[])> frags = Split(payload, 64);
        var d = new IpDefragmenter();

        Assert.Equal(payload, Feed(d, v6, frags, id: 1).Result);
        Assert.Equal(payload, Feed(d, v6, Enumerable.Reverse(frags), id: 2).Result);
        for (int seed = 0; seed < 20; seed++)
        {
            var rng = new Random(seed);
            var shuffled = frags.OrderBy(_ => rng.Next()).ToList();
            (DefragStatus last, byte[]? result, _) = Feed(d, v6, shuffled, id: (uint)(100 + seed));
            Assert.Equal(DefragStatus.Complete, last);
            Assert.Equal(payload, result);
        }

        Assert.Equal(22, d.Completed);
        Assert.Equal(0, d.PendingDatagrams);
        Assert.Equal(0, d.PendingBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExactDuplicates_AreDropped_AndTheDatagramStillCompletes(bool v6)
    {
        byte[] payload = Payload(200);
        List<(int, bool, byte[])> frags = Split(payload, 48);
        var doubled = frags.Take(frags.Count - 1).SelectMany(f => new[] { f, f }).Append(frags[^1]);
        var d = new IpDefragmenter();
        (DefragStatus last, byte[]? result, List<DefragStatus> all) = Feed(d, v6, doubled);
        Assert.Equal(DefragStatus.Complete, last);
        Assert.Equal(payload, result);
        Assert.Equal(frags.Count - 1, all.Count(s => s == DefragStatus.Duplicate));
        Assert.Equal(frags.Count - 1, d.Duplicates);
        Assert.Equal(0, d.Overlaps);
    }

    [Fact]
    public void V4_Overlap_KeepsFirstSeenBytes_AndCounts()
    {
        var d = new IpDefragmenter();
        byte[] a = Enumerable.Repeat((byte)'A', 16).ToArray();
        byte[] b = Enumerable.Repeat((byte)'B', 24).ToArray();
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 6, 9, 0, true, a, 0, out _));
        Assert.Equal(DefragStatus.Complete, d.Add(s_v4Src, s_v4Dst, 6, 9, 8, false, b, 0, out ReassembledDatagram dg));
        Assert.Equal("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB"u8.ToArray(), dg.Payload.ToArray());
        dg.Dispose();
        Assert.Equal(1, d.Overlaps);

        // The later fragment arriving first: its bytes are the first seen, so they win.
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 6, 10, 8, false, b, 0, out _));
        Assert.Equal(DefragStatus.Complete, d.Add(s_v4Src, s_v4Dst, 6, 10, 0, true, a, 0, out dg));
        Assert.Equal("AAAAAAAABBBBBBBBBBBBBBBBBBBBBBBB"u8.ToArray(), dg.Payload.ToArray());
        dg.Return();
        Assert.Equal(2, d.Overlaps);
    }

    [Fact]
    public void V6_Overlap_DiscardsTheWholeDatagram_Rfc5722()
    {
        var d = new IpDefragmenter();
        byte[] p = Payload(64);
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v6Src, s_v6Dst, 17, 5, 0, true, p[..32], 0, out _));
        Assert.Equal(DefragStatus.OverlapDiscarded, d.Add(s_v6Src, s_v6Dst, 17, 5, 16, true, p[16..48], 0, out _));
        Assert.Equal(0, d.PendingDatagrams);
        Assert.Equal(1, d.Overlaps);

        // What comes after the discard starts afresh and cannot complete from the old pieces.
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v6Src, s_v6Dst, 17, 5, 32, false, p[32..], 0, out _));
        Assert.Equal(0, d.Completed);
    }

    [Fact]
    public void VersionAndIdAndProtocol_AreSeparateKeys()
    {
        var d = new IpDefragmenter();
        byte[] p = Payload(16);
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 17, 1, 0, true, p[..8], 0, out _));
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 6, 1, 8, false, p[8..], 0, out _));
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 17, 2, 8, false, p[8..], 0, out _));
        Assert.Equal(3, d.PendingDatagrams);
        Assert.Equal(DefragStatus.Complete, d.Add(s_v4Src, s_v4Dst, 17, 1, 8, false, p[8..], 0, out ReassembledDatagram dg));
        Assert.Equal(p, dg.Payload.ToArray());
        dg.Return();
    }

    [Fact]
    public void NotAFragment_IsPassedBack()
    {
        var d = new IpDefragmenter();
        Assert.Equal(DefragStatus.NotFragmented, d.Add(s_v4Src, s_v4Dst, 17, 1, 0, false, Payload(30), 0, out ReassembledDatagram dg));
        Assert.True(dg.IsEmpty);
        Assert.Equal(0, d.PendingDatagrams);
    }

    [Theory]
    [InlineData("unaligned-length")]
    [InlineData("unaligned-offset")]
    [InlineData("past-65535")]
    [InlineData("two-different-ends")]
    [InlineData("data-past-end")]
    [InlineData("empty-middle")]
    public void MalformedFragments_DropTheirDatagram_AndAreCounted(string name)
    {
        var d = new IpDefragmenter();
        byte[] p = Payload(64);
        DefragStatus s = name switch
        {
            "unaligned-length" => d.Add(s_v4Src, s_v4Dst, 17, 1, 0, true, p[..13], 0, out _),
            "unaligned-offset" => d.Add(s_v4Src, s_v4Dst, 17, 1, 12, false, p[..8], 0, out _),
            "past-65535" => d.Add(s_v4Src, s_v4Dst, 17, 1, 65528, false, p[..16], 0, out _),
            "empty-middle" => d.Add(s_v4Src, s_v4Dst, 17, 1, 8, true, [], 0, out _),
            "two-different-ends" => Two(d, (16, false, p[..8]), (32, false, p[..8])),
            _ => Two(d, (16, false, p[..8]), (24, true, p[..8])),
        };
        Assert.Equal(DefragStatus.Malformed, s);
        Assert.Equal(1, d.Malformed);
        Assert.Equal(0, d.PendingDatagrams);
        Assert.Equal(0, d.PendingBytes);

        static DefragStatus Two(IpDefragmenter d, (int O, bool M, byte[] P) a, (int O, bool M, byte[] P) b)
        {
            Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 17, 1, a.O, a.M, a.P, 0, out _));
            return d.Add(s_v4Src, s_v4Dst, 17, 1, b.O, b.M, b.P, 0, out _);
        }
    }

    [Fact]
    public void LargestDatagram_65535_Rebuilds()
    {
        byte[] payload = Payload(65535 - 20);
        var d = new IpDefragmenter();
        (DefragStatus last, byte[]? result, _) = Feed(d, false, Split(payload, 1480));
        Assert.Equal(DefragStatus.Complete, last);
        Assert.Equal(payload, result);
    }

    [Fact]
    public void Timeout_UsesPacketTime_30sForV4_60sForV6()
    {
        var d = new IpDefragmenter();
        byte[] p = Payload(16);
        d.Add(s_v4Src, s_v4Dst, 17, 1, 0, true, p[..8], 0, out _);
        d.Add(s_v6Src, s_v6Dst, 17, 1, 0, true, p[..8], 0, out _);
        Assert.Equal(0, d.ExpireOlderThan(29 * Second));
        Assert.Equal(1, d.ExpireOlderThan(30 * Second));
        Assert.Equal(1, d.PendingDatagrams);

        // The tail of the timed-out v4 datagram arrives late: it cannot complete.
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 17, 1, 8, false, p[8..], 31 * Second, out _));

        // The v6 datagram still completes before 60 s ...
        Assert.Equal(DefragStatus.Complete, d.Add(s_v6Src, s_v6Dst, 17, 1, 8, false, p[8..], 59 * Second, out ReassembledDatagram dg));
        dg.Return();

        // ... and a new one times out at 60 s, during an unrelated Add.
        d.Add(s_v6Src, s_v6Dst, 17, 2, 0, true, p[..8], 100 * Second, out _);
        d.Add(s_v4Src, s_v4Dst, 17, 99, 0, true, p[..8], 161 * Second, out _);
        Assert.Equal(3, d.TimedOut);
        Assert.Equal(1, d.PendingDatagrams);
    }

    [Fact]
    public void MaxDatagrams_EvictsOldest()
    {
        var d = new IpDefragmenter(new IpDefragmenterOptions { MaxDatagrams = 4 });
        byte[] p = Payload(16);
        for (uint id = 0; id < 10; id++)
        {
            d.Add(s_v4Src, s_v4Dst, 17, id, 0, true, p[..8], id, out _);
        }

        Assert.Equal(4, d.PendingDatagrams);
        Assert.Equal(6, d.Evicted);

        // The newest survive: id 9 completes, id 0 does not.
        Assert.Equal(DefragStatus.Complete, d.Add(s_v4Src, s_v4Dst, 17, 9, 8, false, p[8..], 20, out ReassembledDatagram dg));
        dg.Return();
        Assert.Equal(DefragStatus.Incomplete, d.Add(s_v4Src, s_v4Dst, 17, 0, 8, false, p[8..], 20, out _));
    }

    [Fact]
    public void MaxTotalBytes_BoundsMemoryUnderAFlood()
    {
        var options = new IpDefragmenterOptions { MaxTotalBytes = 256 * 1024, MaxDatagrams = 100_000 };
        var d = new IpDefragmenter(options);
        byte[] chunk = Payload(1480);
        for (uint id = 0; id < 5000; id++)
        {
            // A first fragment and a far-away last fragment force a 64 KiB buffer per datagram.
            d.Add(s_v4Src, s_v4Dst, 17, id, 0, true, chunk, id, out _);
            d.Add(s_v4Src, s_v4Dst, 17, id, 60000, false, chunk[..8], id, out _);
            Assert.True(d.PendingBytes <= options.MaxTotalBytes);
        }

        Assert.True(d.Evicted > 4900);
        Assert.True(d.PendingDatagrams < 10);
        d.Clear();
        Assert.Equal(0, d.PendingBytes);
    }

    [Fact]
    public void RandomFragments_NeverThrow()
    {
        var rng = new Random(7);
        var d = new IpDefragmenter(new IpDefragmenterOptions { MaxDatagrams = 16, MaxTotalBytes = 512 * 1024 });
        byte[] buf = new byte[3000];
        for (int i = 0; i < 5000; i++)
        {
            rng.NextBytes(buf);
            bool v6 = rng.Next(2) == 0;
            int off = rng.Next(3) == 0 ? rng.Next(-10, 70000) : rng.Next(0, 16) * 8;
            DefragStatus s = d.Add(v6 ? s_v6Src : s_v4Src, v6 ? s_v6Dst : s_v4Dst, 17, (uint)rng.Next(4), off, rng.Next(3) != 0, buf.AsSpan(0, rng.Next(0, 200)), i * 1000L, out ReassembledDatagram dg);
            if (s == DefragStatus.Complete)
            {
                Assert.InRange(dg.Length, 0, 65535);
            }

            dg.Return();
            Assert.True(d.PendingBytes <= 512 * 1024);
        }
    }
}
