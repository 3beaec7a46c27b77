using System.Runtime.InteropServices;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// The result of <see cref="PacketDecoder.TryDecode"/>: header fields and offsets into the frame it came from.
/// It holds no span, so it can be stored and passed around; use <see cref="Payload"/> with the same frame to
/// get bytes back. On failure, <see cref="Error"/> says why and the fields decoded before that point are kept.
/// </summary>
public readonly struct DecodedPacket
{
    internal readonly PacketFields _fields;

    public DecodeError Error => _fields.Error;

    public LinkType LinkType => _fields.LinkType;

    /// <summary>Number of 802.1Q / 802.1ad tags that were stacked in front of the payload.</summary>
    public int VlanCount => _fields.VlanCount;

    /// <summary>VLAN id (12 bits) of the outermost tag, 0 when untagged.</summary>
    public ushort OuterVlanId => _fields.OuterVlanId;

    /// <summary>Interface index from a Linux cooked v2 header, or -1 for other link types.</summary>
    public int InterfaceIndex => _fields.InterfaceIndex;

    /// <summary>The EtherType after VLAN tags; for raw, Null and Loop links the one the IP version implies.</summary>
    public EtherType EtherType => _fields.EtherType;

    /// <summary>4, 6, or 0 when no IP header was reached.</summary>
    public int IpVersion => _fields.IpVersion;

    public IpAddr Source => _fields.Source;

    public IpAddr Destination => _fields.Destination;

    /// <summary>The upper-layer protocol after any IPv6 extension headers (Esp or NoNextHeader when the chain stops there).</summary>
    public IpProtocol IpProtocol => _fields.Protocol;

    /// <summary>IPv4 TTL or IPv6 hop limit.</summary>
    public byte Ttl => _fields.Ttl;

    /// <summary>Same as <see cref="Ttl"/>, under its IPv6 name.</summary>
    public byte HopLimit => _fields.Ttl;

    /// <summary>True when this is a fragment (more fragments follow, or a non-zero offset).</summary>
    public bool IsFragment => (_fields.Flags & PacketFlags.Fragment) != 0;

    public bool MoreFragments => (_fields.Flags & PacketFlags.MoreFragments) != 0;

    /// <summary>IPv4 DF bit; always false for IPv6, which has no in-path fragmentation.</summary>
    public bool DontFragment => (_fields.Flags & PacketFlags.DontFragment) != 0;

    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset => _fields.FragmentOffset;

    /// <summary>IPv4 identification (always set), or the IPv6 Fragment header identification (0 without one).</summary>
    public uint FragmentId => _fields.FragmentId;

    /// <summary>True when an IPv6 Fragment header was present (also for atomic fragments, RFC 6946).</summary>
    public bool HasIpv6FragmentHeader => (_fields.Flags & PacketFlags.V6FragmentHeader) != 0;

    /// <summary>
    /// Offset of the bytes that reassembly concatenates: for IPv4 the IP payload, for IPv6 the data after
    /// the Fragment header (RFC 8200 §4.5). -1 when the packet carries no fragment information.
    /// </summary>
    public int FragmentPayloadOffset => _fields.FragmentPayloadOffset;

    public int IpHeaderOffset => _fields.IpHeaderOffset;

    /// <summary>Offset of the upper-layer header: after the IPv4 options or the IPv6 extension headers.</summary>
    public int IpPayloadOffset => _fields.IpPayloadOffset;

    /// <summary>Bytes from <see cref="IpPayloadOffset"/> to the end of the IP packet (Ethernet padding excluded).</summary>
    public int IpPayloadLength => _fields.IpPayloadLength;

    /// <summary>True when a TCP, UDP, ICMP or ICMPv6 header was parsed at <see cref="IpPayloadOffset"/>.</summary>
    public bool HasTransportHeader => (_fields.Flags & PacketFlags.Transport) != 0;

    public ushort SourcePort => _fields.SourcePort;

    public ushort DestinationPort => _fields.DestinationPort;

    public TcpFlags TcpFlags => _fields.TcpFlags;

    public uint TcpSequence => _fields.TcpSequence;

    public uint TcpAcknowledgment => _fields.TcpAcknowledgment;

    public ushort TcpWindow => _fields.TcpWindow;

    public byte IcmpType => _fields.IcmpType;

    public byte IcmpCode => _fields.IcmpCode;

    /// <summary>For ICMP/ICMPv6 error messages, the offset of the quoted invoking packet; otherwise -1.</summary>
    public int IcmpInnerOffset => _fields.IcmpInnerOffset;

    /// <summary>
    /// Offset of the transport payload (after the UDP/TCP/ICMP header). For non-first fragments and
    /// protocols without a parsed header it is <see cref="IpPayloadOffset"/>.
    /// </summary>
    public int PayloadOffset => _fields.PayloadOffset;

    public int PayloadLength => _fields.PayloadLength;

    public PortClass PortClass => _fields.PortClass;

    public FlowKey5 FlowKey => new(_fields.Source, _fields.Destination, _fields.SourcePort, _fields.DestinationPort, _fields.Protocol);

    /// <summary>The transport payload within <paramref name="frame"/>, which must be the frame this was decoded from.</summary>
    public ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> frame) => frame.Slice(_fields.PayloadOffset, _fields.PayloadLength);

    /// <summary>The IP packet (header through payload, padding excluded) within <paramref name="frame"/>.</summary>
    public ReadOnlySpan<byte> IpPacket(ReadOnlySpan<byte> frame) =>
        frame.Slice(_fields.IpHeaderOffset, _fields.IpPayloadOffset + _fields.IpPayloadLength - _fields.IpHeaderOffset);

    /// <summary>Verifies the IPv4 header checksum (RFC 791 §3.1); IPv6 has none and reports <see cref="ChecksumStatus.NotApplicable"/>.</summary>
    public ChecksumStatus VerifyIpv4HeaderChecksum(ReadOnlySpan<byte> frame)
    {
        if (_fields.IpVersion != 4 || _fields.Error != DecodeError.None)
        {
            return ChecksumStatus.NotApplicable;
        }

        int headerLength = (frame[_fields.IpHeaderOffset] & 0x0F) * 4;
        return InternetChecksum.VerifyIpv4Header(frame.Slice(_fields.IpHeaderOffset, headerLength))
            ? ChecksumStatus.Valid
            : ChecksumStatus.Invalid;
    }

    /// <summary>
    /// Verifies the UDP, TCP or ICMPv6 checksum over the pseudo-header, or the ICMPv4 checksum. Fragments
    /// cannot be checked without reassembly. The pseudo-header uses the IPv6 destination as seen, so a
    /// packet still carrying a Routing header with segments left will not verify (RFC 8200 §8.1).
    /// </summary>
    public ChecksumStatus VerifyTransportChecksum(ReadOnlySpan<byte> frame)
    {
        if (_fields.Error != DecodeError.None || !HasTransportHeader || IsFragment)
        {
            return ChecksumStatus.NotApplicable;
        }

        ReadOnlySpan<byte> segment = frame.Slice(_fields.IpPayloadOffset, _fields.IpPayloadLength);
        switch (_fields.Protocol)
        {
            case IpProtocol.Icmp:
                return InternetChecksum.IsValid(segment) ? ChecksumStatus.Valid : ChecksumStatus.Invalid;
            case IpProtocol.Udp:
                // RFC 768: an all-zero field means the IPv4 sender computed no checksum; IPv6 forbids that (RFC 8200 §8.1).
                if (segment[6] == 0 && segment[7] == 0)
                {
                    return _fields.IpVersion == 4 ? ChecksumStatus.Absent : ChecksumStatus.Invalid;
                }

                // The UDP length field, not the IP payload, bounds what the checksum covers.
                segment = segment.Slice(0, _fields.PayloadOffset + _fields.PayloadLength - _fields.IpPayloadOffset);
                break;
            case IpProtocol.Tcp:
            case IpProtocol.IcmpV6:
                break;
            default:
                return ChecksumStatus.NotApplicable;
        }

        return InternetChecksum.VerifyTransport(_fields.Source, _fields.Destination, _fields.Protocol, segment)
            ? ChecksumStatus.Valid
            : ChecksumStatus.Invalid;
    }

    public override string ToString() => _fields.Error != DecodeError.None
        ? $"{_fields.LinkType} error {_fields.Error}"
        : $"{_fields.LinkType} IPv{_fields.IpVersion} {_fields.Protocol} {_fields.Source}:{_fields.SourcePort} > {_fields.Destination}:{_fields.DestinationPort} {_fields.PortClass} len {_fields.PayloadLength}";
}

[Flags]
internal enum PacketFlags : byte
{
    None = 0,
    Fragment = 1,
    MoreFragments = 2,
    DontFragment = 4,
    Transport = 8,
    V6FragmentHeader = 16,
}

/// <summary>
/// The mutable storage behind <see cref="DecodedPacket"/>; the decoder fills it in place so the result is
/// written once, straight into the caller's variable.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PacketFields
{
    public IpAddr Source;
    public IpAddr Destination;
    public int InterfaceIndex;
    public int FragmentPayloadOffset;
    public int IpHeaderOffset;
    public int IpPayloadOffset;
    public int IpPayloadLength;
    public int PayloadOffset;
    public int PayloadLength;
    public int IcmpInnerOffset;
    public int FragmentOffset;
    public uint FragmentId;
    public uint TcpSequence;
    public uint TcpAcknowledgment;
    public LinkType LinkType;
    public EtherType EtherType;
    public ushort OuterVlanId;
    public ushort SourcePort;
    public ushort DestinationPort;
    public ushort TcpWindow;
    public byte VlanCount;
    public byte IpVersion;
    public IpProtocol Protocol;
    public byte Ttl;
    public TcpFlags TcpFlags;
    public byte IcmpType;
    public byte IcmpCode;
    public PortClass PortClass;
    public PacketFlags Flags;
    public DecodeError Error;
}
