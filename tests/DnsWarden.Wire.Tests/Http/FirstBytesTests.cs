using System.Text;
using DnsWarden.Wire.Http;
using DnsWarden.Wire.Tests.Tls;

namespace DnsWarden.Wire.Tests.Http;

/// <summary>TLS, HTTP or neither from a stream's first bytes, at every prefix.</summary>
public sealed class FirstBytesTests
{
    [Fact]
    public void AClientHelloIsTlsFromItsSixthByte()
    {
        byte[] stream = ClientHelloBuilder.ToRecords(new ClientHelloBuilder().ServerName("a.example.test").Build());
        for (int n = 0; n <= stream.Length; n++)
        {
            Assert.Equal(n <= 5 ? FirstBytesKind.NeedMoreData : FirstBytesKind.Tls, FirstBytes.Classify(stream.AsSpan(0, n)));
        }
    }

    [Fact]
    public void ARequestLineIsHttpOnceItsMethodEnds()
    {
        byte[] stream = Encoding.ASCII.GetBytes("OPTIONS * HTTP/1.1\r\n");
        for (int n = 0; n <= stream.Length; n++)
        {
            Assert.Equal(n <= 7 ? FirstBytesKind.NeedMoreData : FirstBytesKind.Http, FirstBytes.Classify(stream.AsSpan(0, n)));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x16, 0x02 })]
    [InlineData(new byte[] { 0x17, 0x03, 0x03 })]
    [InlineData(new byte[] { (byte)'S', (byte)'S', (byte)'H', (byte)'-' })]
    [InlineData(new byte[] { (byte)' ', (byte)'G' })]
    [InlineData(new byte[] { (byte)'g', (byte)'e', (byte)'t', (byte)' ' })]
    public void AnythingElseIsOther(byte[] start) => Assert.Equal(FirstBytesKind.Other, FirstBytes.Classify(start));

    [Fact]
    public void AnEndlessMethodIsOther() => Assert.Equal(FirstBytesKind.Other, FirstBytes.Classify(Encoding.ASCII.GetBytes(new string('A', 40))));
}
