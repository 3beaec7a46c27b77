using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Live;

/// <summary>Where a frame came from: the same shape for a live interface and a capture file.</summary>
public readonly record struct FrameOrigin(long TimestampNs, int InterfaceId, string InterfaceName, LinkType LinkType, int OriginalLength);

/// <summary>Receives one frame; <paramref name="data"/> is valid only for the duration of the call.</summary>
public delegate void FrameHandler(in FrameOrigin origin, ReadOnlySpan<byte> data);
