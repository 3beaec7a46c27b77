using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;

namespace DnsWarden.Leak;

/// <summary>Optional parts of a pipeline.</summary>
/// <param name="GeoIp">Destination GeoIP, from databases the user supplied.</param>
/// <param name="Attributor">Process attribution (live capture); null for files.</param>
/// <param name="InterfaceIndexNames">Names for the interface indexes of a Linux "any" (SLL2) capture.</param>
/// <param name="OnObservation">Sees every observation before the rules (the <c>--observations</c> dump).</param>
public sealed record LeakPipelineOptions(
    GeoIpLookup? GeoIp = null,
    IProcessAttributor? Attributor = null,
    Func<int, string>? InterfaceIndexNames = null,
    Action<Observation>? OnObservation = null,
    BaseDomains? BaseDomains = null);

/// <summary>
/// Frames in, leak events out: the dissector (decode, defragment, reassemble, read DNS/TLS/QUIC), the flow tracker
/// and the rules. Live capture and capture files differ only in who calls <see cref="Process"/>.
/// Single-threaded; frames in capture order.
/// </summary>
public sealed class LeakPipeline
{
    private readonly FrameDissector _dissector;
    private readonly LeakDetector _detector;

    public LeakPipeline(LeakPolicy policy, Action<LeakEvent> onEvent, LeakPipelineOptions? options = null)
    {
        options ??= new LeakPipelineOptions();
        _detector = new LeakDetector(policy, onEvent, options.GeoIp, options.Attributor, options.BaseDomains);
        Action<Observation> sink = options.OnObservation is { } tap
            ? o =>
            {
                tap(o);
                _detector.OnObservation(o);
            }
            : _detector.OnObservation;
        _dissector = new FrameDissector(sink, _detector.Flows) { InterfaceIndexNames = options.InterfaceIndexNames };
        Policy = policy;
    }

    public LeakPolicy Policy { get; }

    public DissectorStats Dissector => _dissector.Stats;

    public DetectorStats Rules => _detector.Stats;

    /// <summary>TCP connections not tracked because the flow table was full.</summary>
    public long FlowsDropped => _detector.Flows.Dropped;

    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame) => _dissector.Process(in origin, frame);

    /// <summary>Processes a frame whose number in its file is known (a time-ordered replay of a multi-interface file).</summary>
    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber) => _dissector.Process(in origin, frame, frameNumber);

    /// <summary>Ends the input: buffered streams are read and every open flow is judged.</summary>
    public void Complete()
    {
        _dissector.Complete();
        _detector.Complete();
    }
}
