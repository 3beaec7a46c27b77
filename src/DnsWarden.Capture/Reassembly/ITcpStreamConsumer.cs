using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Reassembly;

/// <summary>Receives the in-order bytes of each TCP stream direction from a <see cref="TcpReassembler"/>.</summary>
public interface ITcpStreamConsumer
{
    /// <summary>New in-order bytes of <paramref name="flow"/>; the span is valid only during the call.</summary>
    public void OnData(in FlowKey5 flow, ReadOnlySpan<byte> data, long timestampNs);

    /// <summary>
    /// Bytes were lost (never captured, or the out-of-order buffer overflowed); what follows is not
    /// contiguous with what came before.
    /// </summary>
    public void OnGap(in FlowKey5 flow, long missingBytes, long timestampNs);

    /// <summary>The direction ended; no more calls for it until a new SYN reopens the same key.</summary>
    public void OnClosed(in FlowKey5 flow, TcpCloseReason reason, long timestampNs);
}
