using System.Text;
using DnsWarden.Wire.Http;

namespace DnsWarden.Wire.Tests.Http;

/// <summary>The proxy's request head reader (RFC 9112): what it decides by, every proper prefix, and each refusal.</summary>
public sealed class HttpRequestHeadTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    private static HttpRequestHead Read(string text, out byte[] bytes)
    {
        bytes = B(text);
        Assert.True(HttpRequestHead.TryRead(bytes, out HttpRequestHead head, out HttpHeadStatus status, out HttpHeadError error), error.ToString());
        Assert.Equal(HttpHeadStatus.Complete, status);
        return head;
    }

    [Fact]
    public void OriginFormTakesTheHostFieldWithoutItsPort()
    {
        HttpRequestHead head = Read("GET /v1/items?x=1 HTTP/1.1\r\nHost: API.Example.test:8080\r\nAccept: */*\r\n\r\nBODY", out byte[] b);
        Assert.Equal("GET", head.MethodString(b));
        Assert.Equal("api.example.test", head.HostString(b));
        Assert.Equal("/v1/items?x=1", head.PathString(b));
        Assert.Equal(b.Length - 4, head.Length);
        Assert.Equal(HttpRequestHead.NoContentLength, head.ContentLength);
        Assert.False(head.IsChunked || head.IsUpgrade || head.IsConnect || head.IsAbsoluteForm);
    }

    [Fact]
    public void AbsoluteFormAndConnectNameTheirTargetsHost()
    {
        HttpRequestHead abs = Read("POST http://a.example.test/p HTTP/1.1\r\nHost: a.example.test\r\nContent-Length: 5\r\n\r\n", out byte[] b);
        Assert.True(abs.IsAbsoluteForm);
        Assert.Equal("a.example.test", abs.HostString(b));
        Assert.Equal("/p", abs.PathString(b));
        Assert.Equal(5, abs.ContentLength);

        HttpRequestHead connect = Read("CONNECT a.example.test:443 HTTP/1.1\r\nHost: a.example.test:443\r\n\r\n", out b);
        Assert.True(connect.IsConnect);
        Assert.Equal("a.example.test", connect.HostString(b));

        HttpRequestHead v10 = Read("GET http://[2001:db8::1]:8080/ HTTP/1.0\r\n\r\n", out b);
        Assert.Equal("[2001:db8::1]", v10.HostString(b));
    }

    [Fact]
    public void ChunkedAndUpgradeAreSeen()
    {
        Assert.True(Read("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", out _).IsChunked);
        Assert.True(Read("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", out _).IsUpgrade);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpHeadError.BadHost)]
    [InlineData("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HttpHeadError.BadHost)]
    [InlineData("GET / HTTP/1.1\r\nHost:\r\n\r\n", HttpHeadError.BadHost)]
    [InlineData("GET http://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", HttpHeadError.HostMismatch)]
    [InlineData("GET http://a.test@b.test/ HTTP/1.1\r\nHost: a.test@b.test\r\n\r\n", HttpHeadError.HostMismatch)]
    [InlineData("CONNECT b.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", HttpHeadError.HostMismatch)]
    [InlineData("GET / HTTP/1.1\nHost: a\n\n", HttpHeadError.BadLineEnding)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", HttpHeadError.BadLineEnding)]
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HttpHeadError.BadHeader)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", HttpHeadError.BadHeader)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", HttpHeadError.BadHeader)]
    [InlineData("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HttpHeadError.BadRequestLine)]
    [InlineData("GET  HTTP/1.1\r\nHost: a\r\n\r\n", HttpHeadError.BadRequestLine)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", HttpHeadError.BadContentLength)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", HttpHeadError.BadContentLength)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HttpHeadError.BadTransferEncoding)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", HttpHeadError.BadTransferEncoding)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HttpHeadError.BadTransferEncoding)]
    public void AmbiguousHeadsAreRefused(string text, HttpHeadError expected)
    {
        Assert.False(HttpRequestHead.TryRead(B(text), out _, out HttpHeadStatus status, out HttpHeadError error));
        Assert.Equal(HttpHeadStatus.Malformed, status);
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("\x16\x03\x01")]
    [InlineData("GET\x00/ HTTP/1.1")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
    public void AStartThatCannotBeARequestLineIsRefusedBeforeItEnds(string start)
    {
        Assert.False(HttpRequestHead.TryRead(B(start), out _, out HttpHeadStatus status, out HttpHeadError error));
        Assert.Equal(HttpHeadStatus.Malformed, status);
        Assert.Equal(HttpHeadError.BadRequestLine, error);
    }

    [Fact]
    public void EveryProperPrefixNeedsMoreData()
    {
        byte[] full = B("POST /upload HTTP/1.1\r\nHost: a.example.test\r\nTransfer-Encoding: chunked\r\nUpgrade: x\r\n\r\n");
        for (int n = 0; n < full.Length; n++)
        {
            bool ok = HttpRequestHead.TryRead(full.AsSpan(0, n), out _, out HttpHeadStatus status, out HttpHeadError error);
            Assert.False(ok);
            Assert.True(status == HttpHeadStatus.NeedMoreData, $"prefix {n}: {status} {error}");
        }

        Assert.True(HttpRequestHead.TryRead(full, out HttpRequestHead head, out _, out _));
        Assert.Equal(full.Length, head.Length);
    }
}
