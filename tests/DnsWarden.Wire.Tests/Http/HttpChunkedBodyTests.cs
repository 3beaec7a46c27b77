using System.Text;
using DnsWarden.Wire.Http;

namespace DnsWarden.Wire.Tests.Http;

/// <summary>Where a chunked body ends (RFC 9112 §7.1), fed whole, at every cut and every pair of cuts, and one byte at a time.</summary>
public sealed class HttpChunkedBodyTests
{
    private const string Body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";
    private const string Next = "GET / HTTP/1.1\r\n";

    private static readonly byte[] s_stream = Encoding.ASCII.GetBytes(Body + Next);

    /// <summary>Feeds the pieces in turn; the number of bytes the body took, or -1 if it never completed.</summary>
    private static int Feed(params byte[][] pieces)
    {
        var body = default(HttpChunkedBody);
        int total = 0;
        foreach (byte[] piece in pieces)
        {
            HttpBodyStatus status = body.Advance(piece, out int consumed);
            total += consumed;
            if (status == HttpBodyStatus.Complete)
            {
                return total;
            }

            Assert.Equal(HttpBodyStatus.NeedMoreData, status);
            Assert.Equal(piece.Length, consumed);
        }

        return -1;
    }

    [Fact]
    public void WholeTheBodyEndsBeforeTheNextRequest() => Assert.Equal(Body.Length, Feed(s_stream));

    [Fact]
    public void EveryCutAndEveryPairOfCuts()
    {
        for (int i = 0; i <= s_stream.Length; i++)
        {
            Assert.Equal(Body.Length, Feed(s_stream[..i], s_stream[i..]));
            for (int j = i; j <= s_stream.Length; j++)
            {
                Assert.Equal(Body.Length, Feed(s_stream[..i], s_stream[i..j], s_stream[j..]));
            }
        }
    }

    [Fact]
    public void OneByteAtATime() => Assert.Equal(Body.Length, Feed([.. s_stream.Select(b => new[] { b })]));

    [Fact]
    public void EveryProperPrefixNeedsMore()
    {
        for (int n = 0; n < Body.Length; n++)
        {
            Assert.Equal(-1, Feed(s_stream[..n]));
        }
    }

    [Theory]
    [InlineData("x\r\n")]
    [InlineData("\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n")]
    [InlineData("0\r\n\n")]
    [InlineData("fffffffffffffffff\r\n")]
    public void BadFramingIsRefused(string text)
    {
        var body = default(HttpChunkedBody);
        Assert.Equal(HttpBodyStatus.Malformed, body.Advance(Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void AnEndlessSizeLineIsRefused()
    {
        var body = default(HttpChunkedBody);
        byte[] line = Encoding.ASCII.GetBytes("1;" + new string('x', HttpChunkedBody.MaxLineLength));
        Assert.Equal(HttpBodyStatus.Malformed, body.Advance(line, out _));
    }
}
