using BenchmarkDotNet.Attributes;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Leak;
using DnsWarden.Leak.Evidence;
using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The whole leak pipeline (dissector, flows, rules) per packet over a generated host capture held in memory:
/// no file I/O and no event output, so the figure is the pipeline's own cost per packet.
/// </summary>
[MemoryDiagnoser]
public class LeakPipelineBenchmarks
{
    private const int Packets = 100_000;
    private readonly List<(FrameOrigin Origin, byte[] Data)> _frames = [];
    private LeakPolicy _policy = null!;
    private int _events;

    [GlobalSetup]
    public void Setup()
    {
        string path = Path.Combine(Path.GetTempPath(), "dnsw-bench-leak-100k.pcapng");
        LeakCaptureGenerator.Write(path, Packets);
        using ICaptureFileReader reader = CaptureFileReader.Open(path);
        while (reader.TryReadNext(out CapturedPacket p))
        {
            _frames.Add((new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? "", p.LinkType, p.OriginalLength), p.Data.ToArray()));
        }

        _policy = Profiles.Create(PolicyProfile.FullTunnel);
    }

    [Benchmark(OperationsPerInvoke = Packets, Baseline = true)]
    public int PipelinePerPacket() => Run(evidence: null);

    /// <summary>The same with <c>--write-pcap</c>: every frame decoded once more and each flow's first packets kept; the evidence written to nowhere.</summary>
    [Benchmark(OperationsPerInvoke = Packets)]
    public int PipelineWithEvidencePerPacket()
    {
        using var writer = new PcapNgWriter(Stream.Null);
        return Run(new EvidenceRecorder(writer));
    }

    private int Run(EvidenceRecorder? evidence)
    {
        var pipeline = new LeakPipeline(_policy, OnEvent, new LeakPipelineOptions(Evidence: evidence));
        foreach ((FrameOrigin origin, byte[] data) in _frames)
        {
            pipeline.Process(in origin, data);
        }

        pipeline.Complete();
        return _events;
    }

    private void OnEvent(LeakEvent e) => _events++;
}
