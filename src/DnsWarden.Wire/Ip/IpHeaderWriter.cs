using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;

namespace DnsWarden.Wire.Ip;

/// <summary>Writes IPv4 and IPv6 headers for packet-building code and tests.</summary>
public static class IpHeaderWriter
{
    public const int Ipv4HeaderLength = 20;
    public const int Ipv6HeaderLength = 40;
    public const int Ipv6FragmentHeaderLength = 8;

    private const int MaxIpv4FragmentOffset = 0x1FFF << 3;

    public static bool TryWriteIpv4Header(Span<byte> destination, IpAddr source, IpAddr destinationAddress, IpProtocol protocol, int payloadLength, out int bytesWritten) =>
        TryWriteIpv4Header(destination, source, destinationAddress, protocol, payloadLength, new IpHeaderOptions(), out bytesWritten);

    /// <summary>Writes a 20-byte IPv4 header without options, checksum filled in (RFC 791 §3.1).</summary>
    public static bool TryWriteIpv4Header(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        IpProtocol protocol,
        int payloadLength,
        in IpHeaderOptions options,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < Ipv4HeaderLength || !source.IsV4 || !destinationAddress.IsV4
            || payloadLength < 0 || payloadLength > ushort.MaxValue - Ipv4HeaderLength
            || options.FragmentOffset < 0 || options.FragmentOffset > MaxIpv4FragmentOffset || (options.FragmentOffset & 7) != 0)
        {
            return false;
        }

        Span<byte> h = destination.Slice(0, Ipv4HeaderLength);
        h[0] = 0x45;
        h[1] = options.TrafficClass;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(2), (ushort)(Ipv4HeaderLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(4), options.Identification);
        int flags = (options.DontFragment ? 0x4000 : 0) | (options.MoreFragments ? 0x2000 : 0) | (options.FragmentOffset >> 3);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(6), (ushort)flags);
        h[8] = options.TimeToLive;
        h[9] = (byte)protocol;
        h[10] = 0;
        h[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(12), source.V4);
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(16), destinationAddress.V4);
        InternetChecksum.TryComputeIpv4Header(h, out ushort checksum);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(10), checksum);
        bytesWritten = Ipv4HeaderLength;
        return true;
    }

    public static bool TryWriteIpv6Header(Span<byte> destination, IpAddr source, IpAddr destinationAddress, IpProtocol nextHeader, int payloadLength, out int bytesWritten) =>
        TryWriteIpv6Header(destination, source, destinationAddress, nextHeader, payloadLength, new IpHeaderOptions(), out bytesWritten);

    /// <summary>Writes the 40-byte IPv6 header (RFC 8200 §3). IPv4 addresses are written in their mapped form.</summary>
    public static bool TryWriteIpv6Header(
        Span<byte> destination,
        IpAddr source,
        IpAddr destinationAddress,
        IpProtocol nextHeader,
        int payloadLength,
        in IpHeaderOptions options,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < Ipv6HeaderLength || payloadLength < 0 || payloadLength > ushort.MaxValue || options.FlowLabel > 0xF_FFFF)
        {
            return false;
        }

        Span<byte> h = destination.Slice(0, Ipv6HeaderLength);
        BinaryPrimitives.WriteUInt32BigEndian(h, (6u << 28) | ((uint)options.TrafficClass << 20) | options.FlowLabel);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(4), (ushort)payloadLength);
        h[6] = (byte)nextHeader;
        h[7] = options.TimeToLive;
        BinaryPrimitives.WriteUInt64BigEndian(h.Slice(8), source.High);
        BinaryPrimitives.WriteUInt64BigEndian(h.Slice(16), source.Low);
        BinaryPrimitives.WriteUInt64BigEndian(h.Slice(24), destinationAddress.High);
        BinaryPrimitives.WriteUInt64BigEndian(h.Slice(32), destinationAddress.Low);
        bytesWritten = Ipv6HeaderLength;
        return true;
    }

    /// <summary>Writes an IPv6 Fragment header (RFC 8200 §4.5); <paramref name="fragmentOffset"/> in bytes, a multiple of 8.</summary>
    public static bool TryWriteIpv6FragmentHeader(
        Span<byte> destination,
        IpProtocol nextHeader,
        int fragmentOffset,
        bool moreFragments,
        uint identification,
        out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < Ipv6FragmentHeaderLength || fragmentOffset < 0 || fragmentOffset > 0xFFF8 || (fragmentOffset & 7) != 0)
        {
            return false;
        }

        destination[0] = (byte)nextHeader;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)(fragmentOffset | (moreFragments ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), identification);
        bytesWritten = Ipv6FragmentHeaderLength;
        return true;
    }
}
