using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Indicators;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Evidence;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak;

/// <summary>Optional parts of a pipeline.</summary>
/// <param name="GeoIp">Destination GeoIP, from databases the user supplied.</param>
/// <param name="Attributor">Process attribution (live capture); null for files.</param>
/// <param name="InterfaceIndexNames">Names for the interface indexes of a Linux "any" (SLL2) capture.</param>
/// <param name="OnObservation">Sees every observation before the rules (the <c>--observations</c> dump).</param>
/// <param name="Evidence">Writes the packets behind each event (<c>--write-pcap</c>).</param>
/// <param name="Interfaces">The live host's interfaces: names for a Linux "any" capture's indexes (unless
/// <paramref name="InterfaceIndexNames"/> names them) and the kernel's facts behind route classes.</param>
/// <param name="ExcludeInterfaces">Interface names or globs whose frames are left out (<c>--exclude-iface</c>).</param>
public sealed record LeakPipelineOptions(
    GeoIpLookup? GeoIp = null,
    IProcessAttributor? Attributor = null,
    Func<int, string>? InterfaceIndexNames = null,
    Action<Observation>? OnObservation = null,
    BaseDomains? BaseDomains = null,
    EvidenceRecorder? Evidence = null,
    IInterfaceTable? Interfaces = null,
    IReadOnlyList<string>? ExcludeInterfaces = null);

/// <summary>
/// Frames in, leak events out: the dissector (decode, defragment, reassemble, read DNS/TLS/QUIC), the flow tracker
/// and the rules. Live capture and capture files differ only in who calls <see cref="Process(in FrameOrigin, ReadOnlySpan{byte})"/>.
/// Single-threaded; frames in capture order.
/// </summary>
public sealed class LeakPipeline
{
    private readonly FrameDissector _dissector;
    private readonly LeakDetector _detector;
    private readonly EvidenceRecorder? _evidence;

    public LeakPipeline(LeakPolicy policy, Action<LeakEvent> onEvent, LeakPipelineOptions? options = null)
    {
        options ??= new LeakPipelineOptions();
        _evidence = options.Evidence;
        Action<LeakEvent> emit = onEvent;
        if (_evidence is { } evidence)
        {
            emit = e =>
            {
                evidence.OnEvent(e);
                onEvent(e);
            };
        }

        _detector = new LeakDetector(policy, emit, options.GeoIp, options.Attributor, options.BaseDomains, options.Interfaces);
        Action<Observation> sink = _detector.OnObservation;
        if (options.OnObservation is { } tap)
        {
            sink = o =>
            {
                tap(o);
                _detector.OnObservation(o);
            };
        }

        Func<int, string>? indexNames = options.InterfaceIndexNames;
        if (indexNames is null && options.Interfaces is { } table)
        {
            indexNames = i => table.NameOf(i) ?? "ifindex" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        _dissector = new FrameDissector(sink, _detector.Flows)
        {
            InterfaceIndexNames = indexNames,
            ExcludedInterface = options.ExcludeInterfaces is { Count: > 0 } excluded ? ExclusionOf(excluded) : null,
        };
        Policy = policy;
    }

    public LeakPolicy Policy { get; }

    /// <summary>Whether an interface is left out by <c>--exclude-iface</c> (names or globs as in a policy), decided once per name.</summary>
    public static Func<string, bool> ExclusionOf(IReadOnlyList<string> patterns)
    {
        InterfacePattern[] globs = [.. patterns.Select(p => new InterfacePattern(p))];
        var decided = new Dictionary<string, bool>(StringComparer.Ordinal);
        return name =>
        {
            if (!decided.TryGetValue(name, out bool excluded))
            {
                excluded = globs.Any(g => g.Matches(name));
                if (decided.Count < 4096)
                {
                    decided[name] = excluded;
                }
            }

            return excluded;
        };
    }

    public DissectorStats Dissector => _dissector.Stats;

    public DetectorStats Rules => _detector.Stats;

    /// <summary>TCP connections not tracked because the flow table was full.</summary>
    public long FlowsDropped => _detector.Flows.Dropped;

    /// <summary>Sightings of a query on a host-internal hop handed over after its path had left the host (folded into it).</summary>
    public long PathSightingsAbsorbed => _detector.PathSightingsAbsorbed;

    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame)
    {
        if (_evidence is null)
        {
            _detector.Advance(origin.TimestampNs);
            _dissector.Process(in origin, frame);
            return;
        }

        Process(in origin, frame, _dissector.Stats.Frames + 1);
    }

    /// <summary>Processes a frame whose number in its file is known (a time-ordered replay of a multi-interface file).</summary>
    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber)
    {
        // Any frame moves packet time on: a query seen only inside the host is judged once its window has passed.
        _detector.Advance(origin.TimestampNs);
        if (_evidence is null)
        {
            _dissector.Process(in origin, frame, frameNumber);
            return;
        }

        _evidence.FrameStart(frameNumber, in origin, frame);
        _dissector.Process(in origin, frame, frameNumber);
        _evidence.FrameEnd(frame);
    }

    // RFC 9001 Appendix A.2: a ClientHello (SNI example.com), used only to warm the TLS path.
    private const string WarmUpClientHelloHex =
        "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c00000413011302010000" +
        "c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d0017001800100007000504616c70" +
        "6e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994" +
        "ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c000240010039003204" +
        "08ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ff" +
        "ff";

    /// <summary>
    /// Runs a DNS transaction, a TLS connection to 853 and one to 443 through a throwaway pipeline so that live
    /// capture's first packets do not wait for the JIT: process attribution races a client that closes its socket
    /// milliseconds after its answer. Nothing is sent; the frames exist only in memory.
    /// </summary>
    public static void WarmUp(LeakPolicy policy)
    {
        var pipeline = new LeakPipeline(policy, static _ => { });
        IpAddr client = IpAddr.Parse("192.0.2.1"), server = IpAddr.Parse("192.0.2.53");
        byte[] frame = new byte[1500];
        byte[] dns = new byte[512];
        long ns = 1;
        byte[] hello = Convert.FromHexString(WarmUpClientHelloHex);
        byte[] record = [0x16, 0x03, 0x01, (byte)(hello.Length >> 8), (byte)hello.Length, .. hello];
        void Feed(int length) => pipeline.Process(new FrameOrigin(ns += 1_000_000, 0, "eth0", LinkType.Raw, length), frame.AsSpan(0, length));

        for (int i = 0; i < 40; i++)
        {
            DnsMessageWriter.TryWriteQuery(dns, (ushort)i, DnsNameSource.FromText("warm.example"), DnsType.A, true, 1232, out int q);
            PacketBuilder.TryWriteUdpPacket(frame, client, server, (ushort)(40000 + i), 53, dns.AsSpan(0, q), out int n);
            Feed(n);
            var w = new DnsMessageWriter(dns.AsSpan(q));
            w.TryBeginResponse(dns.AsSpan(0, q), DnsRcode.NoError);
            w.TryWriteA(DnsSection.Answer, DnsNameSource.FromText("warm.example"), 60, server);
            w.TryFinish(out int r);
            PacketBuilder.TryWriteUdpPacket(frame, server, client, 53, (ushort)(40000 + i), dns.AsSpan(q, r), out n);
            Feed(n);

            foreach (ushort port in (ReadOnlySpan<ushort>)[853, 443])
            {
                ushort sport = (ushort)(50000 + (i * 2) + (port == 853 ? 0 : 1));
                PacketBuilder.TryWriteTcpPacket(frame, client, server, sport, port, 1, 0, TcpFlags.Syn, 65535, [], out n);
                Feed(n);
                PacketBuilder.TryWriteTcpPacket(frame, client, server, sport, port, 2, 1, TcpFlags.Ack | TcpFlags.Psh, 65535, record, out n);
                Feed(n);
                PacketBuilder.TryWriteTcpPacket(frame, client, server, sport, port, 2 + (uint)record.Length, 1, TcpFlags.Rst, 65535, [], out n);
                Feed(n);
            }
        }

        pipeline.Complete();
    }

    /// <summary>
    /// Packet time has reached <paramref name="ns"/> without a frame (a live watch's clock on a quiet link): a query
    /// seen only inside the host whose window has passed is judged now rather than at the next frame.
    /// </summary>
    public void Advance(long ns) => _detector.Advance(ns);

    /// <summary>Ends the input: buffered streams are read and every open flow is judged.</summary>
    public void Complete()
    {
        _evidence?.InputEnd();
        _dissector.Complete();
        _detector.Complete();
        _evidence?.Flush();
    }
}
