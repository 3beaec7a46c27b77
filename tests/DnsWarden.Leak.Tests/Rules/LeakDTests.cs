using DnsWarden.Leak.Events;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Leak-D: an answer's address contacted over another egress than the DNS took.</summary>
public sealed class LeakDTests
{
    private const string TunnelClient = "10.8.0.2";
    private const string TunnelResolver = "10.8.0.1";
    private const string LanClient = "192.168.1.10";
    private const string Target = "203.0.113.80";

    /// <summary>Query and answer on wg0; returns the query's frame number.</summary>
    private static long ResolveOnTunnel(Harness h, string name = "www.example.com", uint ttl = 300, DnsType type = DnsType.A, string address = Target)
    {
        byte[] q = Harness.Query(name, 0x4444, type);
        long frame = h.Feed("wg0", Harness.Udp(TunnelClient, TunnelResolver, 40000, 53, q));
        h.Feed("wg0", Harness.Udp(TunnelResolver, TunnelClient, 53, 40000, Harness.Answer(q, ttl, address)));
        return frame;
    }

    private static long Syn(Harness h, string iface, string src = LanClient, string dst = Target, ushort sport = 50000) =>
        h.Feed(iface, Harness.Tcp(src, dst, sport, 443, 100, TcpFlags.Syn, []));

    private static void AssertD(LeakEvent e, long queryFrame, long connectionFrame, Severity severity = Severity.P2, string kind = "tcp-syn", string dst = "203.0.113.80:443", string qname = "www.example.com")
    {
        Expect.Leak(e, LeakType.D, severity, "udp53", Confidence.High, "wg0", "tunnel", "10.8.0.1:53", qname, "q" + queryFrame, connectionFrame);
        Assert.Equal("10.8.0.2:40000", e.Source);
        ConnectionFacts c = Assert.IsType<ConnectionFacts>(e.Connection);
        Assert.Equal(kind, c.Kind);
        Assert.Equal("eth0", c.Interface);
        Assert.Equal("physical", c.RouteClass);
        Assert.Equal(dst, c.Destination);
        Assert.Equal(connectionFrame, c.Frame);
        Assert.Contains(e.Evidence, s => s.Contains("eth0", StringComparison.Ordinal) && s.Contains("wg0", StringComparison.Ordinal));
    }

    [Fact]
    public void AnswerOnTunnel_SynOnPhysical_IsOneD_P2()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h);
        long syn = Syn(h, "eth0");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        AssertD(e, query, syn);
        Assert.Null(e.Connection!.ServerName);
        Assert.Equal("A", e.QType);
    }

    [Fact]
    public void RetransmittedSyn_IsStillOneD()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h);
        long syn = Syn(h, "eth0");
        h.Wait(TimeSpan.FromSeconds(1));
        Syn(h, "eth0");
        h.Wait(TimeSpan.FromSeconds(2));
        Syn(h, "eth0");
        h.Complete();

        AssertD(Assert.Single(h.Events), query, syn);
    }

    [Fact]
    public void AnotherConnection_IsAnotherD()
    {
        var h = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(h);
        Syn(h, "eth0", sport: 50000);
        Syn(h, "eth0", sport: 50001);
        h.Complete();
        Assert.Equal(2, h.Events.Count);
        Assert.All(h.Events, e => Assert.Equal(LeakType.D, e.LeakType));
    }

    [Fact]
    public void SynOnTheSameInterface_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(h);
        Syn(h, "wg0", src: TunnelClient);
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 2);
    }

    [Fact]
    public void SynToAnotherAddress_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(h);
        Syn(h, "eth0", dst: "203.0.113.81");
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 2);
    }

    [Fact]
    public void AfterTheTtl_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(h, ttl: 300);
        h.Wait(TimeSpan.FromSeconds(301));
        Syn(h, "eth0");
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 2);
    }

    [Fact]
    public void ShortTtl_IsHeldForThe30sFloor_ThenForgotten()
    {
        var within = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(within, ttl: 5);
        within.Wait(TimeSpan.FromSeconds(20));
        long syn = Syn(within, "eth0");
        within.Complete();
        AssertD(Assert.Single(within.Events), query, syn);

        var after = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(after, ttl: 5);
        after.Wait(TimeSpan.FromSeconds(31));
        Syn(after, "eth0");
        after.Complete();
        Assert.Empty(after.Events);
    }

    [Fact]
    public void AaaaAnswer_IsTracked()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h, "v6.example.com", type: DnsType.AAAA, address: "2001:db8::80");
        long syn = Syn(h, "eth0", src: "2001:db8:1::10", dst: "2001:db8::80");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        AssertD(e, query, syn, dst: "[2001:db8::80]:443", qname: "v6.example.com");
        Assert.Equal("AAAA", e.QType);
    }

    [Fact]
    public void ProxyRequiredName_IsP1()
    {
        var h = new Harness(Expect.WithProxyDomains(Expect.FullTunnel, "proxy.example"));
        long query = ResolveOnTunnel(h, "www.proxy.example");
        long syn = Syn(h, "eth0");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        AssertD(e, query, syn, Severity.P1, qname: "www.proxy.example");
        Assert.Contains(e.Evidence, s => s.Contains("proxy-required", StringComparison.Ordinal));
    }

    [Fact]
    public void ConnectionOverLoopback_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        ResolveOnTunnel(h);
        Syn(h, "lo", src: "127.0.0.1");
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 2);
    }

    [Fact]
    public void StubOnLoopback_WithUpstreamOnPhysical_ThenSynOnTunnel_IsD_WithTheUpstreamInterface()
    {
        // The safe resolver keeps the stub's upstream query from being a Leak-A: only the D is under test.
        var h = new Harness(Expect.WithSafeResolver(Expect.FullTunnel, "192.168.1.1"));
        byte[] app = Harness.Query("www.example.com", 0x0101);
        byte[] upstream = Harness.Query("www.example.com", 0x0202);
        long appFrame = h.Feed("lo", Harness.Udp("127.0.0.1", "127.0.0.53", 45000, 53, app));
        long upstreamFrame = h.Feed("eth0", Harness.Udp(LanClient, "192.168.1.1", 46000, 53, upstream));
        h.Feed("eth0", Harness.Udp("192.168.1.1", LanClient, 53, 46000, Harness.Answer(upstream, 300, Target)));
        h.Feed("lo", Harness.Udp("127.0.0.53", "127.0.0.1", 53, 45000, Harness.Answer(app, 300, Target)));
        long syn = Syn(h, "wg0", src: TunnelClient);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.D, Severity.P2, "udp53", Confidence.High, "eth0", "physical", "192.168.1.1:53", "www.example.com", "q" + appFrame, syn);
        Assert.NotEqual(appFrame, upstreamFrame);
        Assert.Equal("192.168.1.10:46000", e.Source);
        Assert.Equal("wg0", e.Connection!.Interface);
        Assert.Equal("tunnel", e.Connection.RouteClass);
        Assert.Equal("tcp-syn", e.Connection.Kind);
    }

    [Fact]
    public void StubOnLoopback_WithoutUpstreamSeen_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        byte[] app = Harness.Query("www.example.com", 0x0101);
        h.Feed("lo", Harness.Udp("127.0.0.1", "127.0.0.53", 45000, 53, app));
        h.Feed("lo", Harness.Udp("127.0.0.53", "127.0.0.1", 53, 45000, Harness.Answer(app, 300, Target)));
        Syn(h, "eth0");
        h.Complete();
        h.AssertNoEventAfterSeeing(dns: 2);
    }

    [Fact]
    public void QuicInitial_AsTheConnection_IsD_KindQuic()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h);
        long initial = h.Feed("eth0", Harness.Udp(LanClient, Target, 50000, 443, Harness.QuicInitial("www.example.com", "h3")));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        AssertD(e, query, initial, kind: "quic");
        Assert.Equal("www.example.com", e.Connection!.ServerName);
    }

    [Fact]
    public void ClientHello_WithoutSyn_IsD_KindTls()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h);
        long hello = h.Feed("eth0", Harness.Tcp(LanClient, Target, 50000, 443, 1, TcpFlags.Ack | TcpFlags.Psh, Harness.HelloRecords("www.example.com", "h2")));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        AssertD(e, query, hello, kind: "tls");
        Assert.Equal("www.example.com", e.Connection!.ServerName);
    }

    [Fact]
    public void ClientHello_AfterAJudgedSyn_IsNotASecondD()
    {
        var h = new Harness(Expect.FullTunnel);
        long query = ResolveOnTunnel(h);
        h.TlsConnection("eth0", LanClient, 50000, Target, 443, "www.example.com", ["h2"]);
        h.Complete();
        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal("tcp-syn", e.Connection!.Kind);
        Assert.Equal("q" + query, e.CorrelationId);
    }
}
