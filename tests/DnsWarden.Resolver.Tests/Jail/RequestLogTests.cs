using System.Net;
using System.Text;
using System.Text.Json;
using DnsWarden.Guard.Jail;
using DnsWarden.Indicators;

namespace DnsWarden.Resolver.Tests.Jail;

/// <summary>The request log's lines for a request read inside intercepted TLS: https, with its method, host and path.</summary>
public sealed class RequestLogTests
{
    private static readonly ProxyRequest s_intercepted = new()
    {
        Time = new DateTimeOffset(2026, 12, 6, 17, 7, 20, TimeSpan.Zero),
        Allowed = true,
        Rule = "GET allowed.hp.test/ok/",
        Protocol = "https",
        Method = "GET",
        Host = "allowed.hp.test",
        Path = "/ok/curl",
        Destination = new IPEndPoint(IPAddress.Parse("203.0.113.90"), 443),
        Upstream = IPAddress.Parse("203.0.113.90"),
        BytesSent = 90,
    };

    private static string Write(RequestLogFormat format, ProxyRequest r)
    {
        using var stream = new MemoryStream();
        new RequestLog(stream, format, PrivacyMode.Full, BaseDomains.Default).Write(r);
        return Encoding.UTF8.GetString(stream.ToArray()).TrimEnd('\n');
    }

    [Fact]
    public void AnInterceptedRequestIsAnHttpsUrlInHttpjailsFormat()
    {
        Assert.Equal("2026-12-06T17:07:20.000000Z + GET https://allowed.hp.test/ok/curl", Write(RequestLogFormat.Httpjail, s_intercepted));
        Assert.Equal("2026-12-06T17:07:20.000000Z - POST https://allowed.hp.test:8443/ok",
            Write(RequestLogFormat.Httpjail, s_intercepted with { Allowed = false, Method = "POST", Path = "/ok", Destination = new IPEndPoint(IPAddress.Parse("203.0.113.90"), 8443) }));
    }

    [Fact]
    public void AnInterceptedRequestIsAJsonLineWithMethodHostAndPath()
    {
        JsonElement e = JsonDocument.Parse(Write(RequestLogFormat.Json, s_intercepted)).RootElement;
        Assert.Equal("https", e.GetProperty("protocol").GetString());
        Assert.Equal("GET", e.GetProperty("method").GetString());
        Assert.Equal("allowed.hp.test", e.GetProperty("host").GetString());
        Assert.Equal("/ok/curl", e.GetProperty("path").GetString());
        Assert.Equal(90, e.GetProperty("bytes_out").GetInt64());
        Assert.False(e.TryGetProperty("bytes_in", out _));
        Assert.False(e.TryGetProperty("sni", out _));
    }
}
