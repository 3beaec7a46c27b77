using System.Diagnostics;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

public sealed class CaptureFileRobustnessTests
{
    /// <summary>A file plus the offsets where a block or record ends and how many packets precede each.</summary>
    private static (byte[] File, List<(long End, int Packets)> Boundaries) PcapNgSample(bool bigEndian)
    {
        var ng = new Ng(bigEndian);
        var bounds = new List<(long, int)>();
        ng.Shb();
        bounds.Add((ng.Length, 0));
        ng.Idb(1, 0, "eth0", tsresol: 9);
        bounds.Add((ng.Length, 0));
        ng.Epb(0, 10, [1, 2, 3, 4, 5, 6, 7]);
        bounds.Add((ng.Length, 1));
        ng.Other(5, new byte[8]);
        bounds.Add((ng.Length, 1));
        ng.Idb(101, 0, "tun0");
        bounds.Add((ng.Length, 1));
        ng.Spb(3, [9, 9, 9]);
        bounds.Add((ng.Length, 2));
        ng.Epb(1, 20, [0x45, 0, 0, 20]);
        bounds.Add((ng.Length, 3));
        ng.Shb();
        bounds.Add((ng.Length, 3));
        ng.Idb(1, 0, "x");
        bounds.Add((ng.Length, 3));
        ng.Epb(0, 30, []);
        bounds.Add((ng.Length, 4));
        return (ng.ToArray(), bounds);
    }

    private static (byte[] File, List<(long End, int Packets)> Boundaries) PcapSample()
    {
        var ms = new MemoryStream();
        var bounds = new List<(long, int)>();
        using var w = new PcapWriter(ms, LinkType.Ethernet, leaveOpen: true);
        bounds.Add((ms.Length, 0));
        for (int i = 0; i < 4; i++)
        {
            w.WritePacket(i, Enumerable.Range(0, i * 3).Select(x => (byte)x).ToArray());
            bounds.Add((ms.Length, i + 1));
        }

        return (ms.ToArray(), bounds);
    }

    public static TheoryData<string> Samples => ["ng-le", "ng-be", "pcap"];

    private static (byte[] File, List<(long End, int Packets)> Boundaries) Sample(string name) => name switch
    {
        "ng-le" => PcapNgSample(false),
        "ng-be" => PcapNgSample(true),
        _ => PcapSample(),
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void EveryProperPrefix_DeliversWholePackets_ThenReportsTruncation(string sample)
    {
        (byte[] file, List<(long End, int Packets)> bounds) = Sample(sample);
        for (int len = 0; len < file.Length; len++)
        {
            (List<CaptureFileReaderTests.Pkt> pkts, ICaptureFileReader? r, CaptureFileError openError) =
                CaptureFileReaderTests.ReadAll(file[..len]);
            int expected = bounds.Where(b => b.End <= len).Select(b => b.Packets).DefaultIfEmpty(0).Max();
            bool onBoundary = bounds.Any(b => b.End == len);
            if (r is null)
            {
                Assert.True(len < bounds[0].End, $"prefix {len}: open failed: {openError}");
                Assert.Equal(CaptureFileErrorKind.Truncated, openError.Kind);
                continue;
            }

            Assert.Equal(expected, pkts.Count);
            if (onBoundary)
            {
                Assert.True(r.IsEndOfFile, $"prefix {len}");
                Assert.False(r.Error.IsError);
            }
            else
            {
                Assert.False(r.IsEndOfFile, $"prefix {len}");
                Assert.Equal(CaptureFileErrorKind.Truncated, r.Error.Kind);
                long lastEnd = bounds.Where(b => b.End <= len).Max(b => b.End);
                Assert.Equal(lastEnd, r.Error.Offset);
                Assert.False(r.TryReadNext(out _));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void EveryProperPrefix_ThroughNonSeekableStream_AlsoReportsTruncation(string sample)
    {
        (byte[] file, List<(long End, int Packets)> bounds) = Sample(sample);
        for (int len = (int)bounds[0].End; len < file.Length; len++)
        {
            using ICaptureFileReader? r = CaptureFileReader.TryOpen(new NonSeekable(file[..len]), false, out _);
            Assert.NotNull(r);
            int n = 0;
            while (r.TryReadNext(out _))
            {
                n++;
            }

            Assert.Equal(bounds.Where(b => b.End <= len).Max(b => b.Packets), n);
            Assert.True(r.IsEndOfFile ^ r.Error.IsError);
        }
    }

    [Fact]
    public void NotACaptureFile_GivesUnknownFormat_NotAnException()
    {
        ICaptureFileReader? r = CaptureFileReader.TryOpen(new MemoryStream("GET / HTTP/1.1\r\n"u8.ToArray()), false, out CaptureFileError e);
        Assert.Null(r);
        Assert.Equal(CaptureFileErrorKind.UnknownFormat, e.Kind);
        Assert.Contains("474554", e.Message, StringComparison.Ordinal);
        CaptureFileException ex = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(new MemoryStream(new byte[100])));
        Assert.Equal(CaptureFileErrorKind.UnknownFormat, ex.Error.Kind);
    }

    [Fact]
    public void EmptyFile_IsTruncated()
    {
        Assert.Null(CaptureFileReader.TryOpen(new MemoryStream(), false, out CaptureFileError e));
        Assert.Equal(CaptureFileErrorKind.Truncated, e.Kind);
    }

    [Theory]
    [InlineData(0u, CaptureFileErrorKind.BadBlockLength, "total length 0 is less than 12")]
    [InlineData(7u, CaptureFileErrorKind.BadBlockLength, "total length 7 is less than 12")]
    [InlineData(14u, CaptureFileErrorKind.BadBlockLength, "total length 14 is not a multiple of 4")]
    [InlineData(0xFFFFFFF0u, CaptureFileErrorKind.BlockTooLarge, "exceeds the limit")]
    [InlineData(1024u, CaptureFileErrorKind.Truncated, "total length 1024 but only")]
    public void BadBlockLengths_AreReportedWithOffset(uint length, CaptureFileErrorKind kind, string message)
    {
        byte[] head = new Ng(false).Shb().Idb(1, 0, "a").Epb(0, 1, [1]).ToArray();
        var bad = new Ng.Body(false);
        bad.U32(6).U32(length).U32(0).U32(0);
        byte[] file = [.. head, .. bad.Bytes, .. new byte[16]];
        (List<CaptureFileReaderTests.Pkt> pkts, ICaptureFileReader? r, _) = CaptureFileReaderTests.ReadAll(file);
        Assert.Single(pkts);
        Assert.Equal(kind, r!.Error.Kind);
        Assert.Equal(head.Length, r.Error.Offset);
        Assert.Contains($"block at offset {head.Length}: ", r.Error.Message, StringComparison.Ordinal);
        Assert.Contains(message, r.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeLengthOnNonSeekableStream_DoesNotAllocateBeyondTheBound()
    {
        byte[] head = new Ng(false).Shb().ToArray();
        var bad = new Ng.Body(false);
        bad.U32(6).U32(200 * 1024 * 1024).U32(0);
        using ICaptureFileReader r = CaptureFileReader.Open(new NonSeekable([.. head, .. bad.Bytes]), maxBlockLength: 1 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(r.TryReadNext(out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
        Assert.Equal(CaptureFileErrorKind.BlockTooLarge, r.Error.Kind);
    }

    [Theory]
    [InlineData("trailer")]
    [InlineData("caplen")]
    [InlineData("iface")]
    [InlineData("bom")]
    [InlineData("version")]
    [InlineData("first-not-shb")]
    [InlineData("shb-magic-then-idb")]
    [InlineData("option-overrun")]
    [InlineData("pcap-version")]
    [InlineData("pcap-huge-record")]
    public void NamedAdversarialFiles_FailCleanly(string name)
    {
        byte[] file;
        CaptureFileErrorKind kind;
        switch (name)
        {
            case "trailer":
                file = new Ng(false).Shb().Idb(1, 0).Epb(0, 1, [1]).ToArray();
                file[^1] = 0x7F;
                kind = CaptureFileErrorKind.BadBlockLength;
                break;
            case "caplen":
                file = new Ng(false).Shb().Idb(1, 0).Epb(0, 1, [1, 2, 3, 4], capturedLength: 5).ToArray();
                kind = CaptureFileErrorKind.MalformedBlock;
                break;
            case "iface":
                file = new Ng(false).Shb().Idb(1, 0).Epb(1, 1, [1]).ToArray();
                kind = CaptureFileErrorKind.UnknownInterface;
                break;
            case "bom":
                file = new Ng(false).Shb().ToArray();
                file[8] = 0x4E;
                kind = CaptureFileErrorKind.BadByteOrderMagic;
                break;
            case "version":
                file = new Ng(false).Shb(major: 2).ToArray();
                kind = CaptureFileErrorKind.UnsupportedVersion;
                break;
            case "first-not-shb":
                file = new Ng(false).Idb(1, 0).Shb().ToArray();
                kind = CaptureFileErrorKind.UnknownFormat;
                break;
            case "shb-magic-then-idb":
                file = [0x0A, 0x0D, 0x0D, 0x0A, .. new Ng(false).Idb(1, 0).ToArray()];
                kind = CaptureFileErrorKind.BadByteOrderMagic;
                break;
            case "option-overrun":
                var body = new Ng.Body(false);
                body.U16(1).U16(0).U32(0).U16(2).U16(200).U32(0);
                file = [.. new Ng(false).Shb().ToArray(), .. new Ng(false).Other(1, [.. body.Bytes]).ToArray()];
                kind = CaptureFileErrorKind.MalformedBlock;
                break;
            case "pcap-version":
                file = Convert.FromHexString("D4C3B2A1" + "0900" + "0400" + "0000000000000000FFFF000001000000");
                kind = CaptureFileErrorKind.UnsupportedVersion;
                break;
            default:
                file = Convert.FromHexString("D4C3B2A1" + "0200" + "0400" + "0000000000000000FFFF000001000000" + "00000000" + "00000000" + "FFFFFFFF" + "FFFFFFFF");
                kind = CaptureFileErrorKind.BlockTooLarge;
                break;
        }

        (List<CaptureFileReaderTests.Pkt> pkts, ICaptureFileReader? r, CaptureFileError openError) = CaptureFileReaderTests.ReadAll(file);
        Assert.Empty(pkts);
        CaptureFileError error = r?.Error ?? openError;
        Assert.Equal(kind, error.Kind);
        Assert.False(string.IsNullOrEmpty(error.Message));
    }

    [Fact]
    public void RandomBytes_AndMutationsOfValidFiles_NeverThrow()
    {
        var rng = new Random(20240601);
        byte[][] seeds = [PcapNgSample(false).File, PcapNgSample(true).File, PcapSample().File];
        var sw = Stopwatch.StartNew();
        for (int iter = 0; iter < 4000; iter++)
        {
            byte[] input;
            if (iter % 4 == 0)
            {
                input = new byte[rng.Next(0, 200)];
                rng.NextBytes(input);
                if (input.Length >= 4 && rng.Next(2) == 0)
                {
                    // Give random bodies a real magic so they get past the sniffing.
                    byte[] magic = rng.Next(3) switch
                    {
                        0 => [0x0A, 0x0D, 0x0D, 0x0A],
                        1 => [0xD4, 0xC3, 0xB2, 0xA1],
                        _ => [0xA1, 0xB2, 0x3C, 0x4D],
                    };
                    magic.CopyTo(input, 0);
                }
            }
            else
            {
                input = (byte[])seeds[iter % seeds.Length].Clone();
                int mutations = rng.Next(1, 5);
                for (int m = 0; m < mutations; m++)
                {
                    input[rng.Next(input.Length)] = (byte)rng.Next(256);
                }

                if (rng.Next(4) == 0)
                {
                    input = input[..rng.Next(input.Length)];
                }
            }

            (List<CaptureFileReaderTests.Pkt> pkts, ICaptureFileReader? r, CaptureFileError openError) = CaptureFileReaderTests.ReadAll(input);
            Assert.True(pkts.Count <= (input.Length / 12) + 1);
            if (r is null)
            {
                Assert.True(openError.IsError);
            }
            else
            {
                Assert.True(r.IsEndOfFile ^ r.Error.IsError);
                Assert.InRange(r.Error.Offset, 0, input.Length);
                Assert.False(r.TryReadNext(out _));
            }
        }

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30));
    }

    private sealed class NonSeekable(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        // Short reads on purpose: the reader must loop.
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 3));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
