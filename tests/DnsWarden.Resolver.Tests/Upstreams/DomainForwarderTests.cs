using DnsWarden.Policy;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>Conditional forwarding: the longest suffix wins, at label boundaries only; the rest go to the default pool.</summary>
public sealed class DomainForwarderTests
{
    private static UpstreamPool Pool(FakeUpstream u) => new([u], UpstreamStrategy.Failover, TimeSpan.FromSeconds(1));

    [Theory]
    [InlineData("host.corp.example", "corp")]
    [InlineData("CORP.EXAMPLE", "corp")]
    [InlineData("a.b.lab.corp.example", "lab")]
    [InlineData("lab.corp.example", "lab")]
    [InlineData("notcorp.example", "default")]
    [InlineData("corp.example.org", "default")]
    [InlineData("printer.lan", "lan")]
    [InlineData("lan", "lan")]
    [InlineData("example", "default")]
    public async Task TheLongestSuffixWinsAndOnlyItsUpstreamIsAsked(string name, string expected)
    {
        var upstreams = new Dictionary<string, FakeUpstream>
        {
            ["default"] = new("udp://10.0.0.1"),
            ["corp"] = new("udp://10.0.0.53"),
            ["lab"] = new("udp://10.0.0.54"),
            ["lan"] = new("udp://192.168.1.1"),
        };
        await using UpstreamPool fallback = Pool(upstreams["default"]);
        await using var forwarder = new DomainForwarder(fallback, [("corp.example", Pool(upstreams["corp"])), ("lab.corp.example", Pool(upstreams["lab"])), ("lan", Pool(upstreams["lan"]))]);

        byte[] query = DnsCacheTests.Query(name);
        var response = new byte[512];
        var reply = await forwarder.ForwardAsync(query, response, TestContext.Current.CancellationToken);

        Assert.True(reply.Ok);
        Assert.Equal(upstreams[expected].Config.Url, reply.Upstream);
        foreach ((string label, FakeUpstream u) in upstreams)
        {
            Assert.Equal(label == expected ? 1 : 0, u.Calls);
        }
    }

    [Fact]
    public async Task WithoutADefaultPoolAnUnroutedNameIsNotForwardedAnywhere()
    {
        var corp = new FakeUpstream("udp://10.0.0.53");
        await using var forwarder = new DomainForwarder(null, [("corp.example", Pool(corp))]);
        var reply = await forwarder.ForwardAsync(DnsCacheTests.Query("www.example.org"), new byte[512], TestContext.Current.CancellationToken);
        Assert.False(reply.Ok);
        Assert.Equal(UpstreamError.Unavailable, reply.Error);
        Assert.Equal(0, corp.Calls);
    }

    [Theory]
    [InlineData("corp.example", "corp.example")]
    [InlineData(".Corp.Example.", "corp.example")]
    [InlineData("*.corp.example", "corp.example")]
    [InlineData("lan", "lan")]
    public void SuffixesAreReadAsUsersWriteThem(string text, string expected)
    {
        Assert.True(DomainUpstream.TryParseSuffix(text, out string suffix, out string? error), error);
        Assert.Equal(expected, suffix);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("a..b")]
    [InlineData("bad label.example")]
    [InlineData("*")]
    public void ABadSuffixIsRefusedWithWhatWasExpected(string text)
    {
        Assert.False(DomainUpstream.TryParseSuffix(text, out _, out string? error));
        Assert.StartsWith("expected a domain suffix such as corp.example, got ", error, StringComparison.Ordinal);
    }
}
