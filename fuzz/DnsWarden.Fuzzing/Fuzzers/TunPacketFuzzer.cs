using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// The TUN filter's packet path over a raw IP packet: <see cref="IpPacket.TryRead"/>, the rule table's
/// <see cref="DestinationRuleTable.Match"/>, and every <see cref="IpReplyWriter"/> reply for what parses. Match must
/// equal the table's lookup of what TryRead found; every reply must read back with valid checksums, swapped
/// endpoints and the size limits of its RFC.
/// </summary>
internal sealed class TunPacketFuzzer : IFuzzer
{
    private static readonly IpAddr s_virtualV4 = IpAddr.Parse("10.30.30.30");
    private static readonly IpAddr s_virtualV6 = IpAddr.Parse("fd00:30::30");
    private static readonly DestinationRuleTable s_table = CreateTable();

    public string Name => "TunPacket";

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        bool read = IpPacket.TryRead(bytes, out IpPacketInfo info, out IpPacketError error);
        int match = s_table.Match(bytes);
        FuzzAssert.True(read == (error == IpPacketError.None), $"TryRead returned {read} with {error}");
        FuzzAssert.True(match == RawLookup(bytes), $"Match {match} disagrees with the destination bytes");
        if (!read)
        {
            return;
        }

        CheckOffsets(bytes, info);
        FuzzAssert.True(match == s_table.Lookup(info), $"Match {match} != Lookup {s_table.Lookup(info)} for {info}");

        Span<byte> buffer = stackalloc byte[IpReplyWriter.MaxIcmpV6ErrorLength + 64];
        if (info.Protocol == IpProtocol.Udp && info.HasTransportHeader)
        {
            ReadOnlySpan<byte> payload = bytes.Slice(info.PayloadOffset, Math.Min(info.PayloadLength, 1000));
            FuzzAssert.True(IpReplyWriter.TryWriteUdpReply(info, payload, buffer, out int n), "UDP reply refused with room to spare");
            IpPacketInfo reply = CheckReply(buffer.Slice(0, n), info, IpProtocol.Udp);
            FuzzAssert.True(reply.SourcePort == info.DestinationPort && reply.DestinationPort == info.SourcePort, "UDP reply ports not swapped");
            FuzzAssert.True(buffer.Slice(reply.PayloadOffset, reply.PayloadLength).SequenceEqual(payload), "UDP reply payload changed");
        }

        bool reset = IpReplyWriter.TryWriteTcpReset(info, buffer, out int resetLength);
        bool resetDue = info.Protocol == IpProtocol.Tcp && info.HasTransportHeader && (info.TcpFlags & TcpFlagBits.Rst) == 0;
        FuzzAssert.True(reset == resetDue, $"TryWriteTcpReset returned {reset} for {info}");
        if (reset)
        {
            IpPacketInfo reply = CheckReply(buffer.Slice(0, resetLength), info, IpProtocol.Tcp);
            FuzzAssert.True(reply.SourcePort == info.DestinationPort && reply.DestinationPort == info.SourcePort, "RST ports not swapped");
            FuzzAssert.True((reply.TcpFlags & TcpFlagBits.Rst) != 0 && (reply.TcpFlags & (TcpFlagBits.Syn | TcpFlagBits.Fin)) == 0, "RST flags");
            FuzzAssert.True(
                (info.TcpFlags & TcpFlagBits.Ack) != 0 ? reply.TcpSequence == info.TcpAcknowledgment : reply.TcpSequence == 0 && (reply.TcpFlags & TcpFlagBits.Ack) != 0,
                "RST sequence/ACK per RFC 9293 §3.10.7.1");
        }

        foreach (UnreachableKind kind in (ReadOnlySpan<UnreachableKind>)[UnreachableKind.PortUnreachable, UnreachableKind.AdministrativelyProhibited])
        {
            if (!IpReplyWriter.TryWriteUnreachable(bytes, info, kind, buffer, out int n))
            {
                continue;
            }

            FuzzAssert.True(!info.IsIcmpError && !info.IsLaterFragment, "ICMP error sent for an ICMP error or a later fragment");
            IpPacketInfo reply = CheckReply(buffer.Slice(0, n), info, info.Version == 4 ? IpProtocol.Icmp : IpProtocol.IcmpV6);
            FuzzAssert.True(reply.IsIcmpError, "unreachable is not an ICMP error");
            FuzzAssert.True(n <= (info.Version == 4 ? IpReplyWriter.MaxIcmpV4ErrorLength : IpReplyWriter.MaxIcmpV6ErrorLength), $"ICMP error of {n} bytes");
            ReadOnlySpan<byte> quote = buffer.Slice(reply.PayloadOffset, reply.PayloadLength);
            FuzzAssert.True(quote.Length > 0 && bytes.StartsWith(quote), "quote is not the offending packet's start");
        }
    }

    public IReadOnlyList<byte[]> GetSeeds()
    {
        IpAddr c4 = SeedCorpus.ClientV4;
        IpAddr c6 = SeedCorpus.ClientV6;
        byte[] query = SeedCorpus.DnsQuery("example.com", DnsWarden.Wire.Dns.DnsType.A, edns: true);
        byte[] udp6 = SeedCorpus.Udp(c6, s_virtualV6, 40001, 53, query);
        var seeds = new List<byte[]>
        {
            SeedCorpus.Udp(c4, s_virtualV4, 40000, 53, query),
            udp6,
            SeedCorpus.Tcp(c4, s_virtualV4, 40002, 53, 1000, TcpFlags.Syn, []),
            SeedCorpus.Tcp(c4, SeedCorpus.ServerV4, 40003, 443, 1000, TcpFlags.Ack | TcpFlags.Psh, "GET / HTTP/1.1\r\n"u8),
            SeedCorpus.Tcp(c6, SeedCorpus.ServerV6, 40004, 443, 77, TcpFlags.Syn | TcpFlags.Fin, "x"u8),
            SeedCorpus.Udp(c4, SeedCorpus.ServerV4, 40005, 443, SeedCorpus.QuicInitial),
            SeedCorpus.Udp(c4, IpAddr.Parse("224.0.0.251"), 5353, 5353, query),
            Icmp(c4, SeedCorpus.ServerV4, 8, 0, new byte[24]),
            Icmp(c4, SeedCorpus.ServerV4, 3, 3, SeedCorpus.Udp(SeedCorpus.ServerV4, c4, 53, 40000, query)),
            Icmp(c6, SeedCorpus.ServerV6, 128, 0, new byte[24]),
            Icmp(c6, SeedCorpus.ServerV6, 1, 4, udp6),
            WithV6Extensions(udp6),
        };
        seeds.AddRange(SeedCorpus.Fragments(SeedCorpus.Udp(c4, SeedCorpus.ServerV4, 40006, 53, SeedCorpus.DnsResponse())));
        return seeds;
    }

    private static DestinationRuleTable CreateTable()
    {
        var table = new DestinationRuleTable();
        table.Add(s_virtualV4, 0);
        table.Add(s_virtualV6, 1);
        table.Add(SeedCorpus.ServerV4, 2);
        table.Add(SeedCorpus.ServerV6, 3);
        return table;
    }

    /// <summary>The rule for the destination bytes read independently of Match's raw-key path.</summary>
    private static int RawLookup(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= 20 && (bytes[0] >> 4) == 4)
        {
            return s_table.Lookup(IpAddr.FromV4(bytes.Slice(16, 4)));
        }

        if (bytes.Length >= 40 && (bytes[0] >> 4) == 6)
        {
            IpAddr destination = IpAddr.FromV6(bytes.Slice(24, 16));
            return destination.IsV4 ? -1 : s_table.Lookup(destination);
        }

        return -1;
    }

    private static void CheckOffsets(ReadOnlySpan<byte> bytes, in IpPacketInfo info)
    {
        FuzzAssert.True(info.Version is 4 or 6, $"version {info.Version}");
        FuzzAssert.InRange(0, info.TotalLength, bytes.Length, "packet");
        FuzzAssert.True(info.IpHeaderLength >= 20 && info.IpHeaderLength <= info.TransportOffset, $"IP header {info.IpHeaderLength} / transport {info.TransportOffset}");
        FuzzAssert.InRange(info.TransportOffset, info.TransportLength, info.TotalLength, "transport");
        FuzzAssert.True(info.TransportOffset + info.TransportLength == info.TotalLength, "transport does not end the packet");
        FuzzAssert.InRange(info.PayloadOffset, info.PayloadLength, info.TotalLength, "payload");
        FuzzAssert.True(info.PayloadOffset >= info.TransportOffset, "payload before the transport header");
        FuzzAssert.True(!info.IsLaterFragment || (info.IsFragment && !info.HasTransportHeader), "later fragment with a transport header");
        FuzzAssert.True(info.HasTransportHeader || (info.SourcePort == 0 && info.DestinationPort == 0), "ports without a transport header");
    }

    /// <summary>Reads a reply back and checks what every reply must be: swapped addresses, TTL 64, valid checksums.</summary>
    private static IpPacketInfo CheckReply(ReadOnlySpan<byte> reply, in IpPacketInfo request, IpProtocol protocol)
    {
        FuzzAssert.True(IpPacket.TryRead(reply, out IpPacketInfo r, out IpPacketError error), $"reply does not read back: {error}");
        CheckOffsets(reply, r);
        FuzzAssert.True(r.TotalLength == reply.Length, "reply length");
        FuzzAssert.True(r.Version == request.Version && r.Protocol == protocol && r.HopLimit == IpReplyWriter.DefaultHopLimit, $"reply header {r}");
        FuzzAssert.True(r.Source == request.Destination && r.Destination == request.Source, "reply addresses not swapped");
        ReadOnlySpan<byte> segment = reply.Slice(r.TransportOffset, r.TransportLength);
        if (r.Version == 4)
        {
            FuzzAssert.True(InternetChecksum.VerifyIpv4Header(reply.Slice(0, r.IpHeaderLength)), "IPv4 header checksum");
        }

        bool valid = protocol == IpProtocol.Icmp
            ? InternetChecksum.IsValid(segment)
            : InternetChecksum.VerifyTransport(r.Source, r.Destination, protocol, segment);
        FuzzAssert.True(valid, $"{protocol} checksum");
        if (protocol == IpProtocol.Udp)
        {
            FuzzAssert.True(BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(6)) != 0, "UDP checksum left out");
        }

        return r;
    }

    private static byte[] Icmp(IpAddr source, IpAddr destination, byte type, byte code, ReadOnlySpan<byte> body)
    {
        bool v4 = source.IsV4;
        int header = v4 ? 20 : 40;
        IpProtocol protocol = v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6;
        byte[] packet = new byte[header + 8 + body.Length];
        FuzzAssert.True(
            v4 ? IpHeaderWriter.TryWriteIpv4Header(packet, source, destination, protocol, 8 + body.Length, out _)
               : IpHeaderWriter.TryWriteIpv6Header(packet, source, destination, protocol, 8 + body.Length, out _),
            "seed icmp");
        Span<byte> message = packet.AsSpan(header);
        message[0] = type;
        message[1] = code;
        body.CopyTo(message.Slice(8));
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), v4 ? InternetChecksum.Compute(message) : InternetChecksum.ComputeTransport(source, destination, protocol, message));
        return packet;
    }

    /// <summary>Hop-by-Hop (PadN), Routing and an atomic Fragment header in front of an IPv6 packet's payload (RFC 8200 §4).</summary>
    private static byte[] WithV6Extensions(byte[] ipv6Packet)
    {
        byte[] chain = [(byte)IpProtocol.Routing, 0, 1, 4, 0, 0, 0, 0, (byte)IpProtocol.Fragment, 0, 0, 0, 0, 0, 0, 0, ipv6Packet[6], 0, 0, 0, 0, 0, 0, 1];
        byte[] packet = [.. ipv6Packet.AsSpan(0, 40), .. chain, .. ipv6Packet.AsSpan(40)];
        packet[6] = (byte)IpProtocol.HopByHopOptions;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)(packet.Length - 40));
        return packet;
    }
}
