using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Leak-B: a proxy-required name resolved outside the safe path.</summary>
public sealed class LeakBTests
{
    private static readonly LeakPolicy s_split = Expect.WithProxyDomains(Expect.Split, "proxy.example");
    private static readonly LeakPolicy s_fullTunnel = Expect.WithProxyDomains(Expect.FullTunnel, "proxy.example");

    private static long Query(Harness h, string iface, string name, ushort id = 0x3333) =>
        h.Feed(iface, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, Harness.Query(name, id)));

    [Theory]
    [InlineData("proxy.example")]
    [InlineData("www.proxy.example")]
    [InlineData("a.b.proxy.example")]
    public void Split_ProxyNameOnPhysical_IsB_P0(string name)
    {
        var h = new Harness(s_split);
        long frame = Query(h, "eth0", name);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.B, Severity.P0, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", name, "q" + frame, frame);
        Assert.Contains("proxy-required", e.Evidence[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("www.example.com")]
    [InlineData("notproxy.example")]
    [InlineData("proxy.example.com")]
    public void Split_OtherNameOnPhysical_IsNone(string name)
    {
        var h = new Harness(s_split);
        Query(h, "eth0", name);
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 1);
    }

    [Fact]
    public void Split_ProxyNameOnTunnel_IsNone()
    {
        var h = new Harness(s_split);
        Query(h, "wg0", "proxy.example");
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 1);
    }

    [Fact]
    public void FullTunnel_ProxyNameIsB_NotA_OtherNamesA()
    {
        var h = new Harness(s_fullTunnel);
        long f1 = Query(h, "eth0", "proxy.example", 1);
        long f2 = Query(h, "eth0", "www.example.com", 2);
        h.Complete();

        Assert.Equal(2, h.Events.Count);
        Expect.Leak(h.Events[0], LeakType.B, Severity.P0, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "proxy.example", "q" + f1, f1);
        Expect.Leak(h.Events[1], LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "www.example.com", "q" + f2, f2);
    }

    [Fact]
    public void Split_DefaultProxy_MakesUnlistedNamesProxyRequired_ButNotDirectOnes()
    {
        LeakPolicy policy = Expect.Split with
        {
            Split = new SplitPolicy(DomainSet.Empty, new DomainSet(["direct.example"]), SplitDefault.Proxy),
        };
        var h = new Harness(policy);
        Query(h, "eth0", "www.direct.example", 1);
        long frame = Query(h, "eth0", "other.example", 2);
        h.Complete();

        Expect.Leak(Assert.Single(h.Events), LeakType.B, Severity.P0, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "other.example", "q" + frame);
    }
}
