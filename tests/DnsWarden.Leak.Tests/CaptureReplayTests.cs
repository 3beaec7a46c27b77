using DnsWarden.Capture.Files;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Tests.Rules;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests;

/// <summary>Capture files through the pipeline as <c>leak watch --pcap</c> reads them (<see cref="CaptureReplay"/>).</summary>
public sealed class CaptureReplayTests : IDisposable
{
    private const long T0 = 1_700_000_000_000_000_000;
    private const string Client = "10.8.0.2";
    private const string Resolver = "10.8.0.1";
    private const string Target = "203.0.113.80";

    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-replay-").FullName;
    private readonly List<LeakEvent> _events = [];
    private readonly List<long> _seen = [];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly byte[] s_query = Harness.Query("www.example.com", 0x4444);

    // The DNS over the tunnel, then a SYN to the answer's address over eth0: a Leak-D, but only in time order.
    private static byte[] QueryPacket() => Harness.Udp(Client, Resolver, 40000, 53, s_query);

    private static byte[] AnswerPacket() => Harness.Udp(Resolver, Client, 53, 40000, Harness.Answer(s_query, 300, Target));

    private static byte[] SynPacket() => Harness.Tcp("192.168.1.10", Target, 50000, 443, 100, TcpFlags.Syn, []);

    private string PcapNg(string name, params (string Iface, long Ns, byte[] Packet)[] frames)
    {
        string path = Path.Combine(_dir, name);
        using var writer = new PcapNgWriter(File.Create(path));
        // Every interface described first, as dumpcap writes its section header.
        var ids = new Dictionary<string, int>();
        foreach (string iface in frames.Select(f => f.Iface).Distinct())
        {
            ids[iface] = writer.AddInterface(LinkType.Raw, iface);
        }

        foreach ((string iface, long ns, byte[] packet) in frames)
        {
            writer.WritePacket(ids[iface], T0 + ns, packet);
        }

        return path;
    }

    private (IReadOnlyList<string> Problems, List<string> Hints) Replay(FrameNumbering frames, string? fallback, params string[] files)
    {
        var pipeline = new LeakPipeline(Expect.FullTunnel, _events.Add, new LeakPipelineOptions(OnObservation: o => _seen.Add(o.Origin.TimestampNs)));
        var hints = new List<string>();
        var replay = new CaptureReplay(pipeline, frames) { FallbackInterface = fallback, Hint = hints.Add };
        IReadOnlyList<string> problems = replay.Run(files);
        pipeline.Complete();
        return (problems, hints);
    }

    [Fact]
    public void AFileWrittenInPerInterfaceBlocks_IsReplayedInTimeOrder()
    {
        // dumpcap -i eth0 -i tun0 writes eth0's SYN (later) before tun0's DNS (earlier): in file order there is no
        // answer yet when the SYN is seen; in time order it is a Leak-D.
        string file = PcapNg("blocks.pcapng", ("eth0", 3_000_000, SynPacket()), ("tun0", 1_000_000, QueryPacket()), ("tun0", 2_000_000, AnswerPacket()));
        var frames = new FrameNumbering();
        (IReadOnlyList<string> problems, _) = Replay(frames, null, file);

        Assert.Empty(problems);
        Assert.Equal([T0 + 1_000_000, T0 + 2_000_000], _seen); // the DNS, in time order, though written after the SYN
        LeakEvent e = Assert.Single(_events);
        Assert.Equal(LeakType.D, e.LeakType);
        LeakEvent local = frames.Localize(e);
        Assert.Equal((file, 1L), (local.Connection!.File, local.Connection.Frame));
        Assert.Equal("q2", local.CorrelationId);
    }

    [Fact]
    public void QueriesOnTwoInterfaces_WrittenOutOfOrder_AreSeenInTimeOrder()
    {
        string file = PcapNg("two.pcapng",
            ("eth0", 3_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, s_query)),
            ("eth0", 4_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40001, 53, s_query)),
            ("tun0", 1_000_000, QueryPacket()),
            ("tun0", 2_000_000, AnswerPacket()));
        (IReadOnlyList<string> problems, _) = Replay(new FrameNumbering(), null, file);

        Assert.Empty(problems);
        Assert.Equal([T0 + 1_000_000, T0 + 2_000_000, T0 + 3_000_000, T0 + 4_000_000], _seen);
    }

    [Fact]
    public void SeveralFiles_AreOneInput_AndEachFrameIsNamedInItsOwnFile()
    {
        string dns = PcapNg("a.pcapng", ("tun0", 1_000_000, QueryPacket()), ("tun0", 2_000_000, AnswerPacket()));
        string syn = PcapNg("b.pcapng", ("eth0", 3_000_000, SynPacket()));
        var frames = new FrameNumbering(files: 2);
        (IReadOnlyList<string> problems, _) = Replay(frames, null, dns, syn);

        Assert.Empty(problems);
        LeakEvent e = frames.Localize(Assert.Single(_events));
        Assert.Equal(LeakType.D, e.LeakType);
        Assert.Equal((syn, 1L), (e.Connection!.File, e.Connection.Frame));
        Assert.Equal("q1@1", e.CorrelationId);
    }

    [Fact]
    public void ABadFileAmongSeveral_IsNamed_AndTheOthersAreRead()
    {
        string good = PcapNg("good.pcapng", ("eth0", 1_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, s_query)));
        string bad = Path.Combine(_dir, "bad.pcap");
        File.WriteAllText(bad, "not a capture\n");
        string missing = Path.Combine(_dir, "missing.pcap");

        (IReadOnlyList<string> problems, _) = Replay(new FrameNumbering(files: 4), null, good, bad, missing, good);

        Assert.Equal(2, problems.Count);
        Assert.StartsWith(bad, problems[0], StringComparison.Ordinal);
        Assert.StartsWith(missing, problems[1], StringComparison.Ordinal);
        Assert.Equal(2, _events.Count(e => e.LeakType == LeakType.A)); // the good file, read twice
    }

    [Fact]
    public void ATruncatedFile_SaysWhereAndKeepsWhatCameBefore()
    {
        string file = PcapNg("cut.pcapng",
            ("eth0", 1_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, s_query)),
            ("eth0", 2_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40001, 53, Harness.Query("other.example.com", 0x5555))));
        byte[] bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..^7]);

        (IReadOnlyList<string> problems, _) = Replay(new FrameNumbering(), null, file);

        string problem = Assert.Single(problems);
        Assert.Matches(@"^.*cut\.pcapng: at byte \d+: .+ \(1 packets before it were processed\)$", problem);
        Assert.Equal("www.example.com", Assert.Single(_events).QName);
    }

    [Fact]
    public void AClassicPcap_WithoutAnInterfaceName_GetsOneHint_OrTheNameGiven()
    {
        string path = Path.Combine(_dir, "classic.pcap");
        using (var writer = new PcapWriter(File.Create(path), LinkType.Raw))
        {
            writer.WritePacket(T0, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, s_query));
            writer.WritePacket(T0 + 1_000_000, Harness.Udp("192.168.1.10", "192.168.1.1", 40001, 53, Harness.Query("b.example.com", 1)));
        }

        (_, List<string> hints) = Replay(new FrameNumbering(), null, path);
        string hint = Assert.Single(hints);
        Assert.Contains("does not name its interface", hint, StringComparison.Ordinal);
        Assert.All(_events, e => Assert.Equal("if0", e.Interface));

        _events.Clear();
        (_, hints) = Replay(new FrameNumbering(), "wlan0", path);
        Assert.Empty(hints);
        Assert.All(_events, e => Assert.Equal("wlan0", e.Interface));
        Assert.NotEmpty(_events);
    }
}
