using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Packets;

/// <summary>
/// What <see cref="IpPacket.TryRead(ReadOnlySpan{byte}, out IpPacketInfo, out IpPacketError)"/> found in a raw IP packet (as a TUN device with IFF_NO_PI hands it over):
/// header fields and offsets from the packet's first byte. It holds no span, so a caller keeps the packet
/// beside it. After a failed read, the fields reached before the failure are kept and the rest are zero.
/// </summary>
public readonly struct IpPacketInfo
{
    internal readonly IpPacketFields _fields;

    /// <summary>4 or 6; 0 when the version nibble was not reached or not valid.</summary>
    public int Version => _fields.Version;

    /// <summary>The upper-layer protocol: for IPv6 the next header after the extension chain (Esp or NoNextHeader where it stops).</summary>
    public IpProtocol Protocol => _fields.Protocol;

    public IpAddr Source => _fields.Source;

    public IpAddr Destination => _fields.Destination;

    /// <summary>IPv4 TTL or IPv6 hop limit.</summary>
    public byte HopLimit => _fields.HopLimit;

    /// <summary>TCP or UDP source port; 0 for other protocols and later fragments.</summary>
    public ushort SourcePort => _fields.SourcePort;

    /// <summary>TCP or UDP destination port; 0 for other protocols and later fragments.</summary>
    public ushort DestinationPort => _fields.DestinationPort;

    /// <summary>TCP control bits; test them with <see cref="TcpFlagBits"/>. 0 when not TCP.</summary>
    public byte TcpFlags => _fields.TcpFlags;

    public uint TcpSequence => _fields.TcpSequence;

    public uint TcpAcknowledgment => _fields.TcpAcknowledgment;

    /// <summary>Offset of the upper-layer header: past the IPv4 header, or past the IPv6 extension headers.</summary>
    public int TransportOffset => _fields.TransportOffset;

    /// <summary>Upper-layer bytes (header and data) as the IP length fields count them, trailing padding excluded.</summary>
    public int TransportLength => _fields.TransportLength;

    /// <summary>Offset of the upper-layer data: after the UDP, TCP (with options) or 8-byte ICMP header.</summary>
    public int PayloadOffset => _fields.PayloadOffset;

    /// <summary>Upper-layer data bytes: the UDP length minus 8, the TCP segment's data, the ICMP body.</summary>
    public int PayloadLength => _fields.PayloadLength;

    /// <summary>IHL × 4 for IPv4; 40 for IPv6 (its extension headers lie between this and <see cref="TransportOffset"/>).</summary>
    public int IpHeaderLength => _fields.IpHeaderLength;

    /// <summary>The packet length its header states (IPv4 total length, IPv6 40 + payload length); never more than the span.</summary>
    public int TotalLength => _fields.TotalLength;

    /// <summary>A fragment: more fragments follow, or the offset is non-zero (an IPv6 atomic fragment is not one, RFC 6946).</summary>
    public bool IsFragment => (_fields.Flags & IpPacketFlags.Fragment) != 0;

    /// <summary>A fragment with a non-zero offset: it starts mid-datagram, so it has no transport header.</summary>
    public bool IsLaterFragment => (_fields.Flags & IpPacketFlags.LaterFragment) != 0;

    /// <summary>
    /// Read by <see cref="IpPacket.TryReadHeaders"/> from a copy of the packet's start that ends before the packet
    /// does: <see cref="TotalLength"/> and the payload are what the copy holds, not what the header states.
    /// </summary>
    public bool IsCut => (_fields.Flags & IpPacketFlags.Cut) != 0;

    /// <summary>An IPv6 routing header (any type) is in the extension chain: the destination is only the first hop.</summary>
    public bool HasRoutingHeader => (_fields.Flags & IpPacketFlags.RoutingHeader) != 0;

    /// <summary>The transport header was read: TCP/UDP ports (and TCP sequence/flags) or ICMP type/code are set.</summary>
    public bool HasTransportHeader => (_fields.Flags & IpPacketFlags.Transport) != 0;

    /// <summary>ICMP or ICMPv6 type; 0 for other protocols.</summary>
    public byte IcmpType => _fields.IcmpType;

    public byte IcmpCode => _fields.IcmpCode;

    /// <summary>
    /// An ICMP error message (RFC 1122 §3.2.2: types 3, 4, 5, 11, 12) or ICMPv6 error (RFC 4443 §2.1: type below
    /// 128), to which no error may be sent back.
    /// </summary>
    public bool IsIcmpError => (_fields.Flags & IpPacketFlags.IcmpError) != 0;

    public override string ToString() =>
        $"IPv{Version} {Protocol} {Source}:{SourcePort} -> {Destination}:{DestinationPort} len {TotalLength}";
}

[Flags]
internal enum IpPacketFlags : byte
{
    None = 0,
    Fragment = 1,
    LaterFragment = 2,
    Transport = 4,
    IcmpError = 8,
    Cut = 16,
    RoutingHeader = 32,
}

/// <summary>The storage of <see cref="IpPacketInfo"/>, filled in place by the reader.</summary>
internal struct IpPacketFields
{
    public IpAddr Source;
    public IpAddr Destination;
    public uint TcpSequence;
    public uint TcpAcknowledgment;
    public int TransportOffset;
    public int TransportLength;
    public int PayloadOffset;
    public int PayloadLength;
    public int IpHeaderLength;
    public int TotalLength;
    public ushort SourcePort;
    public ushort DestinationPort;
    public byte Version;
    public IpProtocol Protocol;
    public byte HopLimit;
    public byte TcpFlags;
    public byte IcmpType;
    public byte IcmpCode;
    public IpPacketFlags Flags;
}
