using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>
/// One packet from a capture file. <see cref="Data"/> points into the reader's reusable buffer and
/// is valid only until the next call to <c>TryReadNext</c>; copy it to keep it.
/// </summary>
public readonly ref struct CapturedPacket
{
    public CapturedPacket(
        long timestampNs,
        int interfaceId,
        string? interfaceName,
        LinkType linkType,
        int originalLength,
        ReadOnlySpan<byte> data)
    {
        TimestampNs = timestampNs;
        InterfaceId = interfaceId;
        InterfaceName = interfaceName;
        LinkType = linkType;
        OriginalLength = originalLength;
        Data = data;
    }

    /// <summary>UTC nanoseconds since the Unix epoch (interface resolution and offset applied).</summary>
    public long TimestampNs { get; }

    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNs / 100);

    /// <summary>Index of the interface in its section (always 0 in classic pcap).</summary>
    public int InterfaceId { get; }

    /// <summary>The interface's if_name, or null when the file does not name it.</summary>
    public string? InterfaceName { get; }

    public LinkType LinkType { get; }

    public int CapturedLength => Data.Length;

    /// <summary>Length of the packet on the wire; larger than <see cref="CapturedLength"/> when snapped.</summary>
    public int OriginalLength { get; }

    public ReadOnlySpan<byte> Data { get; }
}
