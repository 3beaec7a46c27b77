using System.Diagnostics;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

/// <summary>The read-ahead file stream gives the same bytes, positions, captures and errors as reading in place.</summary>
public sealed class ReadAheadStreamTests
{
    [Fact]
    public void GivesTheSameBytesInReadsOfAnySize()
    {
        byte[] data = new byte[3 * 4096 * 7 + 123];
        new Random(5).NextBytes(data);
        using var stream = new ReadAheadStream(new MemoryStream(data), chunkSize: 4096, depth: 2);
        Assert.True(stream.CanSeek);
        Assert.Equal(data.Length, stream.Length);
        var random = new Random(6);
        var copy = new MemoryStream();
        byte[] buffer = new byte[20_000];
        int n;
        while ((n = stream.Read(buffer, 0, random.Next(1, buffer.Length))) > 0)
        {
            copy.Write(buffer, 0, n);
            Assert.Equal(copy.Length, stream.Position);
        }

        Assert.Equal(data, copy.ToArray());
        Assert.Equal(0, stream.Read(buffer, 0, buffer.Length));
        Assert.Throws<NotSupportedException>(() => stream.Seek(0, SeekOrigin.Begin));
    }

    [Fact]
    public void AnErrorOnTheReadAheadThreadIsThrownWhereTheReaderMeetsIt()
    {
        byte[] data = new byte[10_000];
        using var stream = new ReadAheadStream(new FailingStream(data, failAfter: 6000), chunkSize: 4096, depth: 2);
        byte[] buffer = new byte[4096];
        Assert.Equal(4096, stream.Read(buffer, 0, 4096));

        // The 1,904 bytes before the failure come first, then the error, at the position it happened.
        Assert.Equal(1904, stream.Read(buffer, 0, 4096));
        Assert.Equal(6000, stream.Position);
        IOException e = Assert.Throws<IOException>(() => stream.Read(buffer, 0, 4096));
        Assert.Contains("disk went away", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DisposeReturnsWhileTheReadAheadThreadWaitsForRoom()
    {
        var inner = new MemoryStream(new byte[1 << 20]);
        using var stream = new ReadAheadStream(inner, chunkSize: 4096, depth: 1);

        // One chunk in the one slot and a second one read: the thread's next step is to wait for room.
        Assert.True(SpinWait.SpinUntil(() => inner.Position >= 2 * 4096, TimeSpan.FromSeconds(30)));
        var clock = Stopwatch.StartNew();
        stream.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"dispose took {clock.Elapsed}");
        Assert.Throws<ObjectDisposedException>(() => stream.Read(new byte[1], 0, 1));
    }

    [Fact]
    public void ALargeCaptureReadsTheSameThroughTheFileReaderAndACutOneFailsAtTheSameOffset()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dnsw-readahead-{Environment.ProcessId}.pcap");
        string cut = path + ".cut";
        try
        {
            byte[] frame = new byte[1400];
            using (var w = new PcapWriter(File.Create(path), LinkType.Ethernet))
            {
                for (int i = 0; CaptureFileReader.ReadAheadFromBytes + 100_000 > i * 1416L; i++)
                {
                    frame[0] = (byte)i;
                    frame[1] = (byte)(i >> 8);
                    w.WritePacket(i * 1000L, frame);
                }
            }

            byte[] whole = File.ReadAllBytes(path);
            Assert.True(whole.Length >= CaptureFileReader.ReadAheadFromBytes);
            File.WriteAllBytes(cut, whole.AsSpan(0, whole.Length - 700).ToArray());
            foreach (string file in new[] { path, cut })
            {
                (List<CaptureFileReaderTests.Pkt> inPlace, ICaptureFileReader? plain, _) = CaptureFileReaderTests.ReadAll(File.ReadAllBytes(file));
                using ICaptureFileReader ahead = CaptureFileReader.Open(file);
                var read = new List<CaptureFileReaderTests.Pkt>();
                while (ahead.TryReadNext(out CapturedPacket p))
                {
                    read.Add(new CaptureFileReaderTests.Pkt(p.TimestampNs, p.InterfaceId, p.InterfaceName, p.LinkType, p.OriginalLength, p.Data.ToArray()));
                }

                Assert.Equal(inPlace.Count, read.Count);
                Assert.True(inPlace.SequenceEqual(read, new PktComparer()));
                Assert.Equal(plain!.Error, ahead.Error);
                Assert.Equal(file == cut, ahead.Error.IsError);
                plain.Dispose();
            }
        }
        finally
        {
            File.Delete(path);
            File.Delete(cut);
        }
    }

    private sealed class PktComparer : IEqualityComparer<CaptureFileReaderTests.Pkt>
    {
        public bool Equals(CaptureFileReaderTests.Pkt? x, CaptureFileReaderTests.Pkt? y) =>
            x is not null && y is not null && x.Ns == y.Ns && x.Orig == y.Orig && x.Data.AsSpan().SequenceEqual(y.Data);

        public int GetHashCode(CaptureFileReaderTests.Pkt obj) => obj.Ns.GetHashCode();
    }

    private sealed class FailingStream(byte[] data, int failAfter) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position >= failAfter)
            {
                throw new IOException("disk went away");
            }

            return base.Read(buffer, offset, (int)Math.Min(count, failAfter - Position));
        }
    }
}
