using System.Text;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Indicators;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Evidence;
using DnsWarden.Leak.Tests.Rules;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Tests.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Evidence;

/// <summary>
/// The evidence pcapng: crafted frames through a whole pipeline with a recorder, the file read back with the
/// project's pcapng reader (tshark reads the same files in the end-to-end tests).
/// </summary>
public sealed class EvidenceRecorderTests
{
    private const string TunnelClient = "10.8.0.2";
    private const string TunnelResolver = "10.8.0.1";
    private const string LanClient = "192.168.1.10";
    private const string LanResolver = "198.51.100.53";
    private const string Web = "203.0.113.80";

    [Fact]
    public void LeakA_QueryAndItsLaterAnswer_EachWithTheEventsComment_NothingElse()
    {
        using var run = new Run();
        byte[] q = Harness.Query("www.example.com", 0x1234);
        long query = run.H.Feed("eth0", Harness.Udp(LanClient, LanResolver, 40000, 53, q));
        // Traffic that is no event's evidence: a tunnel query and its answer, and another flow.
        byte[] safe = Harness.Query("safe.example.com", 0x0101);
        run.H.Feed("wg0", Harness.Udp(TunnelClient, TunnelResolver, 40001, 53, safe));
        run.H.Feed("wg0", Harness.Udp(TunnelResolver, TunnelClient, 53, 40001, Harness.Answer(safe, 60, Web)));
        run.H.Feed("eth0", Harness.Tcp(LanClient, "203.0.113.9", 50000, 22, 1, TcpFlags.Syn, []));
        long answer = run.H.Feed("eth0", Harness.Udp(LanResolver, LanClient, 53, 40000, Harness.Answer(q, 60, Web)));
        List<Packet> packets = run.Finish();

        LeakEvent e = Assert.Single(run.H.Events);
        Assert.Equal(LeakType.A, e.LeakType);
        Assert.Collection(
            packets,
            p => AssertPacket(p, "eth0", query, $"dnsw event 1: Leak-A P1 correlation q{query}; query, capture frame {query}"),
            p => AssertPacket(p, "eth0", answer, $"dnsw event 1: Leak-A P1 correlation q{query}; answer, capture frame {answer}"));
        Assert.Equal(run.Input[query], packets[0].Data);
        Assert.Equal(run.Input[answer], packets[1].Data);
        Assert.Equal(run.Times[query], packets[0].TimestampNs);
        Assert.Equal(1, run.Recorder.Stats.EventsComplete);
        Assert.Equal(0, run.Recorder.Stats.EventsIncomplete);
    }

    [Fact]
    public void LeakD_TheDnsOnItsInterface_ThenTheConnectionsFirstPackets_TwoInterfaceBlocks()
    {
        using var run = new Run();
        byte[] q = Harness.Query("www.example.com", 0x4444);
        long query = run.H.Feed("wg0", Harness.Udp(TunnelClient, TunnelResolver, 40000, 53, q));
        long answer = run.H.Feed("wg0", Harness.Udp(TunnelResolver, TunnelClient, 53, 40000, Harness.Answer(q, 300, Web)));
        long first = run.H.Frames + 1;
        run.H.TlsConnection("eth0", LanClient, 50000, Web, 443, "www.example.com", ["h2"], 3000, 500, 4000);
        List<Packet> packets = run.Finish();

        LeakEvent e = Assert.Single(run.H.Events);
        Assert.Equal(LeakType.D, e.LeakType);
        string label = $"dnsw event 1: Leak-D P2 correlation q{query}";
        Assert.Equal(2 + EvidenceLimits.Default.MaxFramesPerFlow, packets.Count);
        AssertPacket(packets[0], "wg0", query, $"{label}; query, capture frame {query}");
        AssertPacket(packets[1], "wg0", answer, $"{label}; answer, capture frame {answer}");
        for (int i = 0; i < EvidenceLimits.Default.MaxFramesPerFlow; i++)
        {
            AssertPacket(packets[2 + i], "eth0", first + i, $"{label}; connection, capture frame {first + i}");
            Assert.Equal(run.Input[first + i], packets[2 + i].Data);
        }

        Assert.Equal(["wg0", "eth0"], run.InterfaceNames);
    }

    [Fact]
    public void LeakC_TheFlowFromItsSyn_WrittenWhenTheHelloIsJudged_LaterPacketsAsTheyCome()
    {
        using var run = new Run();
        run.H.TlsConnection("eth0", LanClient, 50000, "198.51.100.7", 853, "dot.example.net", [], 200, 100);
        List<Packet> packets = run.Finish();

        LeakEvent e = Assert.Single(run.H.Events);
        Assert.Equal(LeakType.C, e.LeakType);
        // SYN, SYN/ACK, hello, 200 B, 100 B, FIN, FIN: seven frames, all within the bound.
        Assert.Equal(7, packets.Count);
        for (int i = 0; i < packets.Count; i++)
        {
            AssertPacket(packets[i], "eth0", i + 1, $"dnsw event 1: Leak-C P1; connection, capture frame {i + 1}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FragmentedAnswer_EveryFragmentIsWritten_InEitherOrder(bool reversed)
    {
        using var run = new Run();
        byte[] q = Harness.Query("frag.example.com", 0x0777);
        long query = run.H.Feed("eth0", Harness.Udp(LanClient, LanResolver, 40003, 53, q));
        byte[] response = new byte[2000];
        var writer = new DnsMessageWriter(response);
        Assert.True(writer.TryBeginResponse(q, DnsRcode.NoError));
        Assert.True(writer.TryWriteTxt(DnsSection.Answer, "frag.example.com", 60, Encoding.ASCII.GetBytes(new string('x', 1500))));
        Assert.True(writer.TryFinish(out int length));
        byte[] udp = new byte[8 + length];
        Assert.True(TransportHeaderWriter.TryWriteUdpHeader(udp, 53, 40003, length, out _));
        response.AsSpan(0, length).CopyTo(udp.AsSpan(8));
        List<byte[]> fragments = Ipv4Fragments.Split(IpAddr.Parse(LanResolver), IpAddr.Parse(LanClient), IpProtocol.Udp, udp, 0x77, 600);
        Assert.Equal(3, fragments.Count);
        if (reversed)
        {
            fragments.Reverse();
        }

        var fragmentFrames = fragments.Select(f => run.H.Feed("eth0", f)).ToList();
        List<Packet> packets = run.Finish();

        Assert.Single(run.H.Events);
        Assert.Equal(4, packets.Count);
        AssertPacket(packets[0], "eth0", query, $"dnsw event 1: Leak-A P1 correlation q{query}; query, capture frame {query}");
        Assert.Equal(
            fragmentFrames.Order().Select(f => $"dnsw event 1: Leak-A P1 correlation q{query}; answer, capture frame {f}"),
            packets.Skip(1).Select(p => Assert.Single(p.Comments)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void OnePacketForTwoEvents_IsWrittenOnce_WithBothComments()
    {
        // Forty high-entropy names on eth0 under full-tunnel: each is a Leak-A, and one of them also crosses the
        // exfiltration threshold (judged first, so its event comes first).
        using var run = new Run(new LeakPipelineOptions(BaseDomains: BaseDomains.Fallback));
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var rng = new Random(7);
        for (int i = 0; i < 40; i++)
        {
            string label = string.Concat(Enumerable.Range(0, 40).Select(_ => Alphabet[rng.Next(Alphabet.Length)]));
            run.H.Feed("eth0", Harness.Udp(LanClient, LanResolver, (ushort)(40000 + i), 53, Harness.Query(label + ".t.example.com", (ushort)i)));
            run.H.Wait(TimeSpan.FromMilliseconds(200));
        }

        List<Packet> packets = run.Finish();
        int exfil = run.H.Events.FindIndex(e => e.Kind == "exfiltration");
        Assert.True(exfil >= 0);
        Assert.Equal(40, packets.Count);
        Packet shared = Assert.Single(packets, p => p.Comments.Count == 2);
        Assert.StartsWith("dnsw event " + (exfil + 1) + ": exfiltration", shared.Comments[0], StringComparison.Ordinal);
        Assert.StartsWith("dnsw event " + (exfil + 2) + ": Leak-A P1", shared.Comments[1], StringComparison.Ordinal);
    }

    [Fact]
    public void LongTcpDnsConnection_AQueryPastTheBound_IsWrittenAlone()
    {
        using var run = new Run(policy: Expect.WithSafeResolver(Expect.ProxyStub, LanResolver + ":53"));
        const uint Isn = 7000;
        run.H.Feed("eth0", Harness.Tcp(LanClient, LanResolver, 50000, 53, Isn, TcpFlags.Syn, []));
        uint seq = Isn + 1;
        for (int i = 0; i < 12; i++)
        {
            byte[] framed = Harness.Framed(Harness.Query($"n{i}.example.com", (ushort)i));
            run.H.Feed("eth0", Harness.Tcp(LanClient, LanResolver, 50000, 53, seq, TcpFlags.Ack | TcpFlags.Psh, framed));
            seq += (uint)framed.Length;
        }

        List<Packet> none = run.Finish();
        Assert.Empty(run.H.Events); // the resolver is safe: no event, nothing written
        Assert.Empty(none);

        // The same connection to an unsafe resolver: twelve Leak-A. The first nine queries are among the flow's first
        // ten packets; the last three are written alone.
        using var leaky = new Run();
        leaky.H.Feed("eth0", Harness.Tcp(LanClient, LanResolver, 50000, 53, Isn, TcpFlags.Syn, []));
        seq = Isn + 1;
        var queryFrames = new List<long>();
        for (int i = 0; i < 12; i++)
        {
            byte[] framed = Harness.Framed(Harness.Query($"n{i}.example.com", (ushort)i));
            queryFrames.Add(leaky.H.Feed("eth0", Harness.Tcp(LanClient, LanResolver, 50000, 53, seq, TcpFlags.Ack | TcpFlags.Psh, framed)));
            seq += (uint)framed.Length;
        }

        List<Packet> packets = leaky.Finish();
        Assert.Equal(12, leaky.H.Events.Count);
        foreach ((long frame, int n) in queryFrames.Select((f, i) => (f, i + 1)))
        {
            Assert.Contains(packets, p => p.Comments.Any(c => c.StartsWith($"dnsw event {n}: Leak-A", StringComparison.Ordinal)
                                                              && c.EndsWith($"capture frame {frame}", StringComparison.Ordinal)));
        }

        Assert.Equal(12, leaky.Recorder.Stats.EventsComplete);
    }

    [Fact]
    public void TinyDnsBudget_OldTransactionEvicted_LeakDCountedIncomplete_NoWrongPackets()
    {
        var limits = new EvidenceLimits { MaxDnsBytes = 4096 };
        using var run = new Run(limits: limits);
        byte[] q = Harness.Query("www.example.com", 0x4444);
        run.H.Feed("wg0", Harness.Udp(TunnelClient, TunnelResolver, 40000, 53, q));
        run.H.Feed("wg0", Harness.Udp(TunnelResolver, TunnelClient, 53, 40000, Harness.Answer(q, 300, Web)));
        for (int i = 0; i < 50; i++)
        {
            byte[] other = Harness.Query($"other{i}.example.com", (ushort)i);
            run.H.Feed("wg0", Harness.Udp(TunnelClient, TunnelResolver, (ushort)(41000 + i), 53, other));
        }

        long syn = run.H.Feed("eth0", Harness.Tcp(LanClient, Web, 50000, 443, 1, TcpFlags.Syn, []));
        List<Packet> packets = run.Finish();

        Assert.Equal(LeakType.D, Assert.Single(run.H.Events).LeakType);
        Packet only = Assert.Single(packets);
        AssertPacket(only, "eth0", syn, $"dnsw event 1: Leak-D P2 correlation q1; connection, capture frame {syn}");
        Assert.Equal(1, run.Recorder.Stats.EventsIncomplete);
        Assert.True(run.Recorder.Stats.FlowsEvicted > 0);
        Assert.True(run.Recorder.Stats.PeakBytes <= limits.MaxDnsBytes + 1024 + EvidenceLimits.Default.MaxFlowBytes, run.Recorder.Stats.PeakBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ManyFlows_TheBufferStaysWithinItsBudget()
    {
        var limits = new EvidenceLimits { MaxDnsBytes = 64 << 10, MaxFlowBytes = 64 << 10 };
        using var run = new Run(policy: Expect.WithSafeResolver(Expect.ProxyStub, LanResolver + ":53"), limits: limits);
        for (int i = 0; i < 5000; i++)
        {
            byte[] q = Harness.Query($"n{i}.example.com", (ushort)i);
            run.H.Feed("eth0", Harness.Udp(LanClient, LanResolver, (ushort)(20000 + i), 53, q));
            run.H.Feed("eth0", Harness.Tcp(LanClient, Web, (ushort)(20000 + i), 443, 1, TcpFlags.Syn, []));
            Assert.True(run.Recorder.RetainedBytes <= limits.TotalBytes, run.Recorder.RetainedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        run.Finish();
        Assert.True(run.Recorder.Stats.FlowsEvicted > 9000, run.Recorder.Stats.FlowsEvicted.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(run.Recorder.Stats.PeakBytes <= limits.TotalBytes);
    }

    [Fact]
    public void FrameNumbersRestartingWithASecondFile_TheEventsOwnFlowIsTheOneWritten()
    {
        using var run = new Run();

        // File 1: a tunnel query at frame 1. File 2: an eth0 query at frame 1 too, then a connection to the answer of
        // file 1's query: the Leak-D must name file 1's transaction only if it is still the flow indexed under
        // frame 1, and never file 2's eth0 query.
        byte[] q1 = Harness.Query("www.example.com", 0x1111);
        run.Feed(1, "wg0", Harness.Udp(TunnelClient, TunnelResolver, 40000, 53, q1));
        run.Feed(2, "wg0", Harness.Udp(TunnelResolver, TunnelClient, 53, 40000, Harness.Answer(q1, 300, Web)));
        byte[] q2 = Harness.Query("other.example.com", 0x2222);
        run.Feed(1, "eth0", Harness.Udp(LanClient, LanResolver, 40001, 53, q2));
        run.Feed(2, "eth0", Harness.Tcp(LanClient, Web, 50000, 443, 1, TcpFlags.Syn, []));
        List<Packet> packets = run.Finish();

        Assert.Equal(2, run.H.Events.Count); // the Leak-A of q2, the Leak-D
        Assert.Equal(LeakType.D, run.H.Events[1].LeakType);
        Assert.DoesNotContain(packets, p => p.Interface == "eth0" && p.Comments.Any(c => c.StartsWith("dnsw event 2:", StringComparison.Ordinal) && c.Contains("query", StringComparison.Ordinal)));
        Assert.Single(packets, p => p.Comments.Any(c => c.StartsWith("dnsw event 2:", StringComparison.Ordinal)) && p.Interface == "eth0");
        Assert.Equal(1, run.Recorder.Stats.EventsIncomplete);
    }

    [Fact]
    public void DiskFullMidway_TheEvidenceStops_TheEventsDoNot()
    {
        using var disk = new FullAfter(200);
        using var writer = new PcapNgWriter(disk, leaveOpen: true);
        var recorder = new EvidenceRecorder(writer, flushEachWrite: true);
        var h = new Harness(Expect.FullTunnel, new LeakPipelineOptions(Evidence: recorder));
        for (int i = 0; i < 20; i++)
        {
            byte[] q = Harness.Query($"n{i}.example.com", (ushort)i);
            h.Feed("eth0", Harness.Udp(LanClient, LanResolver, (ushort)(40000 + i), 53, q));
            h.Feed("eth0", Harness.Udp(LanResolver, LanClient, 53, (ushort)(40000 + i), Harness.Answer(q, 60, Web)));
        }

        h.Complete();
        Assert.Equal(20, h.Events.Count);
        Assert.Equal("No space left on device", recorder.WriteError);
        Assert.True(recorder.Stats.PacketsWritten < 40);
    }

    /// <summary>A stream that takes a few bytes, then fails as a full disk does.</summary>
    private sealed class FullAfter(int capacity) : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Length + count > capacity)
            {
                throw new IOException("No space left on device");
            }

            base.Write(buffer, offset, count);
        }
    }

    private static void AssertPacket(Packet p, string iface, long frame, string comment)
    {
        Assert.Equal(iface, p.Interface);
        Assert.Equal([comment], p.Comments);
        Assert.EndsWith("capture frame " + frame, comment, StringComparison.Ordinal);
    }

    internal sealed record Packet(string Interface, long TimestampNs, byte[] Data, IReadOnlyList<string> Comments);

    /// <summary>A pipeline with a recorder writing to memory; records every frame fed, by number.</summary>
    private sealed class Run : IDisposable
    {
        private readonly MemoryStream _stream = new();
        private readonly PcapNgWriter _writer;
        private long _clock = 1_700_000_000_000_000_000;

        public Run(LeakPipelineOptions? options = null, Policy.LeakPolicy? policy = null, EvidenceLimits? limits = null)
        {
            _writer = new PcapNgWriter(_stream, leaveOpen: true);
            Recorder = new EvidenceRecorder(_writer, limits);
            H = new Harness(policy ?? Expect.FullTunnel, (options ?? new LeakPipelineOptions()) with { Evidence = Recorder }, OnFeed);
        }

        public Harness H { get; }

        public EvidenceRecorder Recorder { get; }

        public Dictionary<long, byte[]> Input { get; } = [];

        public Dictionary<long, long> Times { get; } = [];

        public List<string> InterfaceNames { get; } = [];

        /// <summary>Feeds a frame under a given number (as a second capture file's frames are numbered).</summary>
        public void Feed(long frameNumber, string iface, byte[] packet)
        {
            _clock += 1_000_000;
            var origin = new FrameOrigin(_clock, 0, iface, LinkType.Raw, packet.Length);
            H.Pipeline.Process(in origin, packet, frameNumber);
        }

        public List<Packet> Finish()
        {
            H.Complete();
            _writer.Flush();
            _stream.Position = 0;
            var packets = new List<Packet>();
            using ICaptureFileReader reader = CaptureFileReader.Open(_stream, leaveOpen: true);
            while (reader.TryReadNext(out CapturedPacket p))
            {
                packets.Add(new Packet(p.InterfaceName!, p.TimestampNs, p.Data.ToArray(), p.Comments()));
            }

            Assert.False(reader.Error.IsError, reader.Error.Message);
            InterfaceNames.AddRange(reader.Interfaces.Select(i => i.Name!));
            return packets;
        }

        public void Dispose()
        {
            _writer.Dispose();
            _stream.Dispose();
        }

        private void OnFeed(long frame, long timestampNs, byte[] data)
        {
            Input[frame] = data;
            Times[frame] = timestampNs;
        }
    }
}
