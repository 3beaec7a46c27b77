using System.Net;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

public sealed class DomainSetTests
{
    [Theory]
    [InlineData("example.com", "example.com", true)]
    [InlineData("example.com", "www.example.com", true)]
    [InlineData("example.com", "a.b.example.com", true)]
    [InlineData("example.com", "notexample.com", false)]
    [InlineData("example.com", "example.com.evil", false)]
    [InlineData("example.com", "com", false)]
    [InlineData("=example.com", "example.com", true)]
    [InlineData("=example.com", "www.example.com", false)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", "www.example.com", true)]
    [InlineData("*.example.com", "a.b.example.com", true)]
    [InlineData("Example.COM", "www.example.com", true)]
    [InlineData("example.com", "WWW.EXAMPLE.COM", true)]
    [InlineData("example.com.", "www.example.com", true)]
    [InlineData("example.com", "www.example.com.", true)]
    [InlineData("=example.com", "EXAMPLE.com.", true)]
    [InlineData("lan", "printer.lan", true)]
    [InlineData("_tcp.example", "_srv._tcp.example", true)]
    public void Matches(string rule, string name, bool expected) =>
        Assert.Equal(expected, new DomainSet([rule]).Matches(name));

    [Fact]
    public void Empty_MatchesNothing()
    {
        Assert.False(DomainSet.Empty.Matches("example.com"));
        Assert.False(DomainSet.Empty.Matches(""));
        Assert.Equal(0, DomainSet.Empty.Count);
    }

    [Fact]
    public void Rules_AreNormalised()
    {
        var set = new DomainSet(["Example.COM.", "=A.example", "*.B.example"]);
        Assert.Equal(["example.com", "=a.example", "*.b.example"], set.Rules);
        Assert.Equal(3, set.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("=")]
    [InlineData("*.")]
    [InlineData("a..b")]
    [InlineData(".example")]
    [InlineData("bad domain")]
    [InlineData("*example.com")]
    [InlineData("a.*.example")]
    [InlineData("exa/mple")]
    [InlineData("ex\u00e4mple.com")]
    public void InvalidRules_AreRefusedWithAReason(string rule)
    {
        Assert.False(DomainSet.IsValidRule(rule, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<ArgumentException>(() => new DomainSet([rule]));
    }

    [Fact]
    public void LabelAndNameLimits()
    {
        // RFC 1035 §2.3.4: 63-character labels; the text form of a name is at most 253 characters.
        Assert.True(DomainSet.IsValidRule(new string('a', 63) + ".example", out _));
        Assert.False(DomainSet.IsValidRule(new string('a', 64) + ".example", out _));
        string name253 = string.Join('.', Enumerable.Repeat(new string('a', 49), 5)) + ".abc";
        Assert.Equal(253, name253.Length);
        Assert.True(DomainSet.IsValidRule(name253, out _));
        Assert.False(DomainSet.IsValidRule(name253 + "d", out _));
    }
}

public sealed class InterfacePatternTests
{
    [Theory]
    [InlineData("wg0", "wg0", true)]
    [InlineData("wg0", "wg01", false)]
    [InlineData("wg0", "WG0", false)]
    [InlineData("wg*", "wg", true)]
    [InlineData("wg*", "wg12", true)]
    [InlineData("wg*", "xwg1", false)]
    [InlineData("*", "anything", true)]
    [InlineData("*0", "eth0", true)]
    [InlineData("*0", "eth1", false)]
    [InlineData("e*h*0", "eth0", true)]
    [InlineData("e*h*0", "eh0", true)]
    [InlineData("a*a", "a", false)]
    [InlineData("a*a", "aa", true)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("tun*", "tun", true)]
    public void Matches(string pattern, string name, bool expected) =>
        Assert.Equal(expected, new InterfacePattern(pattern).Matches(name));
}

public sealed class EndpointTests
{
    private static EndpointRule Parse(string text)
    {
        Assert.True(Profiles.TryParseEndpoint(text, out EndpointRule? rule, out string? error), error);
        Assert.Null(error);
        return rule!;
    }

    [Theory]
    [InlineData("10.8.0.1", "10.8.0.1/32", null)]
    [InlineData("10.8.0.1:53", "10.8.0.1/32", 53)]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", null)]
    [InlineData("10.0.0.0/8:853", "10.0.0.0/8", 853)]
    [InlineData("0.0.0.0/0", "0.0.0.0/0", null)]
    [InlineData("fd00::1", "fd00::1/128", null)]
    [InlineData("[fd00::1]", "fd00::1/128", null)]
    [InlineData("[fd00::1]:53", "fd00::1/128", 53)]
    [InlineData("fd00::/8", "fd00::/8", null)]
    [InlineData("::1", "::1/128", null)]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1/32", null)]
    [InlineData("[::ffff:10.0.0.1]:65535", "10.0.0.1/32", 65535)]
    [InlineData(" 10.8.0.1 ", "10.8.0.1/32", null)]
    public void Forms(string text, string network, int? port)
    {
        EndpointRule rule = Parse(text);
        Assert.Equal(IPNetwork.Parse(network), rule.Network);
        Assert.Equal(port is null ? null : (ushort?)port, rule.Port);
    }

    [Theory]
    [InlineData("10.8.0.1")]
    [InlineData("10.8.0.1:53")]
    [InlineData("10.0.0.0/8")]
    [InlineData("10.0.0.0/8:53")]
    [InlineData("fd00::1")]
    [InlineData("[fd00::1]:53")]
    [InlineData("fd00::/8")]
    public void ToString_RoundTrips(string text) => Assert.Equal(text, Parse(text).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("10.1")]
    [InlineData("10.0.0")]
    [InlineData("010.0.0.1")]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0.1.5")]
    [InlineData("dns.example")]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:65536")]
    [InlineData("10.0.0.1:+53")]
    [InlineData("10.0.0.1: 53")]
    [InlineData("10.0.0.1:")]
    [InlineData("[fd00::1")]
    [InlineData("[fd00::1]53")]
    [InlineData("[fd00::1]:0")]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/08")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("fd00::1/8")]
    [InlineData("fd00::/129")]
    [InlineData("/8")]
    public void Invalid_IsRefusedWithAReason(string text)
    {
        Assert.False(Profiles.TryParseEndpoint(text, out EndpointRule? rule, out string? error));
        Assert.Null(rule);
        Assert.Contains($"'{text}'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.8.0.1", "10.8.0.1", 53, true)]
    [InlineData("10.8.0.1", "10.8.0.2", 53, false)]
    [InlineData("10.8.0.1:53", "10.8.0.1", 853, false)]
    [InlineData("10.0.0.0/8", "10.255.255.255", 1, true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", 1, false)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", 53, true)]
    [InlineData("fd00::/8", "fd12::1", 53, true)]
    [InlineData("fd00::/8", "fe80::1", 53, false)]
    [InlineData("[fd00::1]:53", "fd00::1", 53, true)]
    [InlineData("fd00::/8", "10.0.0.1", 53, false)]
    public void Matches(string rule, string address, int port, bool expected) =>
        Assert.Equal(expected, Parse(rule).Matches(IPAddress.Parse(address), (ushort)port));

    [Theory]
    [InlineData("198.51.100.53", "198.51.100.53")]
    [InlineData("2001:db8::53", "2001:db8::53")]
    [InlineData("::ffff:198.51.100.53", "198.51.100.53")]
    [InlineData("198.51.100", null)]
    [InlineData("198.51.100.053", null)]
    [InlineData("0x7f.0.0.1", null)]
    [InlineData(" 198.51.100.53", null)]
    [InlineData("2001:db8::53:", null)]
    [InlineData("", null)]
    public void TryParseAddress(string text, string? expected)
    {
        Assert.Equal(expected is not null, Profiles.TryParseAddress(text, out IPAddress? address));
        Assert.Equal(expected, address?.ToString());
    }
}

public sealed class PolicyDurationTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("500ms", 500)]
    [InlineData("1ms", 1)]
    [InlineData("60s", 60_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("168h", 604_800_000)]
    [InlineData("0s", 0)]
    [InlineData("1.5s", 1_500)]
    [InlineData("60", 60_000)]
    [InlineData("0.25", 250)]
    [InlineData("1d", 86_400_000)]
    [InlineData("30d", 2_592_000_000)]
    [InlineData("2.5m", 150_000)]
    public void Parses(string text, long milliseconds)
    {
        Assert.True(PolicyDuration.TryParse(text, out TimeSpan value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData(".5s")]
    [InlineData("5.s")]
    [InlineData("1.2.3s")]
    [InlineData("1e3s")]
    [InlineData("soon")]
    [InlineData("60 s")]
    [InlineData(" 60s")]
    [InlineData("-1s")]
    [InlineData("+1s")]
    [InlineData("1S")]
    [InlineData("1sec")]
    [InlineData("9999999999d")]
    [InlineData("99999999999999999999s")]
    public void Refuses(string text)
    {
        Assert.False(PolicyDuration.TryParse(text, out TimeSpan value));
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("500ms")]
    [InlineData("90s")]
    [InlineData("2m")]
    [InlineData("1h")]
    [InlineData("1d")]
    public void Format_RoundTrips(string text)
    {
        Assert.True(PolicyDuration.TryParse(text, out TimeSpan value));
        Assert.Equal(text, PolicyDuration.Format(value));
    }
}
