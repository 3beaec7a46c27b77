using DnsWarden.Wire.Ip;

namespace DnsWarden.Capture.Reassembly;

/// <summary>One direction of a TCP connection: bytes sent from (Source, SourcePort) to (Destination, DestinationPort).</summary>
public readonly record struct TcpFlowKey(IpAddr Source, IpAddr Destination, ushort SourcePort, ushort DestinationPort)
{
    /// <summary>The opposite direction of the same connection.</summary>
    public TcpFlowKey Reverse => new(Destination, Source, DestinationPort, SourcePort);

    public override string ToString() => $"{Source}:{SourcePort} -> {Destination}:{DestinationPort}";
}

/// <summary>Why a stream direction ended.</summary>
public enum TcpCloseReason
{
    Fin,
    Rst,
    IdleTimeout,

    /// <summary>Dropped to make room under <see cref="TcpReassemblerOptions.MaxFlows"/>.</summary>
    Evicted,

    /// <summary>Ended by <see cref="TcpReassembler.CloseAll"/> (e.g. end of a capture file).</summary>
    Flushed,
}

/// <summary>Receives the in-order bytes of each TCP stream direction from a <see cref="TcpReassembler"/>.</summary>
public interface ITcpStreamConsumer
{
    /// <summary>New in-order bytes of <paramref name="flow"/>; the span is valid only during the call.</summary>
    public void OnData(in TcpFlowKey flow, ReadOnlySpan<byte> data, long timestampNs);

    /// <summary>
    /// Bytes were lost (never captured, or the out-of-order buffer overflowed); what follows is not
    /// contiguous with what came before.
    /// </summary>
    public void OnGap(in TcpFlowKey flow, long missingBytes, long timestampNs);

    /// <summary>The direction ended; no more calls for it until a new SYN reopens the same key.</summary>
    public void OnClosed(in TcpFlowKey flow, TcpCloseReason reason, long timestampNs);
}
