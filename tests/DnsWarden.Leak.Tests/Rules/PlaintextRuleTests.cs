using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Tests.Rules;

public sealed class PlaintextRuleTests
{
    [Theory]
    [InlineData(PolicyProfile.FullTunnel, RouteClass.Physical, false, "A P1")]
    [InlineData(PolicyProfile.FullTunnel, RouteClass.Unknown, false, "A P2")]
    [InlineData(PolicyProfile.ProxyStub, RouteClass.Tunnel, false, "A P2")]
    [InlineData(PolicyProfile.FullTunnel, RouteClass.Virtual, false, "A P3")]
    [InlineData(PolicyProfile.Split, RouteClass.Physical, false, "none")]
    [InlineData(PolicyProfile.Split, RouteClass.Physical, true, "B P0")]
    [InlineData(PolicyProfile.Split, RouteClass.Virtual, true, "B P2")]
    [InlineData(PolicyProfile.FullTunnel, RouteClass.Physical, true, "B P0")]
    public void OffTheSafePath_IsWhatTheRulesTableSays(PolicyProfile profile, RouteClass routeClass, bool proxyRequired, string expected)
    {
        (LeakType Type, Severity Severity)? finding = PlaintextRule.OffSafePath(profile, routeClass, proxyRequired);
        Assert.Equal(expected, finding is { } f ? $"{f.Type} {f.Severity}" : "none");
    }

    [Fact]
    public void ProxyRequiredNames_ExistWithProxyDomainsOrAProxyDefault()
    {
        Assert.False(PlaintextRule.AnyProxyRequired(SplitPolicy.None));
        Assert.True(PlaintextRule.AnyProxyRequired(SplitPolicy.None with { ProxyDomains = new DomainSet(["corp.example"]) }));
        Assert.True(PlaintextRule.AnyProxyRequired(SplitPolicy.None with { Default = SplitDefault.Proxy }));
    }
}
