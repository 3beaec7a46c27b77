using System.Net;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Upstreams;

public sealed class UpstreamFactoryTests
{
    [Theory]
    [InlineData("udp://127.0.0.1:5353", typeof(UdpUpstream))]
    [InlineData("tcp://[::1]:5353", typeof(TcpUpstream))]
    [InlineData("tls://127.0.0.1", typeof(TlsUpstream))]
    [InlineData("https://[::1]/dns-query", typeof(HttpsUpstream))]
    public async Task EachSchemeGetsItsTransport(string url, Type expected)
    {
        await using IDnsUpstream upstream = UpstreamFactory.Create(TestDns.Config(url), TestDns.Timeout);

        Assert.IsType(expected, upstream);
        Assert.Equal(url, upstream.Config.Url);
    }

    [Theory]
    [InlineData("tls://dns.example")]
    [InlineData("https://dns.example/dns-query")]
    [InlineData("udp://resolver.lan")]
    public void NameWithoutBootstrapIsRefused(string url)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => UpstreamFactory.Create(TestDns.Config(url), TestDns.Timeout));

        Assert.Contains("bootstrap", e.Message, StringComparison.Ordinal);
        Assert.Contains(url, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NameWithBootstrapIsAccepted()
    {
        await using IDnsUpstream upstream = UpstreamFactory.Create(TestDns.Config("tls://dns.example", IPAddress.Loopback), TestDns.Timeout);

        Assert.Equal("dns.example", upstream.Config.TlsName);
    }

    [Fact]
    public void MissingCaFileIsRefused()
    {
        var config = TestDns.Config("tls://127.0.0.1") with { CaFile = "/nonexistent/dnsw-ca.pem" };

        ArgumentException e = Assert.Throws<ArgumentException>(() => UpstreamFactory.Create(config, TestDns.Timeout));

        Assert.Contains("CA file", e.Message, StringComparison.Ordinal);
    }
}
