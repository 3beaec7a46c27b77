using DnsWarden.Leak.Events;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Leak-A: plaintext DNS outside the safe path.</summary>
public sealed class LeakATests
{
    private const string Client = "192.168.1.10";
    private const string Resolver = "192.168.1.1";

    private static long UdpQuery(Harness h, string iface, string name = "www.example.com", string client = Client, string resolver = Resolver, ushort dport = 53, LinkType link = LinkType.Ethernet) =>
        h.Feed(iface, Harness.Udp(client, resolver, 40000, dport, Harness.Query(name, 0x1111)), link);

    [Fact]
    public void UdpQuery_OnPhysical_UnderFullTunnel_IsOneA_P1()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = UdpQuery(h, "eth0");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "www.example.com", "q" + frame, frame);
        Assert.Equal("192.168.1.10:40000", e.Source);
        Assert.Equal("A", e.QType);
        Assert.Null(e.Connection);
        Assert.Null(e.Provider);
        Assert.Contains(e.Evidence, s => s.Contains("plaintext DNS", StringComparison.Ordinal));
        Assert.Contains(e.Evidence, s => s.Contains("eth0", StringComparison.Ordinal) && s.Contains("full-tunnel", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("wg0")]
    [InlineData("tun0")]
    [InlineData("lo")]
    public void UdpQuery_OnTunnelOrLoopback_UnderFullTunnel_IsSafe(string iface)
    {
        var h = new Harness(Expect.FullTunnel);
        UdpQuery(h, iface);
        h.Complete();
        Assert.Empty(h.Events);
        Assert.Equal(1, h.Pipeline.Rules.DnsQueries);
    }

    [Fact]
    public void Ipv6Query_OnPhysical_IsA_WithBracketedEndpoints()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = h.Feed("eth0", Harness.Udp("fd00::10", "fd00::1", 40000, 53, Harness.Query("v6.example.com", 7, DnsType.AAAA)));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", "[fd00::1]:53", "v6.example.com", "q" + frame, frame);
        Assert.Equal("[fd00::10]:40000", e.Source);
        Assert.Equal("AAAA", e.QType);
    }

    [Fact]
    public void TcpQuery_AfterHandshake_IsA_Tcp53()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = h.TcpQuery("eth0", Client, 41000, Resolver, Harness.Query("tcp.example.com", 0x2222));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P1, "tcp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "tcp.example.com", "q" + frame, frame);
    }

    [Fact]
    public void ProxyStub_QueryOnTunnel_IsA_P2()
    {
        var h = new Harness(Expect.ProxyStub);
        long frame = UdpQuery(h, "wg0", resolver: "10.8.0.1", client: "10.8.0.2");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P2, "udp53", Confidence.High, "wg0", "tunnel", "10.8.0.1:53", "www.example.com", "q" + frame, frame);
        Assert.Contains(e.Evidence, s => s.Contains("proxy-stub", StringComparison.Ordinal));
    }

    [Fact]
    public void ProxyStub_QueryOnLoopback_IsSafe()
    {
        var h = new Harness(Expect.ProxyStub);
        UdpQuery(h, "lo", client: "127.0.0.1", resolver: "127.0.0.53");
        h.Complete();
        Assert.Empty(h.Events);
    }

    [Theory]
    [InlineData("192.168.1.1")]
    [InlineData("192.168.1.1:53")]
    [InlineData("192.168.1.0/24")]
    public void SafeResolver_MakesThePhysicalQuerySafe(string endpoint)
    {
        var h = new Harness(Expect.WithSafeResolver(Expect.FullTunnel, endpoint));
        UdpQuery(h, "eth0");
        h.Complete();
        Assert.Empty(h.Events);
    }

    [Fact]
    public void SafeResolver_OnAnotherPort_StillLeaks()
    {
        var h = new Harness(Expect.WithSafeResolver(Expect.FullTunnel, "192.168.1.1:5353"));
        long frame = UdpQuery(h, "eth0");
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "www.example.com", "q" + frame);
    }

    [Fact]
    public void SafeResolver_ForAnotherAddress_StillLeaks()
    {
        var h = new Harness(Expect.WithSafeResolver(Expect.FullTunnel, "192.168.1.2"));
        UdpQuery(h, "eth0");
        h.Complete();
        Assert.Equal(LeakType.A, Assert.Single(h.Events).LeakType);
    }

    [Fact]
    public void TunnelInterfaceFlag_MakesThatInterfaceSafe_AndOnlyIt()
    {
        var h = new Harness(Expect.WithTunnelInterface(Expect.FullTunnel, "eth9"));
        UdpQuery(h, "eth9");
        Assert.Empty(h.Events);
        long frame = UdpQuery(h, "eth0");
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "www.example.com", "q" + frame);
    }

    [Fact]
    public void TunnelInterfaceFlag_UnderProxyStub_IsASafeInterface()
    {
        var h = new Harness(Expect.WithTunnelInterface(Expect.ProxyStub, "eth9"));
        UdpQuery(h, "eth9");
        h.Complete();
        Assert.Empty(h.Events);
    }

    [Fact]
    public void Responses_NeverRaiseAOrB()
    {
        LeakPolicy policy = Expect.WithProxyDomains(Expect.FullTunnel, "proxy.example");
        var h = new Harness(policy);
        byte[] q1 = Harness.Query("www.example.com", 1);
        byte[] q2 = Harness.Query("proxy.example", 2);
        h.Feed("eth0", Harness.Udp(Resolver, Client, 53, 40000, Harness.Answer(q1, 60, "203.0.113.1")));
        h.Feed("eth0", Harness.Udp(Resolver, Client, 53, 40001, Harness.Answer(q2, 60, "203.0.113.2")));
        h.Complete();

        Assert.Empty(h.Events);
        Assert.Equal(2, h.Pipeline.Rules.DnsResponses);
        Assert.Equal(0, h.Pipeline.Rules.DnsQueries);
    }

    [Fact]
    public void QueryAndItsResponse_GiveOneEvent()
    {
        var h = new Harness(Expect.FullTunnel);
        byte[] q = Harness.Query("www.example.com", 0x1111);
        h.Feed("eth0", Harness.Udp(Client, Resolver, 40000, 53, q));
        h.Feed("eth0", Harness.Udp(Resolver, Client, 53, 40000, Harness.Answer(q, 60, "203.0.113.1")));
        h.Complete();
        Assert.Single(h.Events);
    }

    [Theory]
    [InlineData("224.0.0.251", 5353)]
    [InlineData("192.168.1.1", 5353)]
    [InlineData("224.0.0.252", 5355)]
    [InlineData("ff02::fb", 5353)]
    [InlineData("ff02::1:3", 5355)]
    public void MdnsAndLlmnr_NeverRaiseEvents(string group, ushort port)
    {
        foreach (LeakPolicy policy in new[] { Expect.FullTunnel, Expect.ProxyStub, Expect.WithProxyDomains(Expect.Split, "local") })
        {
            var h = new Harness(policy);
            string src = group.Contains(':', StringComparison.Ordinal) ? "fe80::10" : Client;
            byte[] q = Harness.Query("printer.local", 0);
            h.Feed("eth0", Harness.Udp(src, group, port, port, q));
            h.Feed("eth0", Harness.Udp(src, group, port, port, Harness.Answer(q, 120, "192.168.1.50")));
            h.Complete();
            Assert.Empty(h.Events);
        }
    }

    [Fact]
    public void PolicyHint_OverridesTheNameHeuristic_BothWays()
    {
        LeakPolicy policy = Expect.FullTunnel with
        {
            InterfaceClasses =
            [
                new InterfaceHint(new InterfacePattern("wg0"), RouteClass.Physical),
                new InterfaceHint(new InterfacePattern("enp*"), RouteClass.Tunnel),
            ],
        };
        var h = new Harness(policy);
        UdpQuery(h, "enp3s0");
        Assert.Empty(h.Events);
        long frame = UdpQuery(h, "wg0", client: "10.8.0.2", resolver: "10.8.0.1");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P1, "udp53", Confidence.High, "wg0", "physical", "10.8.0.1:53", "www.example.com", "q" + frame);
        Assert.Contains(e.Evidence, s => s.Contains("policy hint", StringComparison.Ordinal));
    }

    [Fact]
    public void RawIpLinkType_IsATunnel()
    {
        var safe = new Harness(Expect.FullTunnel);
        UdpQuery(safe, "vpn0", link: LinkType.Raw);
        safe.Complete();
        Assert.Empty(safe.Events);

        var stub = new Harness(Expect.ProxyStub);
        long frame = UdpQuery(stub, "vpn0", link: LinkType.Raw);
        stub.Complete();
        LeakEvent e = Assert.Single(stub.Events);
        Expect.Leak(e, LeakType.A, Severity.P2, "udp53", Confidence.High, "vpn0", "tunnel", "192.168.1.1:53", "www.example.com", "q" + frame);
        Assert.Contains(e.Evidence, s => s.Contains("raw-IP", StringComparison.Ordinal));
    }

    [Fact]
    public void UnnamedInterface_IsUnknown_AndLeaksAtP2()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = UdpQuery(h, "if3");
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.A, Severity.P2, "udp53", Confidence.High, "if3", "unknown", "192.168.1.1:53", "www.example.com", "q" + frame);
    }

    [Fact]
    public void KnownResolverAddress_NamesItsProvider()
    {
        var h = new Harness(Expect.FullTunnel);
        UdpQuery(h, "eth0", resolver: "1.1.1.1");
        h.Complete();
        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal("1.1.1.1:53", e.Destination);
        Assert.Equal("Cloudflare", e.Provider);
    }
}
