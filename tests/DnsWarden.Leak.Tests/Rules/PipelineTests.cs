using DnsWarden.Indicators;
using System.Globalization;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Flows;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>The whole pipeline: exfiltration through it, bounded tables, and random input.</summary>
public sealed class PipelineTests
{
    private const long Start = 1_700_000_000_000_000_000;

    [Fact]
    public void FortyHighEntropyNames_UnderOneBase_OnTunnel_AreExactlyOneExfiltrationEvent()
    {
        var h = new Harness(Expect.FullTunnel, new LeakPipelineOptions(BaseDomains: BaseDomains.Fallback));
        var rng = new Random(7);
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for (int i = 0; i < 40; i++)
        {
            string label = string.Concat(Enumerable.Range(0, 40).Select(_ => Alphabet[rng.Next(Alphabet.Length)]));
            h.Feed("wg0", Harness.Udp("10.8.0.2", "10.8.0.1", (ushort)(40000 + i), 53, Harness.Query(label + ".t.example.com", (ushort)i)));
            h.Wait(TimeSpan.FromMilliseconds(200));
        }

        h.Complete();
        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal("exfiltration", e.Kind);
        Assert.Null(e.LeakType);
        Assert.Equal("udp53", e.Transport);
        Assert.Equal("wg0", e.Interface);
        Assert.Equal("tunnel", e.RouteClass);
        Assert.Equal("10.8.0.1:53", e.Destination);
        Assert.EndsWith(".t.example.com", e.QName, StringComparison.Ordinal);
        Assert.Equal("q" + e.Frame.ToString(CultureInfo.InvariantCulture), e.CorrelationId);
        ExfiltrationFigures x = Assert.IsType<ExfiltrationFigures>(e.Exfiltration);
        Assert.Equal("example.com", x.BaseDomain);
        Assert.True(x.Score >= ExfiltrationPolicy.Default.ScoreThreshold);
        Assert.True(x.UniqueSubdomains >= ExfiltrationPolicy.Default.MinUniqueSubdomains);
        Assert.NotEmpty(e.Evidence);
        Assert.Equal(e.Severity == Severity.P1, e.Confidence == Confidence.High);
    }

    private sealed class CountingSink : IFlowSink
    {
        public int Starts { get; private set; }

        public int Ends { get; private set; }

        public void OnConnectionStart(long frameNumber, in FrameOrigin origin, in FlowKey5 clientFlow) => Starts++;

        public void OnFlowEnd(TcpFlowState flow) => Ends++;
    }

    [Fact]
    public void FlowTracker_StopsAtMaxFlows_AndCountsDropped()
    {
        var sink = new CountingSink();
        var tracker = new FlowTracker(sink);
        var origin = new FrameOrigin(Start, 0, "eth0", LinkType.Ethernet, 60);
        IpAddr server = IpAddr.Parse("198.51.100.1");
        const int Extra = 100;
        for (int i = 0; i < FlowTracker.MaxFlows + Extra; i++)
        {
            var client = IpAddr.Parse($"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}");
            var flow = new FlowKey5(client, server, 50000, 443, IpProtocol.Tcp);
            tracker.OnTcpSegment(i + 1, in origin, in flow, TcpFlags.Syn, 0);
        }

        Assert.Equal(FlowTracker.MaxFlows, tracker.Count);
        Assert.Equal(Extra, tracker.Dropped);
        Assert.Equal(FlowTracker.MaxFlows + Extra, sink.Starts); // every start is still reported for Leak-D

        // A hello on an untracked connection finds the table full too.
        var late = new FlowKey5(IpAddr.Parse("10.200.0.1"), server, 50000, 443, IpProtocol.Tcp);
        Assert.Null(tracker.OnClientHello(1, in origin, in late, "x.example", []));
        Assert.Equal(Extra + 1, tracker.Dropped);

        tracker.Complete();
        Assert.Equal(0, tracker.Count);
        Assert.Equal(FlowTracker.MaxFlows, sink.Ends);
    }

    [Fact]
    public void FlowTracker_IgnoresPortsItDoesNotTrack()
    {
        var sink = new CountingSink();
        var tracker = new FlowTracker(sink);
        var origin = new FrameOrigin(Start, 0, "eth0", LinkType.Ethernet, 60);
        var flow = new FlowKey5(IpAddr.Parse("10.0.0.2"), IpAddr.Parse("198.51.100.1"), 50000, 80, IpProtocol.Tcp);
        tracker.OnTcpSegment(1, in origin, in flow, TcpFlags.Syn, 0);
        Assert.Equal(1, sink.Starts);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void FullPipeline_ReportsFlowsDropped()
    {
        var h = new Harness(Expect.FullTunnel);
        for (int i = 0; i < FlowTracker.MaxFlows + 3; i++)
        {
            string client = $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}";
            h.Feed("wg0", Harness.Tcp(client, "198.51.100.1", 50000, 443, 1, TcpFlags.Syn, []), LinkType.Raw);
        }

        Assert.Equal(3, h.Pipeline.FlowsDropped);
    }

    [Fact]
    public void DetectorTables_StayBounded_Under200kQueriesAndAnswers_AndTheRulesStillWork()
    {
        var events = new List<LeakEvent>();
        var detector = new LeakDetector(Expect.FullTunnel, events.Add, baseDomains: BaseDomains.Fallback);
        IpAddr resolver = IpAddr.Parse("10.8.0.1");
        long now = Start;
        const int N = 200_000;
        for (int i = 0; i < N; i++)
        {
            now += 1_000_000;
            var client = IpAddr.Parse($"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}");
            var flow = new FlowKey5(client, resolver, (ushort)(1024 + (i % 60000)), 53, IpProtocol.Udp);
            string name = $"host{i}.zone{i % 997}.test";
            string address = $"100.{64 + ((i >> 16) & 63)}.{(i >> 8) & 255}.{i & 255}";
            var origin = new FrameOrigin(now, 0, "wg0", LinkType.Raw, 100);
            detector.OnObservation(DnsObservation(2 * i, origin, flow, new DnsFacts((ushort)i, false, name, 1, 0, false, [])));
            detector.OnObservation(DnsObservation((2 * i) + 1, origin, flow.Reversed, new DnsFacts((ushort)i, true, name, 1, 0, false, [new DnsAnswer(name, 1, 300, address)])));
        }

        Assert.Equal(N, detector.Stats.DnsQueries);
        Assert.Equal(N, detector.Stats.DnsResponses);
        Assert.Equal(N, detector.Stats.AnswersTracked);
        Assert.DoesNotContain(events, e => e.Kind == "leak");

        // Afterwards: a fresh answer on wg0 and a connection to it on eth0 is still a Leak-D.
        now += 1_000_000;
        var tunnel = new FrameOrigin(now, 0, "wg0", LinkType.Raw, 100);
        var q = new FlowKey5(IpAddr.Parse("10.8.0.2"), resolver, 40000, 53, IpProtocol.Udp);
        detector.OnObservation(DnsObservation(2 * N, tunnel, q, new DnsFacts(7, false, "www.example.com", 1, 0, false, [])));
        detector.OnObservation(DnsObservation((2 * N) + 1, tunnel, q.Reversed, new DnsFacts(7, true, "www.example.com", 1, 0, false, [new DnsAnswer("www.example.com", 1, 300, "203.0.113.80")])));
        var eth = new FrameOrigin(now + 1_000_000, 0, "eth0", LinkType.Ethernet, 60);
        var syn = new FlowKey5(IpAddr.Parse("192.168.1.10"), IpAddr.Parse("203.0.113.80"), 50000, 443, IpProtocol.Tcp);
        detector.OnConnectionStart((2 * N) + 2, in eth, in syn);

        LeakEvent d = Assert.Single(events, e => e.LeakType == LeakType.D);
        Assert.Equal("q" + (2 * N).ToString(CultureInfo.InvariantCulture), d.CorrelationId);
        Assert.Equal("eth0", d.Connection!.Interface);
    }

    [Fact]
    public void RandomAndMutatedFrames_ThroughEveryProfile_NeverThrow()
    {
        byte[][] seeds = Seeds();
        string[] interfaces = ["eth0", "wg0", "lo", "tun0", "if3", "enp3s0"];
        LinkType[] links = Enum.GetValues<LinkType>();
        LeakPolicy[] policies =
        [
            Expect.FullTunnel,
            Expect.ProxyStub,
            Expect.Split,
            Expect.WithProxyDomains(Expect.Split, "example.com"),
            Expect.WithSafeResolver(Expect.WithTunnelInterface(Expect.ProxyStub, "eth0"), "10.0.0.0/8"),
        ];

        foreach (LeakPolicy policy in policies)
        {
            var rng = new Random(20261124);
            var events = new List<LeakEvent>();
            var pipeline = new LeakPipeline(policy, events.Add, new LeakPipelineOptions(BaseDomains: BaseDomains.Fallback));
            long now = Start;
            for (int i = 0; i < 5000; i++)
            {
                byte[] packet = Mutate(rng, seeds[rng.Next(seeds.Length)]);
                LinkType link = rng.Next(3) == 0 ? links[rng.Next(links.Length)] : LinkType.Raw;
                byte[] frame = link == LinkType.Ethernet ? [.. new byte[12], 0x08, 0x00, .. packet] : packet;
                now += rng.Next(20) == 0 ? 130_000_000_000L : rng.Next(1_000_000_000);
                var origin = new FrameOrigin(now, 0, interfaces[rng.Next(interfaces.Length)], link, frame.Length);
                pipeline.Process(in origin, frame);
            }

            pipeline.Complete();
            Assert.Equal(5000, pipeline.Dissector.Frames);
            Assert.All(events, e => Assert.NotEmpty(e.Evidence));
        }
    }

    private static Observation DnsObservation(long frame, FrameOrigin origin, FlowKey5 flow, DnsFacts dns) =>
        new(frame, origin, flow, ObservationKind.Dns, "udp53", dns, null, [], false, 0);

    private static byte[][] Seeds()
    {
        byte[] q = Harness.Query("www.example.com", 1);
        return
        [
            Harness.Udp("10.0.0.2", "10.0.0.1", 40000, 53, q),
            Harness.Udp("10.0.0.1", "10.0.0.2", 53, 40000, Harness.Answer(q, 300, "203.0.113.80", "2001:db8::80")),
            Harness.Udp("fd00::2", "fd00::1", 40000, 53, Harness.Query("v6.example.com", 2, Wire.Dns.DnsType.AAAA)),
            Harness.Udp("10.0.0.2", "224.0.0.251", 5353, 5353, q),
            Harness.Tcp("10.0.0.2", "203.0.113.80", 50000, 443, 1, TcpFlags.Syn, []),
            Harness.Tcp("10.0.0.2", "203.0.113.80", 50000, 853, 1, TcpFlags.Syn, []),
            Harness.Tcp("10.0.0.2", "203.0.113.80", 50000, 443, 2, TcpFlags.Ack | TcpFlags.Psh, Harness.HelloRecords("dns.google", "h2")),
            Harness.Tcp("10.0.0.2", "203.0.113.80", 50000, 853, 2, TcpFlags.Ack | TcpFlags.Psh, Harness.HelloRecords(null, "dot")),
            Harness.Tcp("203.0.113.80", "10.0.0.2", 443, 50000, 9, TcpFlags.Ack | TcpFlags.Psh, new byte[31]),
            Harness.Tcp("10.0.0.2", "203.0.113.80", 50000, 443, 2, TcpFlags.Fin | TcpFlags.Ack, []),
            Harness.Tcp("10.0.0.2", "10.0.0.1", 41000, 53, 8, TcpFlags.Ack | TcpFlags.Psh, Harness.Framed(q)),
            Harness.Udp("10.0.0.2", "203.0.113.80", 50000, 853, Harness.QuicInitial("doq.example.net", "doq")),
            Harness.Udp("10.0.0.2", "203.0.113.80", 50000, 443, Harness.QuicInitial("dns.google", "h3")),
        ];
    }

    private static byte[] Mutate(Random rng, byte[] seed)
    {
        switch (rng.Next(6))
        {
            case 0:
                return seed;
            case 1:
                byte[] random = new byte[rng.Next(0, 200)];
                rng.NextBytes(random);
                if (random.Length > 0 && rng.Next(2) == 0)
                {
                    random[0] = (byte)((rng.Next(2) == 0 ? 0x45 : 0x60) | (random[0] & 0x0F));
                }

                return random;
            case 2:
                return seed.AsSpan(0, rng.Next(seed.Length + 1)).ToArray();
            default:
                byte[] copy = (byte[])seed.Clone();
                int flips = 1 + rng.Next(8);
                for (int i = 0; i < flips && copy.Length > 0; i++)
                {
                    // Leave the IP/transport header mostly intact half the time so the mutation reaches the payload readers.
                    int at = rng.Next(2) == 0 && copy.Length > 40 ? 40 + rng.Next(copy.Length - 40) : rng.Next(copy.Length);
                    copy[at] = (byte)rng.Next(256);
                }

                return copy;
        }
    }
}
