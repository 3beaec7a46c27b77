using DnsWarden.Wire.Quic;

namespace DnsWarden.Wire.Tests.Quic;

public sealed class QuicVarIntTests
{
    // RFC 9000 Appendix A.1 sample decodings.
    [Theory]
    [InlineData("c2197c5eff14e88c", 151288809941952652UL)]
    [InlineData("9d7f3e7d", 494878333UL)]
    [InlineData("7bbd", 15293UL)]
    [InlineData("25", 37UL)]
    [InlineData("4025", 37UL)]
    public void Rfc9000_A1(string hex, ulong expected)
    {
        byte[] b = Convert.FromHexString(hex);
        Assert.True(QuicVarInt.TryRead(b, out ulong v, out int n));
        Assert.Equal(expected, v);
        Assert.Equal(b.Length, n);
        for (int i = 0; i < b.Length; i++)
        {
            Assert.False(QuicVarInt.TryRead(b.AsSpan(0, i), out _, out _));
        }
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(63UL)]
    [InlineData(64UL)]
    [InlineData(16383UL)]
    [InlineData(16384UL)]
    [InlineData(1073741823UL)]
    [InlineData(1073741824UL)]
    [InlineData(QuicVarInt.MaxValue)]
    public void RoundTrip(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        Assert.True(QuicVarInt.TryWrite(b, value, out int n));
        Assert.Equal(QuicVarInt.GetEncodedLength(value), n);
        Assert.True(QuicVarInt.TryRead(b[..n], out ulong back, out int m));
        Assert.Equal(value, back);
        Assert.Equal(n, m);
    }

    [Fact]
    public void TooLarge_OrShortBuffer_False()
    {
        Assert.False(QuicVarInt.TryWrite(new byte[8], QuicVarInt.MaxValue + 1, out _));
        Assert.False(QuicVarInt.TryWrite(new byte[1], 64, out _));
    }
}
