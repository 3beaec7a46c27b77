using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Packets;

/// <summary>
/// Builds the IP packets a TUN filter sends back for a packet it read: a UDP answer, the RST a closed port
/// gives, an ICMP destination unreachable. Each starts at <c>destination[0]</c>, so a caller can reserve a
/// prefix (a virtio-net header) by passing a slice. False (nothing promised about the bytes) when the
/// destination is too small or the rules say no reply is due; never an exception.
/// </summary>
public static class IpReplyWriter
{
    /// <summary>RFC 1812 §4.3.2.3: an ICMPv4 error quotes as much as keeps the whole datagram within 576 bytes.</summary>
    public const int MaxIcmpV4ErrorLength = 576;

    /// <summary>RFC 4443 §2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU, 1280 bytes (RFC 8200 §5).</summary>
    public const int MaxIcmpV6ErrorLength = 1280;

    /// <summary>Linux's default TTL / hop limit (net.ipv4.ip_default_ttl, net.ipv6.conf.*.hop_limit).</summary>
    public const byte DefaultHopLimit = 64;

    private const int UdpHeaderLength = 8;
    private const int TcpHeaderLength = 20;
    private const int IcmpHeaderLength = 8;

    // RFC 792 / RFC 1812 §5.2.7.1: type 3 destination unreachable; code 3 port, 13 administratively prohibited.
    private const byte IcmpV4DestinationUnreachable = 3;
    private const byte IcmpV4PortUnreachable = 3;
    private const byte IcmpV4AdministrativelyProhibited = 13;

    // RFC 4443 §3.1: type 1 destination unreachable; code 4 port, 1 administratively prohibited.
    private const byte IcmpV6DestinationUnreachable = 1;
    private const byte IcmpV6PortUnreachable = 4;
    private const byte IcmpV6AdministrativelyProhibited = 1;

    private static int s_identification = Environment.TickCount;

    /// <summary>
    /// A UDP datagram carrying <paramref name="payload"/> from the request's destination address and port back
    /// to its source, in the request's IP version: TTL 64, IPv4 DF set, both checksums filled in (the UDP one
    /// is mandatory over IPv6, RFC 8200 §8.1). False when the request is not UDP with ports or space is short.
    /// </summary>
    public static bool TryWriteUdpReply(in IpPacketInfo request, ReadOnlySpan<byte> payload, Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (request.Protocol != IpProtocol.Udp || !request.HasTransportHeader)
        {
            return false;
        }

        IpAddr source = request.Destination;
        IpAddr target = request.Source;
        int segmentLength = UdpHeaderLength + payload.Length;
        if (!TryWriteIpHeader(request.Version, destination, source, target, IpProtocol.Udp, segmentLength, dontFragment: true, out int ipLength)
            || destination.Length - ipLength < segmentLength)
        {
            return false;
        }

        Span<byte> segment = destination.Slice(ipLength, segmentLength);
        BinaryPrimitives.WriteUInt16BigEndian(segment, request.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(2), request.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(4), (ushort)segmentLength);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(6), 0);
        payload.CopyTo(segment.Slice(UdpHeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(6), InternetChecksum.ComputeTransport(source, target, IpProtocol.Udp, segment));
        bytesWritten = ipLength + segmentLength;
        return true;
    }

    /// <summary>
    /// The reset a closed port sends for <paramref name="offending"/> (RFC 9293 §3.10.7.1, §3.5.2): with ACK set
    /// in the offending segment, &lt;SEQ=SEG.ACK&gt;&lt;CTL=RST&gt;; without, &lt;SEQ=0&gt;&lt;ACK=SEG.SEQ+SEG.LEN&gt;
    /// &lt;CTL=RST,ACK&gt;, where SEG.LEN counts data, SYN and FIN. False for a RST (never answered, RFC 9293
    /// §3.10.7.1), for anything but a read TCP header, or when space is short.
    /// </summary>
    public static bool TryWriteTcpReset(in IpPacketInfo offending, Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        byte flags = offending.TcpFlags;
        if (offending.Protocol != IpProtocol.Tcp || !offending.HasTransportHeader || (flags & TcpFlagBits.Rst) != 0)
        {
            return false;
        }

        uint sequence;
        uint acknowledgment;
        TcpFlags replyFlags;
        if ((flags & TcpFlagBits.Ack) != 0)
        {
            sequence = offending.TcpAcknowledgment;
            acknowledgment = 0;
            replyFlags = TcpFlags.Rst;
        }
        else
        {
            uint length = (uint)offending.PayloadLength + ((flags & TcpFlagBits.Syn) != 0 ? 1u : 0u) + ((flags & TcpFlagBits.Fin) != 0 ? 1u : 0u);
            sequence = 0;
            acknowledgment = unchecked(offending.TcpSequence + length);
            replyFlags = TcpFlags.Rst | TcpFlags.Ack;
        }

        IpAddr source = offending.Destination;
        IpAddr target = offending.Source;
        if (!TryWriteIpHeader(offending.Version, destination, source, target, IpProtocol.Tcp, TcpHeaderLength, dontFragment: true, out int ipLength)
            || !TransportHeaderWriter.TryWriteTcpHeader(
                destination.Slice(ipLength), offending.DestinationPort, offending.SourcePort, sequence, acknowledgment, replyFlags, window: 0, out int tcpLength))
        {
            return false;
        }

        Span<byte> segment = destination.Slice(ipLength, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(16), InternetChecksum.ComputeTransport(source, target, IpProtocol.Tcp, segment));
        bytesWritten = ipLength + tcpLength;
        return true;
    }

    /// <summary>
    /// An ICMP (IPv4) or ICMPv6 destination unreachable for <paramref name="offendingPacket"/>, from its destination
    /// address to its source, quoting the packet from its first byte: up to a 576-byte reply over IPv4 (RFC 1812
    /// §4.3.2.3), 1280 over IPv6 (RFC 4443 §2.4(c)). False, as RFC 1122 §3.2.2 and RFC 4443 §2.4(e) require, for an
    /// ICMP error, a later fragment, a multicast or broadcast destination, or a source that names no single host;
    /// false too when <paramref name="offending"/> does not describe <paramref name="offendingPacket"/> or space is short.
    /// </summary>
    public static bool TryWriteUnreachable(
        ReadOnlySpan<byte> offendingPacket,
        in IpPacketInfo offending,
        UnreachableKind kind,
        Span<byte> destination,
        out int bytesWritten)
    {
        bytesWritten = 0;
        int version = offending.Version;
        if (offendingPacket.IsEmpty
            || (offendingPacket[0] >> 4) != version
            || offending.TotalLength < offending.IpHeaderLength
            || offending.TotalLength > offendingPacket.Length
            || offending.IsIcmpError
            || offending.IsLaterFragment
            || kind is not (UnreachableKind.PortUnreachable or UnreachableKind.AdministrativelyProhibited))
        {
            return false;
        }

        IpAddr source = offending.Destination;
        IpAddr target = offending.Source;
        int ipHeaderLength;
        int quoteLength;
        byte type;
        byte code;
        IpProtocol protocol;
        if (version == 4)
        {
            if (offending.IpHeaderLength < IpPacket.Ipv4MinHeaderLength || !IsUnicastV4Destination(source) || !IsSingleHostV4Source(target))
            {
                return false;
            }

            ipHeaderLength = IpHeaderWriter.Ipv4HeaderLength;
            quoteLength = Math.Min(offending.TotalLength, MaxIcmpV4ErrorLength - ipHeaderLength - IcmpHeaderLength);
            type = IcmpV4DestinationUnreachable;
            code = kind == UnreachableKind.PortUnreachable ? IcmpV4PortUnreachable : IcmpV4AdministrativelyProhibited;
            protocol = IpProtocol.Icmp;
        }
        else if (version == 6)
        {
            if (offending.IpHeaderLength != IpPacket.Ipv6HeaderLength || !IsUnicastV6Destination(source) || !IsSingleHostV6Source(target))
            {
                return false;
            }

            ipHeaderLength = IpHeaderWriter.Ipv6HeaderLength;
            quoteLength = Math.Min(offending.TotalLength, MaxIcmpV6ErrorLength - ipHeaderLength - IcmpHeaderLength);
            type = IcmpV6DestinationUnreachable;
            code = kind == UnreachableKind.PortUnreachable ? IcmpV6PortUnreachable : IcmpV6AdministrativelyProhibited;
            protocol = IpProtocol.IcmpV6;
        }
        else
        {
            return false;
        }

        int messageLength = IcmpHeaderLength + quoteLength;
        if (destination.Length < ipHeaderLength + messageLength
            || !TryWriteIpHeader(version, destination, source, target, protocol, messageLength, dontFragment: false, out int ipLength))
        {
            return false;
        }

        // RFC 792 / RFC 4443 §3.1: type, code, checksum, 4 unused bytes (zero), then the invoking packet.
        Span<byte> message = destination.Slice(ipLength, messageLength);
        message[0] = type;
        message[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), 0);
        BinaryPrimitives.WriteUInt32BigEndian(message.Slice(4), 0);
        offendingPacket.Slice(0, quoteLength).CopyTo(message.Slice(IcmpHeaderLength));
        ushort checksum;
        if (version == 4)
        {
            InternetChecksum.TryComputeIcmpV4(message, out checksum);
        }
        else
        {
            checksum = InternetChecksum.ComputeTransport(source, target, IpProtocol.IcmpV6, message);
        }

        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), checksum);
        bytesWritten = ipLength + messageLength;
        return true;
    }

    private static bool TryWriteIpHeader(
        int version,
        Span<byte> destination,
        IpAddr source,
        IpAddr target,
        IpProtocol protocol,
        int payloadLength,
        bool dontFragment,
        out int bytesWritten)
    {
        if (version == 4)
        {
            // RFC 6864 §4.1: an atomic datagram's identification may be any value; a counter keeps them distinct anyway.
            var options = new IpHeaderOptions
            {
                TimeToLive = DefaultHopLimit,
                DontFragment = dontFragment,
                Identification = (ushort)Interlocked.Increment(ref s_identification),
            };
            return IpHeaderWriter.TryWriteIpv4Header(destination, source, target, protocol, payloadLength, options, out bytesWritten);
        }

        if (version == 6)
        {
            return IpHeaderWriter.TryWriteIpv6Header(destination, source, target, protocol, payloadLength, new IpHeaderOptions { TimeToLive = DefaultHopLimit }, out bytesWritten);
        }

        bytesWritten = 0;
        return false;
    }

    /// <summary>Not multicast 224/4, not the limited broadcast (RFC 1122 §3.2.2: no error for a broadcast or multicast datagram).</summary>
    private static bool IsUnicastV4Destination(IpAddr address) =>
        address.IsV4 && (address.V4 >> 28) != 0xE && address.V4 != 0xFFFF_FFFF;

    /// <summary>RFC 1122 §3.2.2: not 0.0.0.0/8, loopback 127/8, multicast 224/4, class E 240/4 or broadcast.</summary>
    private static bool IsSingleHostV4Source(IpAddr address)
    {
        uint a = address.V4;
        return address.IsV4 && (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) < 0xE;
    }

    /// <summary>RFC 4443 §2.4(e): not an IPv6 multicast destination (ff00::/8).</summary>
    private static bool IsUnicastV6Destination(IpAddr address) => (address.High >> 56) != 0xFF;

    /// <summary>RFC 4443 §2.4(e): the source must name a single node: not unspecified (::) nor multicast.</summary>
    private static bool IsSingleHostV6Source(IpAddr address) =>
        (address.High >> 56) != 0xFF && (address.High | address.Low) != 0;
}
