using System.Buffers.Binary;
using System.Text;
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
        ReadOnlySpan<byte> data,
        ReadOnlySpan<byte> options = default,
        bool optionsBigEndian = false)
    {
        TimestampNs = timestampNs;
        InterfaceId = interfaceId;
        InterfaceName = interfaceName;
        LinkType = linkType;
        OriginalLength = originalLength;
        Data = data;
        Options = options;
        _optionsBigEndian = optionsBigEndian;
    }

    private readonly bool _optionsBigEndian;

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

    /// <summary>The raw options of a pcapng Enhanced Packet Block (empty for classic pcap); valid as <see cref="Data"/>.</summary>
    public ReadOnlySpan<byte> Options { get; }

    /// <summary>
    /// The packet's opt_comment values (pcapng §3.5), read from <see cref="Options"/> on demand: the per-packet path
    /// never pays for them. Options that overrun their block end the list.
    /// </summary>
    public IReadOnlyList<string> Comments()
    {
        var comments = new List<string>();
        ReadOnlySpan<byte> o = Options;
        while (o.Length >= 4)
        {
            ushort code = _optionsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(o) : BinaryPrimitives.ReadUInt16LittleEndian(o);
            ushort length = _optionsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(o[2..]) : BinaryPrimitives.ReadUInt16LittleEndian(o[2..]);
            int padded = (length + 3) & ~3;
            if (code == 0 || padded > o.Length - 4)
            {
                break;
            }

            if (code == 1)
            {
                comments.Add(Encoding.UTF8.GetString(o.Slice(4, length)));
            }

            o = o[(4 + padded)..];
        }

        return comments;
    }
}
