using System.Net;
using DnsWarden.Policy;
using FsCheck.Xunit;

namespace DnsWarden.Policy.Tests;

/// <summary>Upstream URLs with the <c>NAME@ADDRESS</c> bootstrap shorthand, listening addresses, and <see cref="ProxyConfig.Validate"/>.</summary>
public sealed class ProxyConfigUpstreamTests
{
    private static UpstreamConfig Parse(string text)
    {
        Assert.True(UpstreamConfig.TryParse(text, out UpstreamConfig? config, out string? error), error);
        Assert.Equal(text, config.Url);
        return config;
    }

    [Theory]
    [InlineData("udp://10.0.0.1", UpstreamProtocol.Udp, "10.0.0.1", 53, "", null, "10.0.0.1")]
    [InlineData("tcp://[fd00::1]:5353", UpstreamProtocol.Tcp, "fd00::1", 5353, "", null, "fd00::1")]
    [InlineData("TLS://10.0.0.2", UpstreamProtocol.Tls, "10.0.0.2", 853, "", null, "10.0.0.2")]
    [InlineData("tls://dns.example@10.0.0.2", UpstreamProtocol.Tls, "dns.example", 853, "", "10.0.0.2", "10.0.0.2")]
    [InlineData("tls://dns.example@10.0.0.2:853", UpstreamProtocol.Tls, "dns.example", 853, "", "10.0.0.2", "10.0.0.2")]
    [InlineData("tls://dns.example@10.0.0.2:8853", UpstreamProtocol.Tls, "dns.example", 8853, "", "10.0.0.2", "10.0.0.2")]
    [InlineData("udp://resolver.lan@10.0.0.9", UpstreamProtocol.Udp, "resolver.lan", 53, "", "10.0.0.9", "10.0.0.9")]
    [InlineData("https://dns.example@[fd00::3]/dns-query", UpstreamProtocol.Https, "dns.example", 443, "/dns-query", "fd00::3", "fd00::3")]
    [InlineData("https://dns.example@[fd00::3]:8443/q", UpstreamProtocol.Https, "dns.example", 8443, "/q", "fd00::3", "fd00::3")]
    [InlineData("https://dns.example@10.0.0.3", UpstreamProtocol.Https, "dns.example", 443, "/dns-query", "10.0.0.3", "10.0.0.3")]
    [InlineData("https://10.0.0.3/", UpstreamProtocol.Https, "10.0.0.3", 443, "/dns-query", null, "10.0.0.3")]
    public void Shorthand(string text, UpstreamProtocol protocol, string host, int port, string path, string? bootstrap, string connect)
    {
        UpstreamConfig c = Parse(text);
        Assert.Equal(protocol, c.Protocol);
        Assert.Equal(host, c.Host);
        Assert.Equal(port, c.Port);
        Assert.Equal(path, c.Path);
        Assert.Equal(bootstrap, c.Bootstrap?.ToString());
        Assert.Equal(IPAddress.Parse(connect), c.ConnectAddress);
        Assert.Equal(host, c.TlsName);
    }

    [Theory]
    [InlineData("10.0.0.1", "'10.0.0.1' is not an upstream URL (expected udp://, tcp://, tls:// or https:// and an address)")]
    [InlineData("dns://10.0.0.1", "unknown scheme 'dns' in 'dns://10.0.0.1' (expected udp://, tcp://, tls:// or https://)")]
    [InlineData("tls://dns.example", "'tls://dns.example': 'dns.example' needs a bootstrap address: the resolver never asks the system resolver (write it after the host, e.g. tls://dns.example@10.0.0.2)")]
    [InlineData("https://dns.example/dns-query", "'https://dns.example/dns-query': 'dns.example' needs a bootstrap address: the resolver never asks the system resolver (write it after the host, e.g. https://dns.example@10.0.0.2)")]
    [InlineData("tls://dns.example@dns2.example", "'tls://dns.example@dns2.example': bootstrap 'dns2.example' is not an IP address (expected e.g. 10.0.0.2 or [fd00::2] after '@')")]
    [InlineData("tls://dns.example@fd00::3", "'tls://dns.example@fd00::3': an IPv6 address must be in brackets, e.g. tls://[fd00::1]:853")]
    [InlineData("tls://dns.example:853@10.0.0.2", "'tls://dns.example:853@10.0.0.2': before '@' goes a host name; the port goes after the bootstrap address, e.g. tls://dns.example@10.0.0.2:853")]
    [InlineData("tls://10.0.0.1@10.0.0.2", "'tls://10.0.0.1@10.0.0.2': '10.0.0.1' is an address already; a bootstrap address after '@' is only for a host name")]
    [InlineData("tls://a.example@b@10.0.0.2", "'tls://a.example@b@10.0.0.2': only one '@' (expected tls://NAME@ADDRESS)")]
    [InlineData("tls://@10.0.0.2", "'tls://@10.0.0.2': no host name before '@'")]
    [InlineData("tls://dns.example@", "'tls://dns.example@': bootstrap '' is not an IP address (expected e.g. 10.0.0.2 or [fd00::2] after '@')")]
    [InlineData("tls://dns.example@[10.0.0.2]", "'tls://dns.example@[10.0.0.2]': '10.0.0.2' is not an IPv6 address")]
    [InlineData("tls://dns.example@10.0.0.2:0", "'tls://dns.example@10.0.0.2:0': port '0' is not a number from 1 to 65535")]
    [InlineData("udp://10.1", "'udp://10.1': '10.1' is not an IPv4 address (expected four numbers such as 10.0.0.1)")]
    [InlineData("udp://fd00::1", "'udp://fd00::1': an IPv6 address must be in brackets, e.g. udp://[fd00::1]:53")]
    [InlineData("udp://10.0.0.1/x", "'udp://10.0.0.1/x': only https:// upstreams take a path")]
    [InlineData("udp://bad_host!@10.0.0.1", "'udp://bad_host!@10.0.0.1': 'bad_host!' is neither an address nor a host name")]
    [InlineData("udp://", "'udp://': no host")]
    public void Shorthand_Errors(string text, string expected)
    {
        Assert.False(UpstreamConfig.TryParse(text, out UpstreamConfig? config, out string? error));
        Assert.Null(config);
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("127.0.0.1:53", "127.0.0.1", 53)]
    [InlineData("[::1]:53", "::1", 53)]
    [InlineData("0.0.0.0:5353", "0.0.0.0", 5353)]
    [InlineData("[fd00::53]:65535", "fd00::53", 65535)]
    public void EndPoints(string text, string address, int port)
    {
        Assert.True(ProxyConfig.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error), error);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endPoint);
        Assert.Equal(text, ProxyConfig.Format(endPoint));
    }

    [Theory]
    [InlineData("127.0.0.1", "'127.0.0.1' has no port (expected IP:PORT such as 127.0.0.1:53)")]
    [InlineData("::1:53", "'::1:53': an IPv6 address must be in brackets, e.g. [::1]:53")]
    [InlineData("[::1]", "'[::1]' is not IP:PORT (expected e.g. [::1]:53: an IPv6 address in brackets, then ':' and the port)")]
    [InlineData("[127.0.0.1]:53", "'[127.0.0.1]:53': '127.0.0.1' is not an IPv6 address")]
    [InlineData("localhost:53", "'localhost:53': 'localhost' is not an IPv4 address (expected IP:PORT such as 127.0.0.1:53)")]
    [InlineData("127.1:53", "'127.1:53': '127.1' is not an IPv4 address (expected IP:PORT such as 127.0.0.1:53)")]
    [InlineData("127.0.0.1:0", "'127.0.0.1:0': port '0' is not a number from 1 to 65535")]
    [InlineData("127.0.0.1:65536", "'127.0.0.1:65536': port '65536' is not a number from 1 to 65535")]
    [InlineData("127.0.0.1:+53", "'127.0.0.1:+53': port '+53' is not a number from 1 to 65535")]
    [InlineData("", "'' has no port (expected IP:PORT such as 127.0.0.1:53)")]
    public void EndPoint_Errors(string text, string expected)
    {
        Assert.False(ProxyConfig.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error));
        Assert.Null(endPoint);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Validate_CrossChecks()
    {
        Assert.Equal(["upstreams: at least one upstream is needed unless the policy sinkholes everything"], new ProxyConfig().Validate());
        Assert.Empty(new ProxyConfig { Policy = new ResolverPolicy { Mode = ResolverMode.SinkholeAll } }.Validate());

        UpstreamConfig upstream = Parse("udp://10.0.0.1");
        Assert.Empty(new ProxyConfig { Upstreams = [upstream] }.Validate());

        var broken = new ProxyConfig
        {
            Listen = [],
            Upstreams = [upstream with { Host = "dns.example" }],
            QueryLogPrivacy = "secret",
            TrackerMinTtl = TimeSpan.FromMinutes(5),
            TrackerMaxTtl = TimeSpan.FromMinutes(1),
        };
        Assert.Equal(
            [
                "listen: at least one address is needed (e.g. 127.0.0.1:53)",
                "upstreams[0]: 'dns.example' needs a bootstrap address: the resolver never asks the system resolver",
                "query_log.privacy: 'secret' is not valid (expected one of: full, redacted, minimal)",
                "ip_tracker: min_ttl must be at least 0 and at most max_ttl",
            ],
            broken.Validate());

        IPEndPoint twice = new(IPAddress.Loopback, 53);
        Assert.Equal(["listen: 127.0.0.1:53 is listed twice"], new ProxyConfig { Listen = [twice, twice], Upstreams = [upstream] }.Validate());
    }

    [Property(MaxTest = 3000)]
    public bool UpstreamTryParse_NeverThrows(string text)
    {
        bool ok = UpstreamConfig.TryParse(text, out UpstreamConfig? config, out string? error);
        return ok == (config is not null) && ok == (error is null) && (!ok || config!.ConnectAddress is not null);
    }

    [Property(MaxTest = 3000)]
    public bool TryParseEndPoint_NeverThrows(string text)
    {
        bool ok = ProxyConfig.TryParseEndPoint(text, out IPEndPoint? endPoint, out string? error);
        return ok == (endPoint is not null) && ok == (error is null) && (!ok || endPoint!.Port is >= 1 and <= 65535);
    }

    [Property(MaxTest = 2000)]
    public bool UpstreamShorthand_RoundTripsItsParts(byte a, byte b, ushort port)
    {
        int p = port == 0 ? 853 : port;
        string text = $"tls://dns{a}.example@10.{a}.{b}.1:{p}";
        return UpstreamConfig.TryParse(text, out UpstreamConfig? c, out _)
            && c.Host == $"dns{a}.example"
            && c.Bootstrap!.Equals(IPAddress.Parse($"10.{a}.{b}.1"))
            && c.Port == p;
    }
}
