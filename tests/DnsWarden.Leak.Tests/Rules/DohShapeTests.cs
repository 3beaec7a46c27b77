using DnsWarden.Leak.Events;
using DnsWarden.Leak.Flows;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>
/// The DoH shape heuristic for TLS to an unknown endpoint. Bursts alternate server, client, server…; the first is the
/// server's handshake flight. A 31-byte burst is one TLS 1.3 record holding an empty HTTP/2 frame (SETTINGS ACK).
/// </summary>
public sealed class DohShapeTests
{
    private const string Client = "192.168.1.10";
    private const string Server = "198.51.100.20";
    private const long HelloFrame = 3;

    // Handshake flight, SETTINGS ACKs both ways, then two small query/answer exchanges.
    private static readonly int[] s_dohBursts = [3000, 31, 31, 120, 200, 110, 180];

    [Fact]
    public void SmallH2Exchanges_WithEmptyFrameRecords_AreDohLowP3_AtFlowEnd()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, "api.unknown.example", ["h2", "http/1.1"], close: false, s_dohBursts);
        Assert.Empty(h.Events);
        h.Feed("eth0", Harness.Tcp(Client, Server, 50000, 443, 1, TcpFlags.Ack | TcpFlags.Fin, []));
        Assert.Empty(h.Events);
        h.Feed("eth0", Harness.Tcp(Server, Client, 443, 50000, 1, TcpFlags.Ack | TcpFlags.Fin, []));

        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.C, Severity.P3, "doh", Confidence.Low, "eth0", "physical", "198.51.100.20:443", null, null, HelloFrame);
        Assert.Equal("api.unknown.example", e.ServerName);
        Assert.Null(e.Provider);
        Assert.Contains(e.Evidence, s => s.Contains("HTTP/2", StringComparison.Ordinal));
        h.Complete();
        Assert.Single(h.Events);
    }

    [Fact]
    public void Tls12EmptyFrameRecords_Of38Bytes_CountToo()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2"], 3000, 38, 38, 120, 200);
        h.Complete();
        Assert.Equal("doh", Assert.Single(h.Events).Transport);
    }

    [Fact]
    public void SameSizes_WithoutEmptyFrameRecords_AreNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2", "http/1.1"], 3000, 120, 200, 110, 180);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1, notTls: 1);
    }

    [Fact]
    public void A30KiBResponse_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2"], 3000, 31, 31, 120, 30 * 1024);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1, notTls: 1);
    }

    [Fact]
    public void ManySmallResponses_Over16KiBInAll_AreNone()
    {
        var bursts = new List<int> { 3000, 31, 31 };
        for (int i = 0; i < 20; i++)
        {
            bursts.Add(100);
            bursts.Add(1000);
        }

        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2"], [.. bursts]);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1, notTls: 1);
    }

    [Fact]
    public void AlpnHttp11Only_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["http/1.1"], s_dohBursts);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1, notTls: 1);
    }

    [Fact]
    public void Port8443_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 8443, null, ["h2"], s_dohBursts);
        h.Complete();
        h.AssertNoEventAfterSeeing(); // 8443 is not a port a ClientHello is looked for on: nothing to read, and nothing malformed
    }

    [Fact]
    public void OnTunnel_UnderFullTunnel_IsNone()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("wg0", "10.8.0.2", 50000, Server, 443, null, ["h2"], s_dohBursts);
        h.Complete();
        h.AssertNoEventAfterSeeing(hellos: 1, notTls: 1);
    }

    [Fact]
    public void FlowLeftOpen_IsJudgedAtComplete()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2"], close: false, s_dohBursts);
        Assert.Empty(h.Events);
        h.Complete();
        Expect.Leak(Assert.Single(h.Events), LeakType.C, Severity.P3, "doh", Confidence.Low, "eth0", "physical", "198.51.100.20:443", null, null, HelloFrame);
    }

    [Fact]
    public void FlowLeftOpen_IsJudgedByIdleEviction_After120sOfPacketTime()
    {
        var h = new Harness(Expect.FullTunnel);
        h.TlsConnection("eth0", Client, 50000, Server, 443, null, ["h2"], close: false, s_dohBursts);
        h.Wait(TimeSpan.FromSeconds(60));
        h.Feed("eth0", Harness.Tcp(Client, "198.51.100.99", 50001, 80, 1, TcpFlags.Ack, []));
        Assert.Empty(h.Events);

        h.Wait(FlowTrackerIdle + TimeSpan.FromSeconds(1));
        h.Feed("eth0", Harness.Tcp(Client, "198.51.100.99", 50001, 80, 1, TcpFlags.Ack, []));
        Expect.Leak(Assert.Single(h.Events), LeakType.C, Severity.P3, "doh", Confidence.Low, "eth0", "physical", "198.51.100.20:443", null, null, HelloFrame);
        h.Complete();
        Assert.Single(h.Events);
    }

    private static TimeSpan FlowTrackerIdle => TimeSpan.FromTicks(FlowTracker.IdleTimeoutNs / 100);
}
