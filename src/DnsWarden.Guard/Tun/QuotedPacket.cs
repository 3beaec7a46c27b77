using System.Buffers.Binary;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary>
/// The start of the packet an ICMP error quotes: addresses, protocol and, when they are there, the ports (TCP/UDP)
/// or echo identifier. A quote is usually cut short (RFC 792: the IP header and 8 bytes of data; RFC 4443 §2.4(c):
/// as much as fits in 1280 bytes), so unlike <c>IpPacket.TryRead</c> this never asks for the lengths its header states.
/// </summary>
internal readonly struct QuotedPacket
{
    private const int Ipv4MinHeaderLength = 20;
    private const int Ipv6HeaderLength = 40;
    private const int MaxExtensionHeaders = 8;

    public IpAddr Source { get; init; }

    public IpAddr Destination { get; init; }

    public IpProtocol Protocol { get; init; }

    public ushort SourcePort { get; init; }

    public ushort DestinationPort { get; init; }

    /// <summary>Ports (or an echo identifier, in both) were read; false for a later fragment or an unported protocol.</summary>
    public bool HasPorts { get; init; }

    public static bool TryRead(ReadOnlySpan<byte> quote, out QuotedPacket packet)
    {
        packet = default;
        if (quote.IsEmpty)
        {
            return false;
        }

        return (quote[0] >> 4) switch
        {
            4 => TryReadV4(quote, out packet),
            6 => TryReadV6(quote, out packet),
            _ => false,
        };
    }

    private static bool TryReadV4(ReadOnlySpan<byte> quote, out QuotedPacket packet)
    {
        packet = default;
        int headerLength = (quote[0] & 0x0F) << 2;
        if (quote.Length < Ipv4MinHeaderLength || headerLength < Ipv4MinHeaderLength || headerLength > quote.Length)
        {
            return false;
        }

        var protocol = (IpProtocol)quote[9];
        IpAddr source = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(quote.Slice(12)));
        IpAddr destination = IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(quote.Slice(16)));

        // RFC 791 §3.1: a non-zero fragment offset means no transport header follows.
        bool later = (BinaryPrimitives.ReadUInt16BigEndian(quote.Slice(6)) & 0x1FFF) != 0;
        packet = WithPorts(source, destination, protocol, later ? default : quote.Slice(headerLength));
        return true;
    }

    private static bool TryReadV6(ReadOnlySpan<byte> quote, out QuotedPacket packet)
    {
        packet = default;
        if (quote.Length < Ipv6HeaderLength)
        {
            return false;
        }

        int next = quote[6];
        IpAddr source = IpAddr.FromV6(quote.Slice(8, 16));
        IpAddr destination = IpAddr.FromV6(quote.Slice(24, 16));
        int offset = Ipv6HeaderLength;
        bool later = false;
        for (int count = 0; next is (int)IpProtocol.HopByHopOptions or (int)IpProtocol.Routing or (int)IpProtocol.Fragment
            or (int)IpProtocol.DestinationOptions or (int)IpProtocol.Ah; count++)
        {
            // RFC 8200 §4: every extension header is at least 8 bytes; a chain cut by the quote leaves no ports.
            if (count == MaxExtensionHeaders || quote.Length - offset < 8)
            {
                packet = new QuotedPacket { Source = source, Destination = destination, Protocol = (IpProtocol)next };
                return true;
            }

            int following = quote[offset];
            int length;
            if (next == (int)IpProtocol.Fragment)
            {
                // RFC 8200 §4.5: fragment offset in the top 13 bits of bytes 2–3.
                later = (BinaryPrimitives.ReadUInt16BigEndian(quote.Slice(offset + 2)) & 0xFFF8) != 0;
                length = 8;
            }
            else
            {
                length = next == (int)IpProtocol.Ah ? (quote[offset + 1] + 2) << 2 : (quote[offset + 1] + 1) << 3;
            }

            next = following;
            offset += length;
            if (later || offset > quote.Length)
            {
                packet = new QuotedPacket { Source = source, Destination = destination, Protocol = (IpProtocol)next };
                return true;
            }
        }

        packet = WithPorts(source, destination, (IpProtocol)next, quote.Slice(offset));
        return true;
    }

    private static QuotedPacket WithPorts(IpAddr source, IpAddr destination, IpProtocol protocol, ReadOnlySpan<byte> transport)
    {
        var packet = new QuotedPacket { Source = source, Destination = destination, Protocol = protocol };
        switch (protocol)
        {
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
                if (transport.Length >= 4)
                {
                    return packet with
                    {
                        SourcePort = BinaryPrimitives.ReadUInt16BigEndian(transport),
                        DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(transport.Slice(2)),
                        HasPorts = true,
                    };
                }

                break;

            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                // RFC 792 / RFC 4443 §4.1: an echo request's identifier (bytes 4–5) keys its flow in both port slots.
                if (transport.Length >= 6 && transport[0] == (protocol == IpProtocol.Icmp ? 8 : 128))
                {
                    ushort id = BinaryPrimitives.ReadUInt16BigEndian(transport.Slice(4));
                    return packet with { SourcePort = id, DestinationPort = id, HasPorts = true };
                }

                break;
        }

        return packet;
    }
}
