using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using PacketDotNet;
using static DnsWarden.Wire.Tests.Packets.TunPackets;
using IpProtocol = DnsWarden.Wire.Ip.IpProtocol;

namespace DnsWarden.Wire.Tests.Packets;

/// <summary>Every reply is parsed back by PacketDotNet (the oracle) and by <see cref="IpPacket.TryRead"/>.</summary>
public sealed class IpReplyWriterTests
{
    /// <summary>What callers reserve in front of the packet (a virtio-net header).</summary>
    private const int Prefix = 10;

    private static IpPacketInfo Read(ReadOnlySpan<byte> packet)
    {
        Assert.True(IpPacket.TryRead(packet, out IpPacketInfo info, out IpPacketError error), $"refused: {error}");
        return info;
    }

    /// <summary>Writes into buffer[10..] with the prefix filled with a marker, and checks the marker survives.</summary>
    private delegate bool Writer(Span<byte> destination, out int bytesWritten);

    private static byte[] WriteWithPrefix(Writer write)
    {
        var buffer = new byte[2048];
        buffer.AsSpan(0, Prefix).Fill(0xA5);
        Assert.True(write(buffer.AsSpan(Prefix), out int n));
        Assert.All(buffer.AsSpan(0, Prefix).ToArray(), b => Assert.Equal(0xA5, b));
        return buffer.AsSpan(Prefix, n).ToArray();
    }

    private static void AssertTooSmallRefused(Writer write, int needed)
    {
        var buffer = new byte[needed];
        for (int size = 0; size < needed; size++)
        {
            Assert.False(write(buffer.AsSpan(0, size), out int n), $"size {size} of {needed}");
            Assert.Equal(0, n);
        }
    }

    private static void AssertSwapped(in IpPacketInfo request, in IpPacketInfo reply)
    {
        Assert.Equal(request.Version, reply.Version);
        Assert.Equal(request.Source, reply.Destination);
        Assert.Equal(request.Destination, reply.Source);
        Assert.Equal(request.SourcePort, reply.DestinationPort);
        Assert.Equal(request.DestinationPort, reply.SourcePort);
        Assert.Equal(64, reply.HopLimit);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Udp_reply_parses_with_swapped_endpoints_and_valid_checksums(bool v6)
    {
        byte[] request = v6 ? UdpV6() : UdpV4();
        IpPacketInfo info = Read(request);
        byte[] answer = new byte[100];
        new Random(1).NextBytes(answer);
        byte[] reply = WriteWithPrefix((Span<byte> d, out int n) => IpReplyWriter.TryWriteUdpReply(info, answer, d, out n));

        IpPacketInfo r = Read(reply);
        AssertSwapped(info, r);
        Assert.Equal(IpProtocol.Udp, r.Protocol);
        Assert.Equal(reply.Length, r.TotalLength);
        Assert.Equal(answer, reply.AsSpan(r.PayloadOffset, r.PayloadLength).ToArray());
        Assert.True(InternetChecksum.VerifyTransport(r.Source, r.Destination, IpProtocol.Udp, reply.AsSpan(r.TransportOffset, r.TransportLength)));

        Packet parsed = Packet.ParsePacket(LinkLayers.Raw, reply);
        IPPacket ip = parsed.Extract<IPPacket>();
        Assert.Equal(info.Source.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(info.Destination.ToIPAddress(), ip.SourceAddress);
        UdpPacket udp = parsed.Extract<UdpPacket>();
        Assert.Equal(info.SourcePort, udp.DestinationPort);
        Assert.Equal(info.DestinationPort, udp.SourcePort);
        Assert.True(udp.ValidUdpChecksum);
        Assert.NotEqual(0, udp.Checksum);
        Assert.Equal(answer, udp.PayloadData);
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum);
            Assert.Equal(0x40, reply[6] & 0x40); // DF
            Assert.Equal(64, v4.TimeToLive);
        }
        else
        {
            Assert.Equal(64, ((IPv6Packet)ip).HopLimit);
        }
    }

    [Fact]
    public void Udp_replies_to_random_requests_verify_with_PacketDotNet()
    {
        var rng = new Random(3);
        for (int i = 0; i < 300; i++)
        {
            byte[] request;
            do
            {
                request = RandomPacket(rng, 100);
            }
            while (request[(request[0] >> 4) == 4 ? 9 : 6] != (byte)IpProtocol.Udp);

            IpPacketInfo info = Read(request);
            byte[] answer = new byte[rng.Next(0, 600)];
            rng.NextBytes(answer);
            var buffer = new byte[answer.Length + 60];
            Assert.True(IpReplyWriter.TryWriteUdpReply(info, answer, buffer, out int n));
            byte[] reply = buffer.AsSpan(0, n).ToArray();
            AssertSwapped(info, Read(reply));
            UdpPacket udp = Packet.ParsePacket(LinkLayers.Raw, reply).Extract<UdpPacket>();
            Assert.True(udp.ValidUdpChecksum);
            Assert.Equal(answer, udp.PayloadData ?? []);
        }
    }

    [Fact]
    public void Udp_reply_refusals()
    {
        IpPacketInfo request = Read(UdpV4());
        byte[] payload = new byte[100];
        AssertTooSmallRefused((Span<byte> d, out int n) => IpReplyWriter.TryWriteUdpReply(request, payload, d, out n), 128);
        IpPacketInfo request6 = Read(UdpV6());
        AssertTooSmallRefused((Span<byte> d, out int n) => IpReplyWriter.TryWriteUdpReply(request6, payload, d, out n), 148);

        var buffer = new byte[256];
        Assert.False(IpReplyWriter.TryWriteUdpReply(Read(TcpV4()), payload, buffer, out _));
        Assert.False(IpReplyWriter.TryWriteUdpReply(default, payload, buffer, out _));
        IpPacketInfo laterFragment = Read(Udp(ClientV4, ServerV4, 1, 53, new byte[16], new IpHeaderOptions { FragmentOffset = 8 }));
        Assert.False(IpReplyWriter.TryWriteUdpReply(laterFragment, payload, buffer, out _));
    }

    private static (IpPacketInfo Request, IpPacketInfo Reset, TcpPacket Oracle) Reset(byte[] request)
    {
        IpPacketInfo info = Read(request);
        byte[] reply = WriteWithPrefix((Span<byte> d, out int n) => IpReplyWriter.TryWriteTcpReset(info, d, out n));
        Assert.Equal(info.Version == 4 ? 40 : 60, reply.Length);
        IpPacketInfo r = Read(reply);
        AssertSwapped(info, r);
        Assert.Equal(IpProtocol.Tcp, r.Protocol);
        Assert.Equal(0, r.PayloadLength);
        Assert.True(InternetChecksum.VerifyTransport(r.Source, r.Destination, IpProtocol.Tcp, reply.AsSpan(r.TransportOffset, r.TransportLength)));
        Packet parsed = Packet.ParsePacket(LinkLayers.Raw, reply);
        if (parsed.Extract<IPv4Packet>() is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum);
        }

        TcpPacket tcp = parsed.Extract<TcpPacket>();
        Assert.True(tcp.ValidTcpChecksum);
        Assert.Equal(info.SourcePort, tcp.DestinationPort);
        Assert.Equal(info.DestinationPort, tcp.SourcePort);
        Assert.True(tcp.Reset);
        Assert.False(tcp.Synchronize);
        Assert.False(tcp.Finished);
        return (info, r, tcp);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reset_for_a_syn_acknowledges_it(bool v6)
    {
        // RFC 9293 §3.10.7.1: no ACK in the segment → <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN counting one.
        byte[] syn = v6 ? Tcp(ClientV6, ServerV6, 50000, 80, 1000, 0, TcpFlags.Syn) : Tcp(ClientV4, ServerV4, 50000, 80, 1000, 0, TcpFlags.Syn);
        (_, IpPacketInfo r, TcpPacket tcp) = Reset(syn);
        Assert.Equal(0u, tcp.SequenceNumber);
        Assert.Equal(1001u, tcp.AcknowledgmentNumber);
        Assert.True(tcp.Acknowledgment);
        Assert.Equal(TcpFlagBits.Rst | TcpFlagBits.Ack, r.TcpFlags);
    }

    [Fact]
    public void Reset_for_a_segment_without_ack_counts_data_syn_and_fin()
    {
        byte[] segment = Tcp(ClientV4, ServerV4, 50000, 80, 0xFFFF_FFF0, 0, TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Psh, new byte[30]);
        (_, _, TcpPacket tcp) = Reset(segment);
        Assert.Equal(0u, tcp.SequenceNumber);
        Assert.Equal(unchecked(0xFFFF_FFF0u + 32u), tcp.AcknowledgmentNumber); // wraps mod 2^32
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reset_for_a_segment_with_ack_takes_its_ack_as_sequence(bool v6)
    {
        // RFC 9293 §3.10.7.1: ACK in the segment → <SEQ=SEG.ACK><CTL=RST>.
        byte[] ack = v6
            ? Tcp(ClientV6, ServerV6, 50001, 443, 5, 0xDEADBEEF, TcpFlags.Ack | TcpFlags.Psh, "GET /"u8)
            : Tcp(ClientV4, ServerV4, 50001, 443, 5, 0xDEADBEEF, TcpFlags.Ack | TcpFlags.Psh, "GET /"u8);
        (_, IpPacketInfo r, TcpPacket tcp) = Reset(ack);
        Assert.Equal(0xDEADBEEFu, tcp.SequenceNumber);
        Assert.False(tcp.Acknowledgment);
        Assert.Equal(TcpFlagBits.Rst, r.TcpFlags);
    }

    [Fact]
    public void Reset_refusals()
    {
        var buffer = new byte[128];
        buffer.AsSpan().Fill(0x5A);
        IpPacketInfo rst = Read(Tcp(ClientV4, ServerV4, 1, 2, 3, 4, TcpFlags.Rst | TcpFlags.Ack));
        Assert.False(IpReplyWriter.TryWriteTcpReset(rst, buffer, out int n));
        Assert.Equal(0, n);
        Assert.All(buffer, b => Assert.Equal(0x5A, b)); // nothing written for a RST

        Assert.False(IpReplyWriter.TryWriteTcpReset(Read(UdpV4()), buffer, out _));
        Assert.False(IpReplyWriter.TryWriteTcpReset(default, buffer, out _));
        IpPacketInfo syn = Read(TcpV4());
        AssertTooSmallRefused((Span<byte> d, out int w) => IpReplyWriter.TryWriteTcpReset(syn, d, out w), 40);
        IpPacketInfo syn6 = Read(TcpV6());
        AssertTooSmallRefused((Span<byte> d, out int w) => IpReplyWriter.TryWriteTcpReset(syn6, d, out w), 60);
    }

    private static byte[] Unreachable(byte[] offending, UnreachableKind kind)
    {
        IpPacketInfo info = Read(offending);
        return WriteWithPrefix((Span<byte> d, out int n) => IpReplyWriter.TryWriteUnreachable(offending, info, kind, d, out n));
    }

    [Theory]
    [InlineData(UnreachableKind.PortUnreachable, 3, IcmpV4TypeCode.UnreachablePort)]
    [InlineData(UnreachableKind.AdministrativelyProhibited, 13, IcmpV4TypeCode.UnreachableCommunicationProhibited)]
    public void Ipv4_unreachable_quotes_the_packet(UnreachableKind kind, byte code, IcmpV4TypeCode typeCode)
    {
        byte[] offending = UdpV4();
        byte[] reply = Unreachable(offending, kind);
        Assert.Equal(28 + offending.Length, reply.Length);
        IpPacketInfo r = Read(reply);
        Assert.Equal(IpProtocol.Icmp, r.Protocol);
        Assert.Equal(ServerV4, r.Source);
        Assert.Equal(ClientV4, r.Destination);
        Assert.Equal(3, r.IcmpType);
        Assert.Equal(code, r.IcmpCode);
        Assert.True(r.IsIcmpError);
        Assert.Equal(offending, reply.AsSpan(28).ToArray());
        Assert.True(InternetChecksum.IsValid(reply.AsSpan(20)));
        Assert.True(InternetChecksum.VerifyIpv4Header(reply.AsSpan(0, 20)));

        Packet parsed = Packet.ParsePacket(LinkLayers.Raw, reply);
        IPv4Packet ip = parsed.Extract<IPv4Packet>();
        Assert.True(ip.ValidIPChecksum);
        IcmpV4Packet icmp = parsed.Extract<IcmpV4Packet>();
        Assert.Equal(typeCode, icmp.TypeCode);
        Assert.True(icmp.ValidIcmpChecksum);
    }

    [Fact]
    public void Ipv4_unreachable_is_capped_at_576_bytes()
    {
        byte[] offending = Udp(ClientV4, ServerV4, 4000, 5000, new byte[1400]);
        byte[] reply = Unreachable(offending, UnreachableKind.PortUnreachable);
        Assert.Equal(IpReplyWriter.MaxIcmpV4ErrorLength, reply.Length);
        Assert.Equal(offending.AsSpan(0, 548).ToArray(), reply.AsSpan(28).ToArray());
        Assert.True(InternetChecksum.IsValid(reply.AsSpan(20)));
        Assert.True(Packet.ParsePacket(LinkLayers.Raw, reply).Extract<IcmpV4Packet>().ValidIcmpChecksum);
    }

    [Fact]
    public void Ipv4_unreachable_quotes_header_options_and_only_the_stated_length()
    {
        byte[] offending = [.. WithIpv4Options(TcpV4()), 0, 0, 0, 0];
        byte[] reply = Unreachable(offending, UnreachableKind.PortUnreachable);
        Assert.Equal(28 + offending.Length - 4, reply.Length);
        Assert.Equal(offending.AsSpan(0, offending.Length - 4).ToArray(), reply.AsSpan(28).ToArray());
    }

    [Theory]
    [InlineData(UnreachableKind.PortUnreachable, 4)]
    [InlineData(UnreachableKind.AdministrativelyProhibited, 1)]
    public void Ipv6_unreachable_quotes_the_packet(UnreachableKind kind, byte code)
    {
        byte[] offending = TcpV6();
        byte[] reply = Unreachable(offending, kind);
        Assert.Equal(48 + offending.Length, reply.Length);
        IpPacketInfo r = Read(reply);
        Assert.Equal(IpProtocol.IcmpV6, r.Protocol);
        Assert.Equal(ServerV6, r.Source);
        Assert.Equal(ClientV6, r.Destination);
        Assert.Equal(1, r.IcmpType);
        Assert.Equal(code, r.IcmpCode);
        Assert.Equal(64, r.HopLimit);
        Assert.Equal(offending, reply.AsSpan(48).ToArray());
        Assert.True(InternetChecksum.VerifyTransport(r.Source, r.Destination, IpProtocol.IcmpV6, reply.AsSpan(40)));

        IcmpV6Packet icmp = Packet.ParsePacket(LinkLayers.Raw, reply).Extract<IcmpV6Packet>();
        Assert.Equal(IcmpV6Type.DestinationUnreachable, icmp.Type);
        Assert.Equal(code, icmp.Code);
        Assert.True(icmp.ValidIcmpChecksum);
    }

    [Fact]
    public void Ipv6_unreachable_is_capped_at_1280_bytes()
    {
        byte[] offending = Udp(ClientV6, ServerV6, 4000, 5000, new byte[1400]);
        byte[] reply = Unreachable(offending, UnreachableKind.PortUnreachable);
        Assert.Equal(IpReplyWriter.MaxIcmpV6ErrorLength, reply.Length);
        Assert.Equal(offending.AsSpan(0, 1232).ToArray(), reply.AsSpan(48).ToArray());
        IpPacketInfo r = Read(reply);
        Assert.True(InternetChecksum.VerifyTransport(r.Source, r.Destination, IpProtocol.IcmpV6, reply.AsSpan(40)));
        Assert.True(Packet.ParsePacket(LinkLayers.Raw, reply).Extract<IcmpV6Packet>().ValidIcmpChecksum);
    }

    [Fact]
    public void Icmp_echo_gets_an_unreachable()
    {
        Assert.NotEmpty(Unreachable(Icmp(ClientV4, ServerV4, 8, 0, new byte[8]), UnreachableKind.AdministrativelyProhibited));
        Assert.NotEmpty(Unreachable(Icmp(ClientV6, ServerV6, 128, 0, new byte[8]), UnreachableKind.AdministrativelyProhibited));
    }

    public static TheoryData<string> NoReplyCases() =>
    [
        "icmp4-error", "icmp6-error", "later-fragment4", "later-fragment6", "multicast4", "broadcast4", "multicast6",
        "source-zero4", "source-loopback4", "source-multicast4", "source-unspecified6", "source-multicast6",
    ];

    private static byte[] NoReplyPacket(string name) => name switch
    {
        "icmp4-error" => Icmp(ClientV4, ServerV4, 3, 3, UdpV4()),
        "icmp6-error" => Icmp(ClientV6, ServerV6, 1, 4, UdpV6()),
        "later-fragment4" => Udp(ClientV4, ServerV4, 1, 2, new byte[32], new IpHeaderOptions { FragmentOffset = 1480 }),
        "later-fragment6" => V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, new byte[32], new Extension(IpProtocol.Fragment, FragmentOffset: 1232)),
        "multicast4" => Udp(ClientV4, IpAddr.Parse("224.0.0.251"), 5353, 5353, "m"u8),
        "broadcast4" => Udp(ClientV4, IpAddr.Parse("255.255.255.255"), 68, 67, "b"u8),
        "multicast6" => Udp(ClientV6, IpAddr.Parse("ff02::fb"), 5353, 5353, "m"u8),
        "source-zero4" => Udp(IpAddr.Parse("0.0.0.0"), ServerV4, 68, 67, "z"u8),
        "source-loopback4" => Udp(IpAddr.Parse("127.0.0.1"), ServerV4, 1, 2, "l"u8),
        "source-multicast4" => Udp(IpAddr.Parse("239.1.1.1"), ServerV4, 1, 2, "m"u8),
        "source-unspecified6" => Udp(IpAddr.Parse("::"), ServerV6, 1, 2, "u"u8),
        "source-multicast6" => Udp(IpAddr.Parse("ff05::2"), ServerV6, 1, 2, "m"u8),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(NoReplyCases))]
    public void Unreachable_is_never_sent_where_the_rfcs_forbid(string name)
    {
        byte[] offending = NoReplyPacket(name);
        IpPacketInfo info = Read(offending);
        var buffer = new byte[2048];
        Assert.False(IpReplyWriter.TryWriteUnreachable(offending, info, UnreachableKind.PortUnreachable, buffer, out int n));
        Assert.Equal(0, n);
    }

    [Fact]
    public void Unreachable_refuses_mismatched_or_short_input()
    {
        byte[] offending = UdpV4();
        IpPacketInfo info = Read(offending);
        var buffer = new byte[2048];
        Assert.False(IpReplyWriter.TryWriteUnreachable(offending.AsSpan(0, offending.Length - 1), info, UnreachableKind.PortUnreachable, buffer, out _));
        Assert.False(IpReplyWriter.TryWriteUnreachable(UdpV6(), info, UnreachableKind.PortUnreachable, buffer, out _));
        Assert.False(IpReplyWriter.TryWriteUnreachable([], info, UnreachableKind.PortUnreachable, buffer, out _));
        Assert.False(IpReplyWriter.TryWriteUnreachable(offending, default, UnreachableKind.PortUnreachable, buffer, out _));
        Assert.False(IpReplyWriter.TryWriteUnreachable(offending, info, (UnreachableKind)9, buffer, out _));
        AssertTooSmallRefused((Span<byte> d, out int n) => IpReplyWriter.TryWriteUnreachable(offending, info, UnreachableKind.PortUnreachable, d, out n), 28 + offending.Length);
        byte[] offending6 = UdpV6();
        IpPacketInfo info6 = Read(offending6);
        AssertTooSmallRefused((Span<byte> d, out int n) => IpReplyWriter.TryWriteUnreachable(offending6, info6, UnreachableKind.PortUnreachable, d, out n), 48 + offending6.Length);
    }

    [Fact]
    public void Ipv4_identification_changes_between_replies()
    {
        IpPacketInfo info = Read(UdpV4());
        var a = new byte[64];
        var b = new byte[64];
        Assert.True(IpReplyWriter.TryWriteUdpReply(info, "x"u8, a, out _));
        Assert.True(IpReplyWriter.TryWriteUdpReply(info, "x"u8, b, out _));
        Assert.NotEqual(BinaryPrimitives.ReadUInt16BigEndian(a.AsSpan(4)), BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(4)));
    }
}
