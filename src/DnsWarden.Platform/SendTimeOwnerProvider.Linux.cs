using System.Net;
using System.Runtime.Versioning;

namespace DnsWarden.Platform;

/// <summary>
/// Socket owners from the kernel's send-time records (<see cref="BpfSendTracker"/>), and for a flow it has no record
/// of — a socket that connected before the watch began, or BPF unavailable — the packet-time lookup
/// (<see cref="SockDiagOwnerProvider"/>). Every answer says which of the two named the process.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SendTimeOwnerProvider : IFlowOwnerProvider
{
    private readonly BpfSendTracker? _tracker;
    private readonly IFlowOwnerProvider _fallback;
    private readonly string _fallbackNote;

    internal SendTimeOwnerProvider(BpfSendTracker? tracker, string? unavailableReason, IFlowOwnerProvider fallback)
    {
        _tracker = tracker;
        _fallback = fallback;
        UnavailableReason = tracker is null ? unavailableReason ?? "disabled" : null;
        _fallbackNote = tracker is null
            ? "send-time attribution off: " + UnavailableReason
            : "no send-time record for this flow (its socket connected before the watch began)";
    }

    /// <summary>Why send-time attribution is off, or null when it is on.</summary>
    public string? UnavailableReason { get; }

    /// <summary>Where the send-time program is attached (the cgroup2 mount), when it is.</summary>
    public string? AttachedAt => _tracker?.CgroupMount;

    /// <summary>Send-time records kept for this namespace.</summary>
    public long Records => _tracker?.Records ?? 0;

    /// <summary>Send-time records of other namespaces, seen and not kept.</summary>
    public long OtherNamespaceRecords => _tracker?.OtherNamespaces ?? 0;

    /// <summary>Records the kernel could not hand over (ring buffer full).</summary>
    public long LostRecords => _tracker?.Lost ?? 0;

    /// <summary>
    /// Starts send-time attribution unless <paramref name="useBpf"/> is false; the packet-time lookup is the fallback
    /// either way. Never throws: a failure to load is the reason the answers carry.
    /// </summary>
    public static SendTimeOwnerProvider Create(bool useBpf)
    {
        string? reason = "disabled (--no-bpf or DNSW_NO_BPF)";
        BpfSendTracker? tracker = useBpf ? BpfSendTracker.TryStart(out reason) : null;
        return new SendTimeOwnerProvider(tracker, reason, new SockDiagOwnerProvider());
    }

    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        if (_tracker?.Find(protocol, remoteAddress, remotePort, localPort) is { } facts)
        {
            return new OwnerLookup(facts, OwnerConfidence.High, null) { Source = AttributionSource.Bpf };
        }

        OwnerLookup answer = _fallback.Lookup(protocol, localAddress, localPort, remoteAddress, remotePort);
        return answer.Confidence == OwnerConfidence.High ? answer : answer with { Reason = LinuxOwnerResolver.Join(answer.Reason, _fallbackNote) };
    }

    public void Dispose()
    {
        _tracker?.Dispose();
        _fallback.Dispose();
    }
}
