using System.Runtime.CompilerServices;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Packets;

/// <summary>
/// Reads a raw IPv4 or IPv6 packet (first byte = version nibble, as TUN with IFF_NO_PI gives it) down to the
/// transport header without allocating. Every offset is checked before it is read; bad input gives false and
/// an <see cref="IpPacketError"/>, never an exception.
/// </summary>
public static class IpPacket
{
    /// <summary>IPv6 extension headers walked before giving up; RFC 8200 §4.1's recommended order has at most 8.</summary>
    public const int MaxExtensionHeaders = Ipv6ExtensionChain.MaxHeaders;

    public const int Ipv4MinHeaderLength = 20;
    public const int Ipv6HeaderLength = 40;

    private const int UdpHeaderLength = 8;
    private const int TcpMinHeaderLength = 20;
    private const int IcmpHeaderLength = 8;

    [SkipLocalsInit]
    public static bool TryRead(ReadOnlySpan<byte> packet, out IpPacketInfo info, out IpPacketError error) =>
        TryRead(packet, cut: false, out info, out error);

    /// <summary>
    /// As <see cref="TryRead(ReadOnlySpan{byte}, out IpPacketInfo, out IpPacketError)"/> for a copy of a packet's
    /// start (an NFLOG copy range, a capture's snap length): the length the header states may run past the copy, as
    /// long as the IP header, the extension headers and the transport header are in it. <see cref="IpPacketInfo.IsCut"/>
    /// tells when the copy ended early.
    /// </summary>
    [SkipLocalsInit]
    public static bool TryReadHeaders(ReadOnlySpan<byte> copy, out IpPacketInfo info, out IpPacketError error) =>
        TryRead(copy, cut: true, out info, out error);

    private static bool TryRead(ReadOnlySpan<byte> packet, bool cut, out IpPacketInfo info, out IpPacketError error)
    {
        info = default;

        // IpPacketInfo is readonly to its users; the reader fills its storage in place, once.
        ref IpPacketFields f = ref Unsafe.AsRef(in info._fields);
        if (packet.IsEmpty)
        {
            error = IpPacketError.Empty;
            return false;
        }

        int version = BigEndian.U8(packet, 0) >> 4;
        error = version switch
        {
            4 => ReadIpv4(packet, cut, ref f),
            6 => ReadIpv6(packet, cut, ref f),
            _ => IpPacketError.BadVersion,
        };
        return error == IpPacketError.None;
    }

    /// <summary>RFC 791 §3.1: IHL ≥ 5, IHL × 4 ≤ total length ≤ the bytes at hand (more are padding, tolerated).</summary>
    private static IpPacketError ReadIpv4(ReadOnlySpan<byte> packet, bool cut, ref IpPacketFields f)
    {
        if (packet.Length < Ipv4MinHeaderLength)
        {
            return IpPacketError.TruncatedHeader;
        }

        f.Version = 4;
        int headerLength = (BigEndian.U8(packet, 0) & 0x0F) << 2;
        if (headerLength < Ipv4MinHeaderLength)
        {
            return IpPacketError.BadHeaderLength;
        }

        if (headerLength > packet.Length)
        {
            return IpPacketError.TruncatedHeader;
        }

        f.IpHeaderLength = headerLength;
        f.HopLimit = BigEndian.U8(packet, 8);
        f.Protocol = (IpProtocol)BigEndian.U8(packet, 9);
        f.Source = IpAddr.FromV4(BigEndian.U32(packet, 12));
        f.Destination = IpAddr.FromV4(BigEndian.U32(packet, 16));
        int total = BigEndian.U16(packet, 2);
        if (total < headerLength)
        {
            return IpPacketError.BadTotalLength;
        }

        if (total > packet.Length)
        {
            if (!cut)
            {
                return IpPacketError.TruncatedPacket;
            }

            total = packet.Length;
            f.Flags = IpPacketFlags.Cut;
        }

        f.TotalLength = total;

        // RFC 791 §3.1: MF is 0x2000, the offset (8-byte units) the low 13 bits.
        int flagsOffset = BigEndian.U16(packet, 6);
        bool later = (flagsOffset & 0x1FFF) != 0;
        bool more = (flagsOffset & 0x2000) != 0;
        if (later || more)
        {
            f.Flags |= later ? IpPacketFlags.Fragment | IpPacketFlags.LaterFragment : IpPacketFlags.Fragment;
        }

        return ReadTransport(packet, headerLength, total - headerLength, later, more, ref f);
    }

    /// <summary>RFC 8200 §3: payload length within the bytes at hand; then the extension chain (§4).</summary>
    private static IpPacketError ReadIpv6(ReadOnlySpan<byte> packet, bool cut, ref IpPacketFields f)
    {
        if (packet.Length < Ipv6HeaderLength)
        {
            return IpPacketError.TruncatedHeader;
        }

        f.Version = 6;
        f.IpHeaderLength = Ipv6HeaderLength;
        int nh = BigEndian.U8(packet, 6);
        f.Protocol = (IpProtocol)nh;
        f.HopLimit = BigEndian.U8(packet, 7);
        f.Source = IpAddr.FromV6(BigEndian.U64(packet, 8), BigEndian.U64(packet, 16));
        f.Destination = IpAddr.FromV6(BigEndian.U64(packet, 24), BigEndian.U64(packet, 32));
        int payloadLength = BigEndian.U16(packet, 4);

        // RFC 2675 §2: zero payload length with Hop-by-Hop options announces a Jumbo Payload option.
        if (payloadLength == 0 && nh == (int)IpProtocol.HopByHopOptions)
        {
            return IpPacketError.JumbogramUnsupported;
        }

        int end = Ipv6HeaderLength + payloadLength;
        if (end > packet.Length)
        {
            if (!cut)
            {
                return IpPacketError.TruncatedPacket;
            }

            end = packet.Length;
            f.Flags = IpPacketFlags.Cut;
        }

        f.TotalLength = end;
        int cur = Ipv6HeaderLength;
        bool later = false;
        bool more = false;

        // The common packet has TCP or UDP right after the fixed header: one compare, no call.
        if (Ipv6ExtensionChain.IsExtension(nh))
        {
            switch (Ipv6ExtensionChain.Walk(packet, end, ref cur, ref nh, out int fragmentHeader, out bool routing))
            {
                case Ipv6ChainError.TooLong:
                    return IpPacketError.ExtensionChainTooLong;
                case Ipv6ChainError.BadHeader:
                    return IpPacketError.BadExtensionHeader;
            }

            if (routing)
            {
                f.Flags |= IpPacketFlags.RoutingHeader;
            }

            if (fragmentHeader >= 0)
            {
                later = Ipv6ExtensionChain.FragmentOffset(packet, fragmentHeader) != 0;
                more = Ipv6ExtensionChain.MoreFragments(packet, fragmentHeader);
                if (later || more)
                {
                    f.Flags |= later ? IpPacketFlags.Fragment | IpPacketFlags.LaterFragment : IpPacketFlags.Fragment;
                }
            }
        }

        f.Protocol = (IpProtocol)nh;
        return ReadTransport(packet, cur, end - cur, later, more, ref f);
    }

    private static IpPacketError ReadTransport(ReadOnlySpan<byte> packet, int off, int length, bool laterFragment, bool moreFragments, ref IpPacketFields f)
    {
        f.TransportOffset = off;
        f.TransportLength = length;
        f.PayloadOffset = off;
        f.PayloadLength = length;
        if (laterFragment)
        {
            return IpPacketError.None;
        }

        switch (f.Protocol)
        {
            case IpProtocol.Tcp:
                {
                    if (length < TcpMinHeaderLength)
                    {
                        return IpPacketError.TruncatedTransport;
                    }

                    uint ports = BigEndian.U32(packet, off);
                    f.SourcePort = (ushort)(ports >> 16);
                    f.DestinationPort = (ushort)ports;

                    // RFC 9293 §3.1: data offset in 32-bit words, at least 5.
                    int dataOffset = (BigEndian.U8(packet, off + 12) >> 4) << 2;
                    if (dataOffset < TcpMinHeaderLength || dataOffset > length)
                    {
                        return IpPacketError.BadTcpDataOffset;
                    }

                    f.TcpSequence = BigEndian.U32(packet, off + 4);
                    f.TcpAcknowledgment = BigEndian.U32(packet, off + 8);
                    f.TcpFlags = BigEndian.U8(packet, off + 13);
                    f.PayloadOffset = off + dataOffset;
                    f.PayloadLength = length - dataOffset;
                    f.Flags |= IpPacketFlags.Transport;
                    return IpPacketError.None;
                }

            case IpProtocol.Udp:
                {
                    if (length < UdpHeaderLength)
                    {
                        return IpPacketError.TruncatedTransport;
                    }

                    uint ports = BigEndian.U32(packet, off);
                    f.SourcePort = (ushort)(ports >> 16);
                    f.DestinationPort = (ushort)ports;

                    // RFC 768: the length covers header and data; a first fragment, or a cut copy, holds only part of it.
                    int dataLength = length - UdpHeaderLength;
                    if (!moreFragments)
                    {
                        int udpLength = BigEndian.U16(packet, off + 4);
                        bool cut = (f.Flags & IpPacketFlags.Cut) != 0;
                        if (udpLength < UdpHeaderLength || (udpLength > length && !cut))
                        {
                            return IpPacketError.BadUdpLength;
                        }

                        dataLength = Math.Min(udpLength, length) - UdpHeaderLength;
                    }

                    f.PayloadOffset = off + UdpHeaderLength;
                    f.PayloadLength = dataLength;
                    f.Flags |= IpPacketFlags.Transport;
                    return IpPacketError.None;
                }

            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                {
                    if (length < IcmpHeaderLength)
                    {
                        return IpPacketError.TruncatedTransport;
                    }

                    byte type = BigEndian.U8(packet, off);
                    f.IcmpType = type;
                    f.IcmpCode = BigEndian.U8(packet, off + 1);
                    f.PayloadOffset = off + IcmpHeaderLength;
                    f.PayloadLength = length - IcmpHeaderLength;
                    bool isError = f.Protocol == IpProtocol.Icmp ? type is 3 or 4 or 5 or 11 or 12 : type < 128;
                    f.Flags |= isError ? IpPacketFlags.Transport | IpPacketFlags.IcmpError : IpPacketFlags.Transport;
                    return IpPacketError.None;
                }

            default:
                return IpPacketError.None;
        }
    }
}
