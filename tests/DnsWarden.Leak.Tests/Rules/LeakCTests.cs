using DnsWarden.Leak.Events;
using DnsWarden.Policy;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Leak-C: encrypted DNS (DoT, DoH, DoQ) outside approved egress, from the first packets.</summary>
public sealed class LeakCTests
{
    private const string Client = "192.168.1.10";

    // Frames of Harness.TlsConnection: SYN, SYN/ACK, then the ClientHello.
    private const long HelloFrame = 3;

    [Fact]
    public void ClientHelloOnTcp853_OnPhysical_IsDotHighP1()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, "198.51.100.7", 853, "dot.example.net", []);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P1, "dot", Confidence.High, "eth0", "physical", "198.51.100.7:853", null, null, HelloFrame);
        Assert.Equal("dot.example.net", e.ServerName);
        Assert.Null(e.Provider);
        Assert.Contains(e.Evidence, s => s.Contains("TCP/853", StringComparison.Ordinal));
    }

    [Fact]
    public void ClientHelloOnTcp853_OnTunnel_UnderFullTunnel_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("wg0", "10.8.0.2", 50000, "198.51.100.7", 853, "dot.example.net", []);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1);
    }

    [Fact]
    public void AlpnDot_OnAnotherPort_IsDot()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, "198.51.100.7", 443, null, ["dot"]);
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.C, Severity.P1, "dot", Confidence.High, "eth0", "physical", "198.51.100.7:443", null, null, HelloFrame);
    }

    [Fact]
    public void SniDnsGoogle_On443_IsDohHigh_WithProvider()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, "203.0.113.9", 443, "dns.google", ["h2"], 3000, 31, 31, 200, 300);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P1, "doh", Confidence.High, "eth0", "physical", "203.0.113.9:443", null, null, HelloFrame);
        Assert.Equal("Google Public DNS", e.Provider);
        Assert.Equal("dns.google", e.ServerName);
    }

    [Fact]
    public void NoSni_ToKnownAddress_IsDohMediumP2()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, "1.1.1.1", 443, null, ["h2"]);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P2, "doh", Confidence.Medium, "eth0", "physical", "1.1.1.1:443", null, null, HelloFrame);
        Assert.Equal("Cloudflare", e.Provider);
        Assert.Null(e.ServerName);
    }

    [Fact]
    public void ApprovedEgress_MakesKnownResolverSafe()
    {
        LeakPolicy policy = Expect.FullTunnel;
        policy = policy with { EncryptedDns = policy.EncryptedDns with { ApprovedEgress = [Expect.Endpoint("1.1.1.1:443"), Expect.Endpoint("198.51.100.0/24")] } };
        var h = new Harness(policy);
        h.TlsConnection("eth0", Client, 50000, "1.1.1.1", 443, null, ["h2"]);
        h.TlsConnection("eth0", Client, 50001, "198.51.100.7", 853, null, []);
        h.Complete();
        Assert.Empty(h.Events);
    }

    [Fact]
    public void ApprovedEgress_OnAnotherPort_StillLeaks()
    {
        LeakPolicy policy = Expect.FullTunnel;
        policy = policy with { EncryptedDns = policy.EncryptedDns with { ApprovedEgress = [Expect.Endpoint("198.51.100.7:443")] } };
        var h = new Harness(policy);
        h.TlsConnection("eth0", Client, 50001, "198.51.100.7", 853, null, []);
        h.Complete();
        Assert.Equal("dot", Assert.Single(h.Events).Transport);
    }

    [Fact]
    public void ApprovedHosts_MakeTheServerNameSafe()
    {
        LeakPolicy policy = Expect.FullTunnel;
        policy = policy with { EncryptedDns = policy.EncryptedDns with { ApprovedHosts = new DomainSet(["dns.google", "*.corp.example"]) } };
        var h = new Harness(policy);
        h.TlsConnection("eth0", Client, 50000, "203.0.113.9", 443, "dns.google", ["h2"]);
        h.TlsConnection("eth0", Client, 50001, "198.51.100.7", 853, "dot.corp.example", []);
        h.TlsConnection("eth0", Client, 50002, "198.51.100.8", 853, "dot.other.example", []);
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal("dot.other.example", e.ServerName);
        Assert.Equal("198.51.100.8:853", e.Destination);
    }

    [Fact]
    public void SynTo853_ThenRst_WithoutHello_IsDotMedium_AtFlowEnd()
    {
        var h = new Harness(Expect.FullTunnel);
        long syn = h.Feed("eth0", Harness.Tcp(Client, "198.51.100.7", 50000, 853, 100, TcpFlags.Syn, []));
        Assert.Empty(h.Events);
        h.Feed("eth0", Harness.Tcp("198.51.100.7", Client, 853, 50000, 0, TcpFlags.Rst | TcpFlags.Ack, []));

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P2, "dot", Confidence.Medium, "eth0", "physical", "198.51.100.7:853", null, null, syn);
        Assert.Contains(e.Evidence, s => s.Contains("without a ClientHello", StringComparison.Ordinal));
        h.Complete();
        Assert.Single(h.Events);
    }

    [Fact]
    public void SynTo853_OnTunnel_WithoutHello_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("wg0", Harness.Tcp("10.8.0.2", "198.51.100.7", 50000, 853, 100, TcpFlags.Syn, []));
        h.Complete();
        h.AssertNoEventAfterSeeing();
    }

    [Fact]
    public void DoqInitial_OnUdp853_IsDoqHigh()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = h.Feed("eth0", Harness.Udp(Client, "198.51.100.7", 50000, 853, Harness.QuicInitial("doq.example.net", "doq")));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P1, "doq", Confidence.High, "eth0", "physical", "198.51.100.7:853", null, null, frame);
        Assert.Equal("doq.example.net", e.ServerName);
    }

    [Fact]
    public void QuicWithSniDnsGoogle_On443_IsDohHigh_Http3()
    {
        var h = new Harness(Expect.FullTunnel);
        long frame = h.Feed("eth0", Harness.Udp(Client, "203.0.113.9", 50000, 443, Harness.QuicInitial("dns.google", "h3")));
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P1, "doh", Confidence.High, "eth0", "physical", "203.0.113.9:443", null, null, frame);
        Assert.Equal("Google Public DNS", e.Provider);
        Assert.Contains(e.Evidence, s => s.Contains("HTTP/3", StringComparison.Ordinal));
    }

    [Fact]
    public void QuicToAnUnknownSite_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("eth0", Harness.Udp(Client, "203.0.113.9", 50000, 443, Harness.QuicInitial("www.example.com", "h3")));
        h.Complete();
        h.AssertNoEventAfterSeeing(quic: 1);
    }

    [Fact]
    public void ProxyStub_DotOnTunnel_IsP2()
    {
        var h = new Harness(Expect.ProxyStub);
        h.TlsConnection("wg0", "10.8.0.2", 50000, "198.51.100.7", 853, null, []);
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.C, Severity.P2, "dot", Confidence.High, "wg0", "tunnel", "198.51.100.7:853", null, null, HelloFrame);
    }
}
