using DnsWarden.Indicators;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>
/// Live capture runs a thread per interface: a connection on eth0 can be processed before the tun0 answer it used,
/// although the answer came first by packet time. Leak-D must not depend on processing order.
/// </summary>
public sealed class LeakDOrderTests
{
    private const long T0 = 1_700_000_000_000_000_000;
    private static readonly IpAddr s_client = IpAddr.Parse("10.8.0.2");
    private static readonly IpAddr s_resolver = IpAddr.Parse("10.8.0.1");
    private static readonly IpAddr s_web = IpAddr.Parse("203.0.113.80");

    [Fact]
    public void ConnectionProcessedBeforeItsAnswer_ButLaterByPacketTime_IsLeakD()
    {
        var events = new List<LeakEvent>();
        var detector = new LeakDetector(Expect.FullTunnel, events.Add, baseDomains: BaseDomains.Fallback);
        var q = new FlowKey5(s_client, s_resolver, 40000, 53, IpProtocol.Udp);
        detector.OnObservation(Dns(1, T0, "tun0", q, new DnsFacts(7, false, "www.example.com", 1, 0, false, [])));

        // Processing order: the SYN (packet time T0+3 ms) first, then the answer (T0+2 ms).
        var syn = new FlowKey5(IpAddr.Parse("198.51.100.2"), s_web, 50000, 443, IpProtocol.Tcp);
        var eth = new FrameOrigin(T0 + 3_000_000, 1, "eth0", LinkType.Ethernet, 60);
        detector.OnConnectionStart(3, in eth, in syn);
        Assert.Empty(events);
        detector.OnObservation(Dns(2, T0 + 2_000_000, "tun0", q.Reversed,
            new DnsFacts(7, true, "www.example.com", 1, 0, false, [new DnsAnswer("www.example.com", 1, 300, "203.0.113.80") { Address = s_web }])));

        LeakEvent d = Assert.Single(events);
        Assert.Equal(LeakType.D, d.LeakType);
        Assert.Equal("tun0", d.Interface);
        Assert.Equal("eth0", d.Connection!.Interface);
        Assert.Equal("q1", d.CorrelationId);
        Assert.Equal(3, d.Connection.Frame);
    }

    [Fact]
    public void ConnectionEarlierThanTheAnswerByPacketTime_IsNotLeakD()
    {
        var events = new List<LeakEvent>();
        var detector = new LeakDetector(Expect.FullTunnel, events.Add, baseDomains: BaseDomains.Fallback);
        var q = new FlowKey5(s_client, s_resolver, 40000, 53, IpProtocol.Udp);
        detector.OnObservation(Dns(1, T0, "tun0", q, new DnsFacts(7, false, "www.example.com", 1, 0, false, [])));

        // The connection really came first: it cannot have used this answer.
        var syn = new FlowKey5(IpAddr.Parse("198.51.100.2"), s_web, 50000, 443, IpProtocol.Tcp);
        var eth = new FrameOrigin(T0 + 1_000_000, 1, "eth0", LinkType.Ethernet, 60);
        detector.OnConnectionStart(2, in eth, in syn);
        detector.OnObservation(Dns(3, T0 + 2_000_000, "tun0", q.Reversed,
            new DnsFacts(7, true, "www.example.com", 1, 0, false, [new DnsAnswer("www.example.com", 1, 300, "203.0.113.80") { Address = s_web }])));

        Assert.Empty(events);
    }

    private static Observation Dns(long frame, long ns, string iface, FlowKey5 flow, DnsFacts dns) =>
        new(frame, new FrameOrigin(ns, 0, iface, LinkType.Raw, 100), flow, ObservationKind.Dns, "udp53", dns, null, [], false, 0);
}
