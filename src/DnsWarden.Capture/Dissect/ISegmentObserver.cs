using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Dissect;

/// <summary>
/// Sees every TCP segment the dissector decodes (after IP reassembly), before stream reassembly: connection
/// starts and per-direction sizes for flow tracking. Called on the capture thread; must not block or allocate per call.
/// </summary>
public interface ISegmentObserver
{
    public void OnTcpSegment(long frameNumber, in FrameOrigin origin, in FlowKey5 flow, TcpFlags flags, int payloadLength);
}
