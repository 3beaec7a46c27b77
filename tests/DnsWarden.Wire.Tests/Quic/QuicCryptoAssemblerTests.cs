using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tests.Tls;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Tests.Quic;

public sealed class QuicCryptoAssemblerTests
{
    private static readonly byte[] s_hello = TlsTestVectors.Rfc9001ClientHello;

    [Fact]
    public void OneBytePerFrame_Reversed()
    {
        var a = new QuicCryptoAssembler();
        for (int i = s_hello.Length - 1; i >= 0; i--)
        {
            QuicCryptoStatus s = a.Add((ulong)i, s_hello.AsSpan(i, 1));
            Assert.Equal(i == 0 ? QuicCryptoStatus.Complete : QuicCryptoStatus.NeedMoreData, s);
        }

        Assert.True(a.TryGetClientHello(out ReadOnlySpan<byte> msg));
        Assert.True(msg.SequenceEqual(s_hello));
    }

    [Fact]
    public void SplitAtEveryOffset_BothOrders_WithDuplicates()
    {
        var a = new QuicCryptoAssembler(1024);
        for (int cut = 1; cut < s_hello.Length; cut++)
        {
            foreach (bool reversed in new[] { false, true })
            {
                a.Reset();
                (int Start, int End)[] parts = reversed ? [(cut, s_hello.Length), (0, cut)] : [(0, cut), (cut, s_hello.Length)];
                Assert.Equal(QuicCryptoStatus.NeedMoreData, a.Add((ulong)parts[0].Start, s_hello.AsSpan(parts[0].Start..parts[0].End)));
                Assert.Equal(QuicCryptoStatus.NeedMoreData, a.Add((ulong)parts[0].Start, s_hello.AsSpan(parts[0].Start..parts[0].End)));
                Assert.Equal(QuicCryptoStatus.Complete, a.Add((ulong)parts[1].Start, s_hello.AsSpan(parts[1].Start..parts[1].End)));
                Assert.True(a.TryGetClientHello(out ReadOnlySpan<byte> msg));
                Assert.True(msg.SequenceEqual(s_hello));
            }
        }
    }

    [Fact]
    public void Gap_StaysIncomplete()
    {
        var a = new QuicCryptoAssembler();
        a.Add(0, s_hello.AsSpan(0, 100));
        a.Add(101, s_hello.AsSpan(101));
        Assert.Equal(QuicCryptoStatus.NeedMoreData, a.Status);
        Assert.Equal(100, a.ContiguousLength);
        Assert.Equal(s_hello.Length, a.MessageLength);
        Assert.False(a.TryGetClientHello(out _));
    }

    [Fact]
    public void NotClientHello_Malformed()
    {
        var a = new QuicCryptoAssembler();
        Assert.Equal(QuicCryptoStatus.Malformed, a.Add(0, [2, 0, 0, 1, 0]));
    }

    [Fact]
    public void DeclaredLengthOverCapacity_TooLarge()
    {
        var a = new QuicCryptoAssembler(256);
        Assert.Equal(QuicCryptoStatus.TooLarge, a.Add(0, [1, 0, 1, 0]));
    }

    [Fact]
    public void DataPastCapacity_TooLarge_NoThrow()
    {
        var a = new QuicCryptoAssembler(256);
        Assert.Equal(QuicCryptoStatus.TooLarge, a.Add(ulong.MaxValue - 1, [1, 2, 3]));
        a.Reset();
        Assert.Equal(QuicCryptoStatus.TooLarge, a.Add(250, new byte[10]));
    }

    [Fact]
    public void Add_AllocatesNothing()
    {
        var a = new QuicCryptoAssembler();
        byte[] hello = s_hello;
        a.Add(0, hello);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            a.Reset();
            a.Add(120, hello.AsSpan(120));
            a.Add(0, hello.AsSpan(0, 120));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(QuicCryptoStatus.Complete, a.Status);
    }

    [Fact]
    public void RandomFragments_Property()
    {
        var rng = new Random(0xF00D);
        byte[] big = new ClientHelloBuilder().ServerName("doq.example.test").Alpn("doq").Extension(0x0033, new byte[3000]).Build();
        var a = new QuicCryptoAssembler();
        for (int round = 0; round < 200; round++)
        {
            a.Reset();
            var pieces = new List<(int, int)>();
            int p = 0;
            while (p < big.Length)
            {
                int n = Math.Min(rng.Next(1, 400), big.Length - p);
                pieces.Add((p, n));
                p += n;
            }

            // Shuffle and duplicate a few pieces, with some overlapping re-sends.
            foreach ((int s, int n) in pieces.OrderBy(_ => rng.Next()).Concat(pieces.Take(3)))
            {
                a.Add((ulong)s, big.AsSpan(s, n));
                int extra = Math.Min(big.Length - s, n + 7);
                a.Add((ulong)s, big.AsSpan(s, extra));
            }

            Assert.True(a.TryGetClientHello(out ReadOnlySpan<byte> msg));
            Assert.True(TlsClientHello.TryRead(msg, out ClientHelloInfo info, out _));
            Assert.True(info.AlpnContains(msg, "doq"u8));
        }
    }
}
