using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Tests.Tls;

public sealed class TlsRecordReaderTests
{
    private static readonly byte[] s_hello = new ClientHelloBuilder()
        .ServerName("doh.example.test")
        .Alpn("h2", "http/1.1")
        .SupportedVersions(0x0304, 0x0303)
        .Build();

    [Fact]
    public void SingleRecord_Complete()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello);
        var scratch = new byte[4096];
        Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.Complete, status);
        Assert.Equal(s_hello, scratch[..length]);
        Assert.True(TlsClientHello.TryRead(scratch.AsSpan(0, length), out ClientHelloInfo info, out _));
        Assert.Equal("doh.example.test", info.ServerNameString(scratch.AsSpan(0, length)));
    }

    [Fact]
    public void FollowingRecordsIgnored()
    {
        byte[] stream = [.. ClientHelloBuilder.ToRecords(s_hello), 0x17, 0x03, 0x03, 0x00, 0x02, 0xAA];
        var scratch = new byte[4096];
        Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out _));
        Assert.Equal(s_hello.Length, length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void EveryProperPrefix_NeedMoreData(int extraRecords)
    {
        int[] cuts = extraRecords switch
        {
            0 => [],
            1 => [3],
            _ => [2, 60],
        };
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello, cuts);
        var scratch = new byte[4096];
        for (int n = 0; n < stream.Length; n++)
        {
            Assert.False(TlsRecordReader.TryGetClientHello(stream.AsSpan(0, n), scratch, out _, out TlsStreamStatus status, out int needed));
            Assert.Equal(TlsStreamStatus.NeedMoreData, status);
            Assert.InRange(needed, 1, stream.Length - n);
        }

        Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out _));
        Assert.Equal(s_hello, scratch[..length]);
    }

    [Fact]
    public void SplitAtEveryOffset_TwoRecords()
    {
        // The handshake message cut into two TLS records at every offset (a client may fragment it anywhere): each
        // stream is two records, and the reader puts the ClientHello back together whole, and only when both are in.
        var scratch = new byte[4096];
        for (int split = 1; split < s_hello.Length; split++)
        {
            byte[] stream = ClientHelloBuilder.ToRecords(s_hello, split);
            Assert.Equal(s_hello.Length + (2 * TlsRecordReader.RecordHeaderLength), stream.Length);
            Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out TlsStreamStatus status), $"split {split}: {status}");
            Assert.Equal(s_hello, scratch[..length]);
            Assert.False(TlsRecordReader.TryGetClientHello(stream.AsSpan(0, TlsRecordReader.RecordHeaderLength + split), scratch, out _, out TlsStreamStatus first));
            Assert.Equal(TlsStreamStatus.NeedMoreData, first);
        }
    }

    [Fact]
    public void OneBytePerChunk_ThroughAccumulatingCaller()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello, 1, 4, 100);
        var accumulated = new List<byte>();
        var scratch = new byte[4096];
        int completions = 0;
        for (int i = 0; i < stream.Length; i++)
        {
            accumulated.Add(stream[i]);
            bool done = TlsRecordReader.TryGetClientHello(accumulated.ToArray(), scratch, out int length, out TlsStreamStatus status);
            if (i < stream.Length - 1)
            {
                Assert.False(done);
                Assert.Equal(TlsStreamStatus.NeedMoreData, status);
            }
            else
            {
                Assert.True(done);
                Assert.Equal(s_hello, scratch[..length]);
                completions++;
            }
        }

        Assert.Equal(1, completions);
    }

    [Fact]
    public void AcrossTwoRecords_EveryCut()
    {
        byte[] msg = TlsTestVectors.Rfc9001ClientHello;
        var scratch = new byte[1024];
        for (int cut = 1; cut < msg.Length; cut++)
        {
            byte[] stream = ClientHelloBuilder.ToRecords(msg, cut);
            Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out TlsStreamStatus status), $"cut {cut}: {status}");
            Assert.Equal(msg, scratch[..length]);
        }
    }

    [Fact]
    public void AcrossThreeRecords_EveryCutPair()
    {
        byte[] msg = TlsTestVectors.Rfc9001ClientHello;
        var scratch = new byte[1024];
        for (int a = 1; a < msg.Length - 1; a++)
        {
            for (int b = a + 1; b < msg.Length; b++)
            {
                byte[] stream = ClientHelloBuilder.ToRecords(msg, a, b);
                Assert.True(TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out _));
                Assert.Equal(msg.Length, length);
                Assert.True(scratch.AsSpan(0, length).SequenceEqual(msg));
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { (byte)'G', (byte)'E', (byte)'T', (byte)' ', (byte)'/' })]
    [InlineData(new byte[] { 0x16, 0x01, 0x00, 0x00, 0x10 })]      // major version 1
    [InlineData(new byte[] { 0x16, 0x03, 0x09, 0x00, 0x10 })]      // minor version 9
    [InlineData(new byte[] { 0x80, 0x2e, 0x01, 0x03, 0x01 })]      // SSLv2-compatible hello
    [InlineData(new byte[] { 0x17, 0x03, 0x03, 0x00, 0x10, 1 })]   // application data first
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x00 })]      // empty first record
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x40, 0x01 })]      // 2^14 + 1
    [InlineData(new byte[] { 0x16, 0x04 })]                       // partial header already wrong
    public void NotTls(byte[] stream)
    {
        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[4096], out _, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.NotTls, status);
        Assert.False(TlsRecordReader.IsLikelyTlsStart(stream));
    }

    [Fact]
    public void ServerHello_NotClientHello()
    {
        byte[] msg = (byte[])s_hello.Clone();
        msg[0] = 2;
        Assert.False(TlsRecordReader.TryGetClientHello(ClientHelloBuilder.ToRecords(msg), new byte[4096], out _, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.NotClientHello, status);
    }

    [Fact]
    public void ScratchTooSmall_TooLarge_ReportsDeclaredLength()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello, 10);
        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[s_hello.Length - 1], out int length, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.TooLarge, status);
        Assert.Equal(s_hello.Length, length);

        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[2], out _, out status));
        Assert.Equal(TlsStreamStatus.TooLarge, status);
    }

    [Fact]
    public void HugeDeclaredLength_TooLarge()
    {
        byte[] stream = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xFF, 0xFF, 0xFF];
        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[16384], out int length, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.TooLarge, status);
        Assert.Equal(4 + 0xFFFFFF, length);
    }

    [Fact]
    public void InterleavedNonHandshakeRecord_Malformed()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello, 20);
        stream[5 + 20] = 0x15; // second record becomes an alert
        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[4096], out _, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.Malformed, status);

        // Also when only the type byte of the second record has arrived.
        Assert.False(TlsRecordReader.TryGetClientHello(stream.AsSpan(0, 5 + 20 + 1), new byte[4096], out _, out status));
        Assert.Equal(TlsStreamStatus.Malformed, status);
    }

    [Fact]
    public void EmptyLaterRecord_Malformed()
    {
        byte[] first = ClientHelloBuilder.ToRecords(s_hello.AsSpan(0, 20));
        first[3] = 0;
        first[4] = 20;
        byte[] stream = [.. first, 0x16, 0x03, 0x03, 0x00, 0x00, .. ClientHelloBuilder.ToRecords(s_hello.AsSpan(20))];
        Assert.False(TlsRecordReader.TryGetClientHello(stream, new byte[4096], out _, out TlsStreamStatus status));
        Assert.Equal(TlsStreamStatus.Malformed, status);
    }

    [Fact]
    public void IsLikelyTlsStart_Cases()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello);
        for (int n = 1; n <= stream.Length; n++)
        {
            Assert.True(TlsRecordReader.IsLikelyTlsStart(stream.AsSpan(0, n)));
        }

        Assert.False(TlsRecordReader.IsLikelyTlsStart([]));
        Assert.False(TlsRecordReader.IsLikelyTlsStart([0x16, 0x03, 0x03, 0x00, 0x10, 0x02]));
    }

    [Fact]
    public void AllocatesNothing()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(s_hello, 7, 50);
        Span<byte> scratch = stackalloc byte[1024];
        int ok = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            if (TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out _) && TlsClientHello.TryRead(scratch[..length], out _, out _))
            {
                ok++;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, ok);
    }

    [Fact]
    public void Mutations_NeverThrow()
    {
        var rng = new Random(0x5EED);
        byte[][] seeds =
        [
            ClientHelloBuilder.ToRecords(s_hello),
            ClientHelloBuilder.ToRecords(s_hello, 3, 90),
            ClientHelloBuilder.ToRecords(TlsTestVectors.Rfc9001ClientHello, 120),
        ];
        var scratch = new byte[512];
        for (int i = 0; i < 5000; i++)
        {
            byte[] input = i % 10 == 0 ? TlsClientHelloTests.RandomBytes(rng) : TlsClientHelloTests.Mutate(rng, seeds[rng.Next(seeds.Length)]);
            bool ok = TlsRecordReader.TryGetClientHello(input, scratch, out int length, out TlsStreamStatus status, out int needed);
            Assert.Equal(ok, status == TlsStreamStatus.Complete);
            if (ok)
            {
                Assert.InRange(length, 4, Math.Min(scratch.Length, input.Length));
                _ = TlsClientHello.TryRead(scratch.AsSpan(0, length), out _, out _);
            }
            else if (status == TlsStreamStatus.NeedMoreData)
            {
                Assert.True(needed >= 1);
            }

            _ = TlsRecordReader.IsLikelyTlsStart(input);
        }
    }
}
