using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// Builds whole IP packets (IPv4 when both addresses are IPv4, IPv6 otherwise) carrying UDP or TCP with
/// correct checksums, and Ethernet headers to put in front of them.
/// </summary>
public static class PacketBuilder
{
    public const int EthernetHeaderLength = 14;

    private const int MacLength = 6;

    public static bool TryWriteUdpPacket(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        ushort sourcePort,
        ushort destinationPort,
        ReadOnlySpan<byte> payload,
        out int bytesWritten) =>
        TryWriteUdpPacket(destination, source, destinationAddress, sourcePort, destinationPort, payload, new IpHeaderOptions(), out bytesWritten);

    public static bool TryWriteUdpPacket(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        ushort sourcePort,
        ushort destinationPort,
        ReadOnlySpan<byte> payload,
        in IpHeaderOptions options,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (!TryWriteIpHeader(destination, source, destinationAddress, IpProtocol.Udp, TransportHeaderWriter.UdpHeaderLength + payload.Length, options, out int ipLength))
        {
            return false;
        }

        Span<byte> segment = destination.Slice(ipLength);
        if (!TransportHeaderWriter.TryWriteUdpHeader(segment, sourcePort, destinationPort, payload.Length, out int udpLength)
            || segment.Length - udpLength < payload.Length)
        {
            return false;
        }

        payload.CopyTo(segment.Slice(udpLength));
        segment = segment.Slice(0, udpLength + payload.Length);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(6), InternetChecksum.ComputeTransport(source, destinationAddress, IpProtocol.Udp, segment));
        bytesWritten = ipLength + segment.Length;
        return true;
    }

    public static bool TryWriteTcpPacket(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        ushort sourcePort,
        ushort destinationPort,
        uint sequence,
        uint acknowledgment,
        TcpFlags flags,
        ushort window,
        ReadOnlySpan<byte> payload,
        out int bytesWritten) =>
        TryWriteTcpPacket(destination, source, destinationAddress, sourcePort, destinationPort, sequence, acknowledgment, flags, window, payload, new IpHeaderOptions(), out bytesWritten);

    public static bool TryWriteTcpPacket(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        ushort sourcePort,
        ushort destinationPort,
        uint sequence,
        uint acknowledgment,
        TcpFlags flags,
        ushort window,
        ReadOnlySpan<byte> payload,
        in IpHeaderOptions options,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (!TryWriteIpHeader(destination, source, destinationAddress, IpProtocol.Tcp, TransportHeaderWriter.TcpMinHeaderLength + payload.Length, options, out int ipLength))
        {
            return false;
        }

        Span<byte> segment = destination.Slice(ipLength);
        if (!TransportHeaderWriter.TryWriteTcpHeader(segment, sourcePort, destinationPort, sequence, acknowledgment, flags, window, out int tcpLength)
            || segment.Length - tcpLength < payload.Length)
        {
            return false;
        }

        payload.CopyTo(segment.Slice(tcpLength));
        segment = segment.Slice(0, tcpLength + payload.Length);
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(16), InternetChecksum.ComputeTransport(source, destinationAddress, IpProtocol.Tcp, segment));
        bytesWritten = ipLength + segment.Length;
        return true;
    }

    /// <summary>Writes an Ethernet II header (IEEE 802.3 §3.2: destination MAC, source MAC, EtherType).</summary>
    public static bool TryWriteEthernetHeader(
        Span<byte> destination,
        ReadOnlySpan<byte> destinationMac,
        ReadOnlySpan<byte> sourceMac,
        EtherType etherType,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < EthernetHeaderLength || destinationMac.Length != MacLength || sourceMac.Length != MacLength)
        {
            return false;
        }

        destinationMac.CopyTo(destination);
        sourceMac.CopyTo(destination.Slice(MacLength));
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2 * MacLength), (ushort)etherType);
        bytesWritten = EthernetHeaderLength;
        return true;
    }

    private static bool TryWriteIpHeader(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        IpProtocol protocol,
        int payloadLength,
        in IpHeaderOptions options,
        out int bytesWritten)
    {
        if (source.IsV4 != destinationAddress.IsV4)
        {
            bytesWritten = 0;
            return false;
        }

        return source.IsV4
            ? IpHeaderWriter.TryWriteIpv4Header(destination, source, destinationAddress, protocol, payloadLength, options, out bytesWritten)
            : IpHeaderWriter.TryWriteIpv6Header(destination, source, destinationAddress, protocol, payloadLength, options, out bytesWritten);
    }
}
