using DnsWarden.Indicators;
using System.Text;
using System.Text.Json;
using DnsWarden.Capture.Live;
using DnsWarden.Leak;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// The whole leak pipeline (dissector, flow tracker, rules) over a sequence of frames on several interfaces.
/// Input: one byte picking the link type, one picking the policy, then records of a 2-byte big-endian length,
/// a meta byte (low 3 bits: the interface; high 5 bits n: a time step of n² quarter seconds, so flow idle
/// eviction and answer expiry are reachable) and that many frame bytes (cut short at the end).
/// </summary>
internal sealed class LeakFuzzer : IFuzzer
{
    private static readonly string[] s_interfaces = ["eth0", "wg0", "lo", "tun0", "if3", "enp3s0", "eth9", "ppp0"];

    private static readonly LeakPolicy[] s_policies = BuildPolicies();

    public string Name => "Leak";

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 2)
        {
            return;
        }

        LinkType link = FramesFuzzer.PickLink(bytes[0]);
        LeakPolicy policy = s_policies[bytes[1] % s_policies.Length];
        var events = new List<LeakEvent>();
        var pipeline = new LeakPipeline(policy, events.Add, new LeakPipelineOptions(BaseDomains: BaseDomains.Fallback));

        long timestamp = 1_700_000_000_000_000_000;
        int frames = 0;
        int position = 2;
        while (position + 3 <= bytes.Length)
        {
            int length = (bytes[position] << 8) | bytes[position + 1];
            byte meta = bytes[position + 2];
            int step = meta >> 3;
            timestamp += step * step * 250_000_000L;
            position += 3;
            length = Math.Min(length, bytes.Length - position);
            var origin = new FrameOrigin(timestamp, 0, s_interfaces[meta & 7], link, length);
            pipeline.Process(in origin, bytes.Slice(position, length));
            position += length;
            frames++;
        }

        pipeline.Complete();
        FuzzAssert.True(pipeline.Dissector.Frames == frames, $"Dissector.Frames {pipeline.Dissector.Frames}, fed {frames}");
        FuzzAssert.True(pipeline.FlowsDropped == 0 || frames > 1000, "flows dropped with a small input");

        var summary = new LeakSummary();
        foreach (LeakEvent e in events)
        {
            Check(policy, e);
            summary.Add(e);
        }

        FuzzAssert.True(summary.Events == events.Count, "summary count");
        _ = summary.Bursts();
    }

    private static void Check(LeakPolicy policy, LeakEvent e)
    {
        FuzzAssert.True(e.Evidence.Count > 0 && e.Evidence.All(s => !string.IsNullOrWhiteSpace(s)), "an event without evidence");
        FuzzAssert.True(Array.IndexOf(s_interfaces, e.Interface) >= 0, $"interface '{e.Interface}' was never fed");
        switch (e.Kind)
        {
            case "exfiltration":
                FuzzAssert.True(e.LeakType is null && e.Exfiltration is not null, "exfiltration event without figures or with a leak type");
                break;
            case "leak":
                FuzzAssert.True(e.LeakType is not null && e.Exfiltration is null, "leak event without a leak type");
                if (e.LeakType == LeakType.D)
                {
                    FuzzAssert.True(e.Connection is { } c && c.Interface != e.Interface, "Leak-D without a connection on another interface");
                    FuzzAssert.True(e.Connection.RouteClass != "loopback", "Leak-D for a connection over loopback");
                }
                else
                {
                    // A, B and C are only ever raised off the safe route classes.
                    bool safeClass = policy.SafeRouteClasses.Any(c => RouteClassifier.Name(c) == e.RouteClass);
                    FuzzAssert.True(!safeClass, $"Leak-{e.LeakType} on a safe route class ({e.RouteClass}) under {policy.Source}");
                    FuzzAssert.True(e.LeakType != LeakType.A || policy.Profile != PolicyProfile.Split, "Leak-A under the split profile");
                }

                break;
            default:
                throw new FuzzInvariantException($"unknown event kind '{e.Kind}'");
        }

        // Every event written reads back, and writes the same line again.
        string line = Write(e);
        FuzzAssert.True(LeakEventJson.TryParse(line, out LeakEvent? back, out bool isSummary, out string? error), $"written event does not parse: {error}: {line}");
        FuzzAssert.True(!isSummary && back is not null, "written event read as a summary");
        FuzzAssert.True(Write(back) == line, $"event JSON does not round-trip: {line}");
    }

    private static string Write(LeakEvent e)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, LeakEventJson.WriterOptions))
        {
            LeakEventJson.Write(w, e);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public IReadOnlyList<byte[]> GetSeeds()
    {
        IpAddr c = SeedCorpus.ClientV4;
        IpAddr s = SeedCorpus.ServerV4;
        IpAddr web = IpAddr.Parse("192.0.2.1"); // the A record of SeedCorpus.DnsResponse
        byte[] query = SeedCorpus.DnsQuery("www.example.com", DnsType.A, edns: true);
        byte[] framed = [(byte)(query.Length >> 8), (byte)query.Length, .. query];
        byte[] hello = SeedCorpus.TlsRecord(SeedCorpus.ClientHello, split: 0);
        byte[] h2Hello = SeedCorpus.TlsRecord(ClientHello("api.unknown.example", "h2"), split: 0);
        byte[] dohHello = SeedCorpus.TlsRecord(ClientHello("dns.google", "h2"), split: 0);
        byte[] smallRecord = new byte[31];
        smallRecord[0] = 23;

        (int Iface, int Step, byte[] Ip)[] leakD =
        [
            (1, 0, SeedCorpus.Udp(c, s, 40000, 53, query)),
            (1, 1, SeedCorpus.Udp(s, c, 53, 40000, SeedCorpus.DnsResponse())),
            (0, 1, SeedCorpus.Tcp(c, web, 50000, 443, 100, TcpFlags.Syn, [])),
            (0, 1, SeedCorpus.Tcp(c, web, 50000, 443, 100, TcpFlags.Syn, [])),
        ];
        (int, int, byte[])[] leakA =
        [
            (0, 0, SeedCorpus.Udp(c, s, 40001, 53, query)),
            (3, 1, SeedCorpus.Udp(SeedCorpus.ClientV6, SeedCorpus.ServerV6, 40002, 53, SeedCorpus.DnsQuery("proxy.example.org", DnsType.AAAA, edns: false))),
            (0, 1, SeedCorpus.Tcp(c, s, 40003, 53, 7, TcpFlags.Syn, [])),
            (0, 1, SeedCorpus.Tcp(c, s, 40003, 53, 8, TcpFlags.Ack | TcpFlags.Psh, framed)),
            (2, 1, SeedCorpus.Udp(c, IpAddr.Parse("224.0.0.251"), 5353, 5353, query)),
        ];
        (int, int, byte[])[] leakC =
        [
            (0, 0, SeedCorpus.Tcp(c, s, 40004, 853, 7, TcpFlags.Syn, [])),
            (0, 1, SeedCorpus.Tcp(c, s, 40004, 853, 8, TcpFlags.Ack | TcpFlags.Psh, hello)),
            (5, 1, SeedCorpus.Tcp(c, IpAddr.Parse("1.1.1.1"), 40005, 443, 7, TcpFlags.Syn, [])),
            (5, 1, SeedCorpus.Tcp(c, IpAddr.Parse("1.1.1.1"), 40005, 443, 8, TcpFlags.Ack | TcpFlags.Psh, dohHello)),
            (5, 1, SeedCorpus.Tcp(c, IpAddr.Parse("198.51.100.9"), 40006, 853, 9, TcpFlags.Syn, [])),
            (5, 1, SeedCorpus.Tcp(IpAddr.Parse("198.51.100.9"), c, 853, 40006, 0, TcpFlags.Rst | TcpFlags.Ack, [])),
            (6, 1, SeedCorpus.Udp(SeedCorpus.ClientV6, SeedCorpus.ServerV6, 40007, 853, SeedCorpus.QuicInitial)),
            (0, 1, SeedCorpus.Udp(c, web, 40008, 443, SeedCorpus.QuicInitial)),
        ];
        (int, int, byte[])[] dohShape =
        [
            (0, 0, SeedCorpus.Tcp(c, s, 40009, 443, 7, TcpFlags.Syn, [])),
            (0, 1, SeedCorpus.Tcp(c, s, 40009, 443, 8, TcpFlags.Ack | TcpFlags.Psh, h2Hello)),
            (0, 1, SeedCorpus.Tcp(s, c, 443, 40009, 100, TcpFlags.Ack | TcpFlags.Psh, new byte[1400])),
            (0, 1, SeedCorpus.Tcp(c, s, 40009, 443, (uint)(8 + h2Hello.Length), TcpFlags.Ack | TcpFlags.Psh, smallRecord)),
            (0, 1, SeedCorpus.Tcp(s, c, 443, 40009, 1500, TcpFlags.Ack | TcpFlags.Psh, smallRecord)),
            (0, 1, SeedCorpus.Tcp(c, s, 40009, 443, (uint)(8 + h2Hello.Length + 31), TcpFlags.Ack | TcpFlags.Psh, new byte[120])),
            (0, 1, SeedCorpus.Tcp(s, c, 443, 40009, 1531, TcpFlags.Ack | TcpFlags.Psh, new byte[200])),
            (0, 31, SeedCorpus.Tcp(c, s, 40010, 80, 1, TcpFlags.Ack, [])),
        ];

        var seeds = new List<byte[]>();
        for (int p = 0; p < s_policies.Length; p++)
        {
            seeds.Add(Pack(LinkType.Ethernet, p, leakD));
            seeds.Add(Pack(LinkType.Ethernet, p, leakA));
            seeds.Add(Pack(LinkType.Ethernet, p, leakC));
            seeds.Add(Pack(LinkType.LinuxSll, p, dohShape));
        }

        seeds.Add(Pack(LinkType.Raw, 0, [.. leakD, .. leakA, .. leakC, .. dohShape]));
        return seeds;
    }

    /// <summary>A minimal TLS 1.2-style ClientHello (RFC 8446 §4.1.2) with server_name (RFC 6066 §3) and ALPN (RFC 7301 §3.1).</summary>
    private static byte[] ClientHello(string serverName, string alpn)
    {
        byte[] name = Encoding.ASCII.GetBytes(serverName);
        byte[] protocol = Encoding.ASCII.GetBytes(alpn);
        var extensions = new List<byte>();
        extensions.AddRange([0, 0, .. U16(name.Length + 5), .. U16(name.Length + 3), 0, .. U16(name.Length), .. name]);
        extensions.AddRange([0, 16, .. U16(protocol.Length + 3), .. U16(protocol.Length + 1), (byte)protocol.Length, .. protocol]);
        var body = new List<byte> { 3, 3 };
        body.AddRange(new byte[32]);
        body.AddRange([0, 0, 2, 0x13, 0x01, 1, 0, .. U16(extensions.Count), .. extensions]);
        return [1, 0, .. U16(body.Count), .. body];
    }

    private static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];

    private static byte[] Pack(LinkType link, int policy, IEnumerable<(int Iface, int Step, byte[] Ip)> packets)
    {
        var output = new List<byte> { FramesFuzzer.LinkByte(link), (byte)policy };
        foreach ((int iface, int step, byte[] ip) in packets)
        {
            byte[] frame = SeedCorpus.Frame(link, ip);
            output.Add((byte)(frame.Length >> 8));
            output.Add((byte)frame.Length);
            output.Add((byte)((step << 3) | iface));
            output.AddRange(frame);
        }

        return [.. output];
    }

    private static LeakPolicy[] BuildPolicies()
    {
        LeakPolicy fullTunnel = Profiles.Create(PolicyProfile.FullTunnel);
        FuzzAssert.True(Profiles.TryParseEndpoint("10.0.0.53:53", out EndpointRule? resolver, out _), "seed endpoint");
        return
        [
            fullTunnel,
            Profiles.Create(PolicyProfile.ProxyStub),
            Profiles.WithQuickFlags(Profiles.Create(PolicyProfile.Split), [], [], ["example.org", "proxy.example.com"]),
            Profiles.WithQuickFlags(fullTunnel, ["eth9"], [resolver!], ["example.com"]),
        ];
    }
}
