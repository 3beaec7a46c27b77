using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

public sealed class CaptureFileReaderTests
{
    internal sealed record Pkt(long Ns, int If, string? Name, LinkType Link, int Orig, byte[] Data);

    internal static (List<Pkt> Packets, ICaptureFileReader? Reader, CaptureFileError OpenError) ReadAll(byte[] file)
    {
        var list = new List<Pkt>();
        ICaptureFileReader? r = CaptureFileReader.TryOpen(new MemoryStream(file), leaveOpen: false, out CaptureFileError err);
        if (r is null)
        {
            return (list, null, err);
        }

        while (r.TryReadNext(out CapturedPacket p))
        {
            list.Add(new Pkt(p.TimestampNs, p.InterfaceId, p.InterfaceName, p.LinkType, p.OriginalLength, p.Data.ToArray()));
        }

        return (list, r, err);
    }

    // Classic pcap, little-endian, microseconds (draft-ietf-opsawg-pcap §4, §5), one 4-byte Ethernet record.
    private static readonly byte[] s_pcapLeMicro = Convert.FromHexString(
        "D4C3B2A1" + "0200" + "0400" + "00000000" + "00000000" + "FFFF0000" + "01000000" +
        "01000000" + "02000000" + "04000000" + "3C000000" + "DEADBEEF");

    // Classic pcap, big-endian, nanoseconds; link type field carries FCS bits above the low 16 (ignored).
    private static readonly byte[] s_pcapBeNano = Convert.FromHexString(
        "A1B23C4D" + "0002" + "0004" + "00000000" + "00000000" + "00040000" + "10000065" +
        "00000001" + "00000002" + "00000002" + "00000002" + "CAFE" +
        "00000003" + "3B9AC9FF" + "00000000" + "00000000");

    // pcapng little-endian: SHB, IDB (Ethernet, snap 262144, if_name "eth0", if_tsresol 9), one EPB.
    private static readonly byte[] s_ngLe = Convert.FromHexString(
        "0A0D0D0A" + "1C000000" + "4D3C2B1A" + "0100" + "0000" + "FFFFFFFFFFFFFFFF" + "1C000000" +
        "01000000" + "28000000" + "0100" + "0000" + "00000400" + "0200" + "0400" + "65746830" + "0900" + "0100" + "09000000" + "00000000" + "28000000" +
        "06000000" + "28000000" + "00000000" + "01000000" + "02000000" + "05000000" + "3C000000" + "0102030405000000" + "28000000");

    // The same file in big-endian byte order.
    private static readonly byte[] s_ngBe = Convert.FromHexString(
        "0A0D0D0A" + "0000001C" + "1A2B3C4D" + "0001" + "0000" + "FFFFFFFFFFFFFFFF" + "0000001C" +
        "00000001" + "00000028" + "0001" + "0000" + "00040000" + "0002" + "0004" + "65746830" + "0009" + "0001" + "09000000" + "00000000" + "00000028" +
        "00000006" + "00000028" + "00000000" + "00000001" + "00000002" + "00000005" + "0000003C" + "0102030405000000" + "00000028");

    [Fact]
    public void Pcap_LittleEndian_Microseconds()
    {
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(s_pcapLeMicro);
        Assert.NotNull(r);
        Assert.Equal(CaptureFileFormat.Pcap, r.Format);
        var pr = Assert.IsType<PcapFileReader>(r);
        Assert.False(pr.IsBigEndian);
        Assert.False(pr.HasNanosecondTimestamps);
        Assert.Equal(65535, pr.SnapLength);
        Pkt p = Assert.Single(pkts);
        Assert.Equal(1_000_000_000L + 2_000, p.Ns);
        Assert.Equal(LinkType.Ethernet, p.Link);
        Assert.Equal(60, p.Orig);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, p.Data);
        Assert.Null(p.Name);
        Assert.True(r.IsEndOfFile);
        Assert.False(r.Error.IsError);
    }

    [Fact]
    public void Pcap_BigEndian_Nanoseconds_FcsBitsIgnored()
    {
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(s_pcapBeNano);
        Assert.NotNull(r);
        var pr = Assert.IsType<PcapFileReader>(r);
        Assert.True(pr.IsBigEndian);
        Assert.True(pr.HasNanosecondTimestamps);
        Assert.Equal(262144, pr.SnapLength);
        Assert.Equal(2, pkts.Count);
        Assert.Equal(LinkType.Raw, pkts[0].Link);
        Assert.Equal(1_000_000_002L, pkts[0].Ns);
        Assert.Equal(new byte[] { 0xCA, 0xFE }, pkts[0].Data);
        Assert.Equal(3_999_999_999L, pkts[1].Ns);
        Assert.Empty(pkts[1].Data);
        Assert.True(r.IsEndOfFile);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_HandBuiltVector_BothByteOrders(bool bigEndian)
    {
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(bigEndian ? s_ngBe : s_ngLe);
        Assert.NotNull(r);
        Assert.Equal(CaptureFileFormat.PcapNg, r.Format);
        Assert.Equal(bigEndian, ((PcapNgFileReader)r).IsBigEndian);
        CaptureInterface iface = Assert.Single(r.Interfaces);
        Assert.Equal("eth0", iface.Name);
        Assert.Equal(262144, iface.SnapLength);
        Assert.Equal(9, iface.TimestampResolution);
        Pkt p = Assert.Single(pkts);
        Assert.Equal((1L << 32) + 2, p.Ns);
        Assert.Equal(0, p.If);
        Assert.Equal("eth0", p.Name);
        Assert.Equal(60, p.Orig);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, p.Data);
        Assert.True(r.IsEndOfFile);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_Builder_MatchesHandBuiltVector(bool bigEndian)
    {
        byte[] built = new Ng(bigEndian).Shb().Idb(1, 262144, "eth0", tsresol: 9).Epb(0, (1UL << 32) + 2, [1, 2, 3, 4, 5], originalLength: 60).ToArray();
        Assert.Equal(bigEndian ? s_ngBe : s_ngLe, built);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_DefaultResolutionIsMicroseconds(bool bigEndian)
    {
        byte[] file = new Ng(bigEndian).Shb().Idb(101, 0).Epb(0, 1_500_000, [0x45]).ToArray();
        (List<Pkt> pkts, _, _) = ReadAll(file);
        Assert.Equal(1_500_000_000L, Assert.Single(pkts).Ns);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_TsResolPowerOfTwo_AndOffset(bool bigEndian)
    {
        // if_tsresol 0x94: units of 2^-20 s; 3.5 s = 3.5 * 2^20 units. if_tsoffset adds whole seconds.
        ulong units = (3UL << 20) + (1UL << 19);
        byte[] file = new Ng(bigEndian).Shb()
            .Idb(1, 0, "a", tsresol: 0x94)
            .Idb(1, 0, "b", tsresol: 9, tsoffset: 100)
            .Idb(1, 0, "c", tsresol: 3)
            .Epb(0, units, [1])
            .Epb(1, 5, [2])
            .Epb(2, 7, [3])
            .ToArray();
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(file);
        Assert.Equal(3, pkts.Count);
        Assert.Equal(3_500_000_000L, pkts[0].Ns);
        Assert.Equal(100_000_000_005L, pkts[1].Ns);
        Assert.Equal(7_000_000L, pkts[2].Ns);
        Assert.Equal(["a", "b", "c"], r!.Interfaces.Select(i => i.Name));
        Assert.Equal(100, r.Interfaces[1].TimestampOffsetSeconds);
    }

    [Fact]
    public void PcapNg_SeveralInterfaces_EachPacketCarriesItsName_AndNamesAreNotReallocated()
    {
        byte[] file = new Ng(false).Shb()
            .Idb(1, 0, "eth0", description: "uplink")
            .Idb(101, 0, "tun0")
            .Epb(1, 1, [0x45, 0])
            .Epb(0, 2, [0xFF])
            .Epb(1, 3, [0x60])
            .ToArray();
        using ICaptureFileReader r = CaptureFileReader.Open(new MemoryStream(file));
        var names = new List<string?>();
        while (r.TryReadNext(out CapturedPacket p))
        {
            names.Add(p.InterfaceName);
            Assert.Same(r.Interfaces[p.InterfaceId].Name, p.InterfaceName);
            Assert.Equal(r.Interfaces[p.InterfaceId].LinkType, p.LinkType);
        }

        Assert.Equal(["tun0", "eth0", "tun0"], names);
        Assert.Equal("uplink", r.Interfaces[0].Description);
        Assert.True(r.IsEndOfFile);
        Assert.Equal(3, r.PacketsRead);
    }

    [Fact]
    public void PcapNg_NewSection_ResetsInterfaces_AndMayChangeByteOrder()
    {
        byte[] first = new Ng(false).Shb().Idb(1, 0, "a").Epb(0, 1, [1]).ToArray();
        byte[] second = new Ng(true).Shb().Idb(1, 0, "b").Idb(101, 0, "c").Epb(1, 2, [2]).ToArray();
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll([.. first, .. second]);
        Assert.Equal(2, pkts.Count);
        Assert.Equal("a", pkts[0].Name);
        Assert.Equal("c", pkts[1].Name);
        Assert.Equal(LinkType.Raw, pkts[1].Link);
        Assert.Equal(2, r!.Interfaces.Count);
        Assert.Equal(2, ((PcapNgFileReader)r).SectionCount);
        Assert.True(r.IsEndOfFile);
    }

    [Fact]
    public void PcapNg_InterfaceIdFromPreviousSection_IsAnError()
    {
        byte[] first = new Ng(false).Shb().Idb(1, 0, "a").Idb(1, 0, "b").ToArray();
        byte[] second = new Ng(false).Shb().Idb(1, 0, "c").Epb(1, 2, [2]).ToArray();
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll([.. first, .. second]);
        Assert.Empty(pkts);
        Assert.Equal(CaptureFileErrorKind.UnknownInterface, r!.Error.Kind);
        Assert.Equal(first.Length + 28 + 32, r.Error.Offset);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_SimplePacketBlock_CapturedLengthIsMinOfOriginalSnapAndSpace(bool bigEndian)
    {
        byte[] snapped = new Ng(bigEndian).Shb().Idb(1, 4, "s")
            .Spb(10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) // snap 4 wins
            .Spb(3, [1, 2, 3])                        // original length wins (the rest is padding)
            .ToArray();
        (List<Pkt> pkts, _, _) = ReadAll(snapped);
        Assert.Equal(2, pkts.Count);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, pkts[0].Data);
        Assert.Equal(10, pkts[0].Orig);
        Assert.Equal("s", pkts[0].Name);
        Assert.Equal(new byte[] { 1, 2, 3 }, pkts[1].Data);

        byte[] unlimited = new Ng(bigEndian).Shb().Idb(1, 0).Spb(100, [9, 9, 9, 9, 9, 9]).ToArray();
        (pkts, _, _) = ReadAll(unlimited);
        Assert.Equal(8, Assert.Single(pkts).Data.Length); // block space wins: 6 bytes plus 2 of padding
    }

    [Fact]
    public void PcapNg_SimplePacketBeforeAnyInterface_IsAnError()
    {
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(new Ng(false).Shb().Spb(1, [1]).ToArray());
        Assert.Empty(pkts);
        Assert.Equal(CaptureFileErrorKind.UnexpectedBlock, r!.Error.Kind);
    }

    [Fact]
    public void PcapNg_OtherBlockTypes_AreSkippedByLength()
    {
        byte[] file = new Ng(false).Shb().Idb(1, 0, "x")
            .Other(4, [0, 0, 0, 0])                 // NRB (end of records)
            .Epb(0, 1, [1])
            .Other(5, new byte[12])                 // ISB
            .Other(10, new byte[20])                // DSB
            .Other(0x00000BAD, new byte[7])         // custom/unknown
            .Other(0x40000BAD, [])                  // unknown, empty body
            .Epb(0, 2, [2])
            .ToArray();
        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(file);
        Assert.Equal(2, pkts.Count);
        Assert.Equal(5, ((PcapNgFileReader)r!).SkippedBlocks);
        Assert.True(r.IsEndOfFile);
    }

    [Fact]
    public void PcapNg_ObsoletePacketBlock_IsRead()
    {
        var body = new Ng.Body(false);
        body.U16(0).U16(0).U32(0).U32(42).U32(2).U32(9).Padded([7, 8]);
        byte[] file = new Ng(false).Shb().Idb(1, 0, "old").Other(2, [.. body.Bytes]).ToArray();
        (List<Pkt> pkts, _, _) = ReadAll(file);
        Pkt p = Assert.Single(pkts);
        Assert.Equal(new byte[] { 7, 8 }, p.Data);
        Assert.Equal(9, p.Orig);
        Assert.Equal(42_000, p.Ns);
    }

    [Fact]
    public void Reading_DoesNotAllocatePerPacket()
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true))
        {
            w.AddInterface(LinkType.Ethernet, "eth0");
            w.AddInterface(LinkType.Raw, "tun0");
            byte[] data = new byte[1400];
            for (int i = 0; i < 2000; i++)
            {
                w.WritePacket(i & 1, i * 1000L, data.AsSpan(0, 60 + (i % 1300)));
            }
        }

        ms.Position = 0;
        using ICaptureFileReader r = CaptureFileReader.Open(ms);
        Assert.True(r.TryReadNext(out _));
        long sum = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (r.TryReadNext(out CapturedPacket p))
        {
            sum += p.CapturedLength + (p.InterfaceName?.Length ?? 0);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
        Assert.Equal(2000, r.PacketsRead);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNgWriter_RoundTrips(bool bigEndian)
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true, bigEndian: bigEndian))
        {
            Assert.Equal(0, w.AddInterface(LinkType.Ethernet, "eth0", snapLength: 65535, description: "wired"));
            Assert.Equal(1, w.AddInterface(LinkType.Raw, "wg0", timestampResolution: 6));
            Assert.Equal(2, w.AddInterface(LinkType.Raw, null, timestampResolution: 0x94));
            w.WritePacket(0, 1_700_000_000_123_456_789, [1, 2, 3], originalLength: 1500);
            w.WritePacket(1, 1_700_000_000_123_456_789, [4]);
            w.WritePacket(2, 3_500_000_000, [5, 6, 7, 8, 9]);
        }

        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(ms.ToArray());
        Assert.Equal(3, pkts.Count);
        Assert.Equal(1_700_000_000_123_456_789, pkts[0].Ns);
        Assert.Equal("eth0", pkts[0].Name);
        Assert.Equal(1500, pkts[0].Orig);
        Assert.Equal([1, 2, 3], pkts[0].Data);
        Assert.Equal(1_700_000_000_123_456_000, pkts[1].Ns);
        Assert.Equal("wg0", pkts[1].Name);
        Assert.Equal(3_500_000_000, pkts[2].Ns);
        Assert.Null(pkts[2].Name);
        Assert.Equal(65535, r!.Interfaces[0].SnapLength);
        Assert.Equal("wired", r.Interfaces[0].Description);
        Assert.True(r.IsEndOfFile);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PcapWriter_RoundTrips(bool nanoseconds)
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.LinuxSll2, 1000, nanoseconds, leaveOpen: true))
        {
            w.WritePacket(1_700_000_000_123_456_789, [1, 2, 3], 99);
            w.WritePacket(5, []);
        }

        (List<Pkt> pkts, ICaptureFileReader? r, _) = ReadAll(ms.ToArray());
        Assert.Equal(2, pkts.Count);
        Assert.Equal(nanoseconds ? 1_700_000_000_123_456_789 : 1_700_000_000_123_456_000, pkts[0].Ns);
        Assert.Equal(99, pkts[0].Orig);
        Assert.Equal(LinkType.LinuxSll2, pkts[0].Link);
        Assert.Equal(nanoseconds ? 5 : 0, pkts[1].Ns);
        Assert.Equal(1000, ((PcapFileReader)r!).SnapLength);
    }

    [Fact]
    public void Timestamp_Helper_IsUtc()
    {
        var p = new CapturedPacket(1_700_000_000_123_456_789, 0, null, LinkType.Raw, 0, default);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(4567), p.Timestamp);
        Assert.Equal(TimeSpan.Zero, p.Timestamp.Offset);
    }

    [Fact]
    public void OpenPath_ReadsFile_AndMissingFileGivesError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dnsw-{Guid.NewGuid():N}.pcapng");
        try
        {
            File.WriteAllBytes(path, s_ngLe);
            using (ICaptureFileReader r = CaptureFileReader.Open(path))
            {
                Assert.True(r.TryReadNext(out CapturedPacket p));
                Assert.Equal("eth0", p.InterfaceName);
            }

            Assert.True(CaptureFileReader.TryOpen(path, out ICaptureFileReader? r2, out _));
            r2!.Dispose();
        }
        finally
        {
            File.Delete(path);
        }

        Assert.False(CaptureFileReader.TryOpen(path, out ICaptureFileReader? none, out CaptureFileError err));
        Assert.Null(none);
        Assert.Equal(CaptureFileErrorKind.IoError, err.Kind);
        CaptureFileException ex = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(path));
        Assert.Equal(path, ex.FilePath);
    }
}
