using DnsWarden.Leak.Enrich;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Tests.Enrich;

/// <summary>The order of the route-class decision (docs/POLICY.md, route classes), one row per step.</summary>
public sealed class RouteClassifierTests
{
    [Theory]
    [InlineData("lo", LinkType.Ethernet, RouteClass.Loopback)]
    [InlineData("lo0", LinkType.Null, RouteClass.Loopback)]
    [InlineData("anything", LinkType.Null, RouteClass.Loopback)]
    [InlineData("wg0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("tun3", LinkType.Ethernet, RouteClass.Tunnel)]
    [InlineData("tailscale0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("eth0", LinkType.Raw, RouteClass.Physical)]
    [InlineData("enp3s0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("wlan0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("vpn0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("br-lan", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("ifb0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("if3", LinkType.Ethernet, RouteClass.Unknown)]
    [InlineData("any", LinkType.LinuxSll2, RouteClass.Unknown)]
    [InlineData("ifindex7", LinkType.LinuxSll2, RouteClass.Unknown)]
    public void Heuristics(string name, LinkType link, RouteClass expected) =>
        Assert.Equal(expected, new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel)).Classify(name, link).Class);

    [Fact]
    public void PolicyHints_ComeFirst()
    {
        LeakPolicy policy = Profiles.Create(PolicyProfile.FullTunnel) with
        {
            InterfaceClasses = [new InterfaceHint(new InterfacePattern("wg*"), RouteClass.Physical), new InterfaceHint(new InterfacePattern("eth9"), RouteClass.Tunnel)],
        };
        var routes = new RouteClassifier(policy);

        RouteClassResult wg = routes.Classify("wg0", LinkType.Raw);
        Assert.Equal(RouteClass.Physical, wg.Class);
        Assert.Equal("policy hint", wg.Reason);
        Assert.Equal(RouteClass.Tunnel, routes.Classify("eth9", LinkType.Ethernet).Class);
    }
}
