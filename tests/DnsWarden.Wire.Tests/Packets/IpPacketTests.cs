using System.Buffers.Binary;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Wire.Tests.Packets.TunPackets;

namespace DnsWarden.Wire.Tests.Packets;

public sealed class IpPacketTests
{
    private static IpPacketInfo Read(ReadOnlySpan<byte> packet)
    {
        Assert.True(IpPacket.TryRead(packet, out IpPacketInfo info, out IpPacketError error), $"refused: {error}");
        Assert.Equal(IpPacketError.None, error);
        return info;
    }

    private static IpPacketError Refuse(ReadOnlySpan<byte> packet)
    {
        Assert.False(IpPacket.TryRead(packet, out _, out IpPacketError error));
        Assert.NotEqual(IpPacketError.None, error);
        return error;
    }

    [Fact]
    public void Ipv4_tcp_fields()
    {
        byte[] p = Tcp(ClientV4, ServerV4, 40001, 443, 0x01020304, 0x0A0B0C0D, TcpFlags.Syn | TcpFlags.Ack, "hello"u8);
        IpPacketInfo info = Read(p);
        Assert.Equal(4, info.Version);
        Assert.Equal(IpProtocol.Tcp, info.Protocol);
        Assert.Equal(ClientV4, info.Source);
        Assert.Equal(ServerV4, info.Destination);
        Assert.Equal(40001, info.SourcePort);
        Assert.Equal(443, info.DestinationPort);
        Assert.Equal(TcpFlagBits.Syn | TcpFlagBits.Ack, info.TcpFlags);
        Assert.Equal(0x01020304u, info.TcpSequence);
        Assert.Equal(0x0A0B0C0Du, info.TcpAcknowledgment);
        Assert.Equal(64, info.HopLimit);
        Assert.Equal(20, info.IpHeaderLength);
        Assert.Equal(20, info.TransportOffset);
        Assert.Equal(25, info.TransportLength);
        Assert.Equal(40, info.PayloadOffset);
        Assert.Equal(5, info.PayloadLength);
        Assert.Equal(45, info.TotalLength);
        Assert.False(info.IsFragment);
        Assert.False(info.IsLaterFragment);
        Assert.True(info.HasTransportHeader);
        Assert.Contains("10.30.30.30:443", info.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv4_udp_fields_and_trailing_padding_tolerated()
    {
        byte[] p = UdpV4();
        byte[] padded = [.. p, 0, 0, 0, 0, 0, 0, 0];
        IpPacketInfo info = Read(padded);
        Assert.Equal(IpProtocol.Udp, info.Protocol);
        Assert.Equal(40000, info.SourcePort);
        Assert.Equal(53, info.DestinationPort);
        Assert.Equal(p.Length, info.TotalLength);
        Assert.Equal(p.Length - 20, info.TransportLength);
        Assert.Equal(28, info.PayloadOffset);
        Assert.Equal("query"u8.Length, info.PayloadLength);
    }

    [Fact]
    public void Ipv4_udp_length_shorter_than_ip_payload_bounds_the_payload()
    {
        byte[] p = [.. UdpV4(), 0xEE, 0xEE];
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        IpPacketInfo info = Read(p);
        Assert.Equal(p.Length - 20, info.TransportLength);
        Assert.Equal("query"u8.Length, info.PayloadLength);
    }

    [Fact]
    public void Ipv4_options_move_the_transport()
    {
        IpPacketInfo info = Read(WithIpv4Options(TcpV4()));
        Assert.Equal(24, info.IpHeaderLength);
        Assert.Equal(24, info.TransportOffset);
        Assert.Equal(443, info.DestinationPort);
    }

    [Fact]
    public void Ipv4_first_fragment_has_ports_and_skips_the_udp_length_check()
    {
        byte[] p = Udp(ClientV4, ServerV4, 5000, 53, new byte[64], new IpHeaderOptions { MoreFragments = true });
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), 4000); // the whole datagram's length, longer than this fragment
        IpPacketInfo info = Read(p);
        Assert.True(info.IsFragment);
        Assert.False(info.IsLaterFragment);
        Assert.Equal(53, info.DestinationPort);
        Assert.Equal(64, info.PayloadLength);
    }

    [Fact]
    public void Ipv4_later_fragment_has_no_ports()
    {
        byte[] p = Udp(ClientV4, ServerV4, 5000, 53, new byte[64], new IpHeaderOptions { FragmentOffset = 1480 });
        IpPacketInfo info = Read(p);
        Assert.True(info.IsFragment);
        Assert.True(info.IsLaterFragment);
        Assert.False(info.HasTransportHeader);
        Assert.Equal(0, info.SourcePort);
        Assert.Equal(0, info.DestinationPort);
        Assert.Equal(IpProtocol.Udp, info.Protocol);
        Assert.Equal(20, info.TransportOffset);
        Assert.Equal(72, info.TransportLength);
    }

    [Fact]
    public void Ipv4_later_fragment_too_short_for_a_header_is_still_read()
    {
        byte[] p = Tcp(ClientV4, ServerV4, 1, 2, 0, 0, TcpFlags.Ack);
        p = p.AsSpan(0, 24).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 24);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), 0x0010);
        IpPacketInfo info = Read(p);
        Assert.True(info.IsLaterFragment);
        Assert.Equal(4, info.TransportLength);
    }

    [Theory]
    [InlineData(8, 0, false)] // echo request
    [InlineData(0, 0, false)] // echo reply
    [InlineData(3, 3, true)] // RFC 792 destination unreachable
    [InlineData(4, 0, true)]
    [InlineData(5, 1, true)]
    [InlineData(11, 0, true)]
    [InlineData(12, 0, true)]
    [InlineData(13, 0, false)] // timestamp
    public void Ipv4_icmp_type_code_and_error(byte type, byte code, bool isError)
    {
        IpPacketInfo info = Read(Icmp(ClientV4, ServerV4, type, code, new byte[28]));
        Assert.Equal(IpProtocol.Icmp, info.Protocol);
        Assert.Equal(type, info.IcmpType);
        Assert.Equal(code, info.IcmpCode);
        Assert.Equal(isError, info.IsIcmpError);
        Assert.Equal(0, info.DestinationPort);
        Assert.Equal(28, info.PayloadOffset);
        Assert.Equal(28, info.PayloadLength);
    }

    [Theory]
    [InlineData(1, 4, true)]
    [InlineData(2, 0, true)]
    [InlineData(3, 0, true)]
    [InlineData(4, 1, true)]
    [InlineData(127, 0, true)]
    [InlineData(128, 0, false)]
    [InlineData(135, 0, false)]
    public void Ipv6_icmp_type_code_and_error(byte type, byte code, bool isError)
    {
        IpPacketInfo info = Read(Icmp(ClientV6, ServerV6, type, code, new byte[48]));
        Assert.Equal(IpProtocol.IcmpV6, info.Protocol);
        Assert.Equal(type, info.IcmpType);
        Assert.Equal(code, info.IcmpCode);
        Assert.Equal(isError, info.IsIcmpError);
    }

    [Fact]
    public void Other_protocol_is_read_without_a_transport_header()
    {
        byte[] p = new byte[30];
        Assert.True(IpHeaderWriter.TryWriteIpv4Header(p, ClientV4, ServerV4, IpProtocol.Gre, 10, out _));
        IpPacketInfo info = Read(p);
        Assert.Equal(IpProtocol.Gre, info.Protocol);
        Assert.False(info.HasTransportHeader);
        Assert.Equal(20, info.TransportOffset);
        Assert.Equal(10, info.TransportLength);
        Assert.Equal(0, info.SourcePort);
    }

    [Fact]
    public void Ipv6_tcp_fields_and_trailing_padding_tolerated()
    {
        byte[] p = TcpV6();
        IpPacketInfo info = Read([.. p, 1, 2, 3]);
        Assert.Equal(6, info.Version);
        Assert.Equal(IpProtocol.Tcp, info.Protocol);
        Assert.Equal(ClientV6, info.Source);
        Assert.Equal(ServerV6, info.Destination);
        Assert.Equal(40003, info.SourcePort);
        Assert.Equal(443, info.DestinationPort);
        Assert.Equal(7u, info.TcpSequence);
        Assert.Equal(9u, info.TcpAcknowledgment);
        Assert.Equal(TcpFlagBits.Ack | TcpFlagBits.Psh, info.TcpFlags);
        Assert.Equal(40, info.IpHeaderLength);
        Assert.Equal(40, info.TransportOffset);
        Assert.Equal(p.Length, info.TotalLength);
        Assert.Equal(4, info.PayloadLength);
    }

    [Fact]
    public void Ipv6_extension_chain_is_walked()
    {
        byte[] segment = Segment(TcpV6());
        byte[] p = V6WithExtensions(
            ClientV6,
            ServerV6,
            IpProtocol.Tcp,
            segment,
            new Extension(IpProtocol.HopByHopOptions),
            new Extension(IpProtocol.DestinationOptions, 16),
            new Extension(IpProtocol.Routing, 24),
            new Extension(IpProtocol.Fragment),
            new Extension(IpProtocol.Ah, 12 + 12));
        IpPacketInfo info = Read(p);
        Assert.Equal(IpProtocol.Tcp, info.Protocol);
        Assert.Equal(40 + 8 + 16 + 24 + 8 + 24, info.TransportOffset);
        Assert.Equal(segment.Length, info.TransportLength);
        Assert.Equal(443, info.DestinationPort);
        Assert.Equal(40, info.IpHeaderLength);

        // RFC 6946: offset 0 and M clear is an atomic fragment, not a fragment.
        Assert.False(info.IsFragment);
    }

    [Fact]
    public void Ipv6_first_fragment()
    {
        byte[] segment = Segment(UdpV6());
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(4), 3000);
        IpPacketInfo info = Read(V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, segment, new Extension(IpProtocol.Fragment, More: true)));
        Assert.True(info.IsFragment);
        Assert.False(info.IsLaterFragment);
        Assert.Equal(53, info.DestinationPort);
        Assert.Equal(48, info.TransportOffset);
    }

    [Fact]
    public void Ipv6_later_fragment_stops_the_walk()
    {
        // What follows a later fragment's header looks like a Hop-by-Hop header chain but is data.
        byte[] data = new byte[16];
        IpPacketInfo info = Read(V6WithExtensions(ClientV6, ServerV6, IpProtocol.HopByHopOptions, data, new Extension(IpProtocol.Fragment, FragmentOffset: 1232)));
        Assert.True(info.IsFragment);
        Assert.True(info.IsLaterFragment);
        Assert.Equal(IpProtocol.HopByHopOptions, info.Protocol);
        Assert.Equal(48, info.TransportOffset);
        Assert.Equal(16, info.TransportLength);
        Assert.Equal(0, info.DestinationPort);
    }

    [Theory]
    [InlineData(IpProtocol.Esp)]
    [InlineData(IpProtocol.NoNextHeader)]
    [InlineData(IpProtocol.Sctp)]
    public void Ipv6_chain_stops_at_opaque_or_upper_layer_headers(IpProtocol last)
    {
        IpPacketInfo info = Read(V6WithExtensions(ClientV6, ServerV6, last, new byte[12], new Extension(IpProtocol.DestinationOptions)));
        Assert.Equal(last, info.Protocol);
        Assert.Equal(48, info.TransportOffset);
        Assert.False(info.HasTransportHeader);
    }

    [Fact]
    public void Ipv6_eight_extension_headers_read_nine_refused()
    {
        byte[] segment = Segment(UdpV6());
        Extension[] eight = Enumerable.Repeat(new Extension(IpProtocol.DestinationOptions), 8).ToArray();
        Assert.Equal(IpProtocol.Udp, Read(V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, segment, eight)).Protocol);
        Extension[] nine = Enumerable.Repeat(new Extension(IpProtocol.DestinationOptions), 9).ToArray();
        Assert.Equal(IpPacketError.ExtensionChainTooLong, Refuse(V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, segment, nine)));
    }

    [Fact]
    public void Ipv6_hop_by_hop_after_another_header_refused()
    {
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, Segment(UdpV6()), new Extension(IpProtocol.DestinationOptions), new Extension(IpProtocol.HopByHopOptions));
        Assert.Equal(IpPacketError.BadExtensionHeader, Refuse(p));
    }

    [Fact]
    public void Ipv6_extension_header_past_the_payload_refused()
    {
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.NoNextHeader, [], new Extension(IpProtocol.DestinationOptions, 16));
        p[41] = 2; // claims 24 bytes where 16 are left
        Assert.Equal(IpPacketError.BadExtensionHeader, Refuse(p));
    }

    [Fact]
    public void Ipv6_extension_header_with_fewer_than_eight_bytes_left_refused()
    {
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.DestinationOptions, new byte[4]);
        Assert.Equal(IpPacketError.BadExtensionHeader, Refuse(p));
    }

    [Fact]
    public void Ipv6_jumbogram_refused()
    {
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.NoNextHeader, [], new Extension(IpProtocol.HopByHopOptions));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), 0);
        Assert.Equal(IpPacketError.JumbogramUnsupported, Refuse(p));
    }

    [Fact]
    public void Named_adversarial_inputs()
    {
        Assert.Equal(IpPacketError.Empty, Refuse([]));
        Assert.Equal(IpPacketError.BadVersion, Refuse([0x00]));
        Assert.Equal(IpPacketError.BadVersion, Refuse([0x55, 0, 0, 0]));
        Assert.Equal(IpPacketError.BadVersion, Refuse(new byte[60]));
        Assert.Equal(IpPacketError.TruncatedHeader, Refuse([0x45]));
        Assert.Equal(IpPacketError.TruncatedHeader, Refuse([0x60, 0, 0, 0]));

        byte[] p = TcpV4();
        byte[] badIhl = (byte[])p.Clone();
        badIhl[0] = 0x44;
        Assert.Equal(IpPacketError.BadHeaderLength, Refuse(badIhl));

        byte[] hugeIhl = p.AsSpan(0, 40).ToArray();
        hugeIhl[0] = 0x4F; // 60-byte header in a 40-byte packet
        Assert.Equal(IpPacketError.TruncatedHeader, Refuse(hugeIhl));

        byte[] shortTotal = (byte[])p.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(shortTotal.AsSpan(2), 19);
        Assert.Equal(IpPacketError.BadTotalLength, Refuse(shortTotal));

        byte[] longTotal = (byte[])p.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longTotal.AsSpan(2), (ushort)(p.Length + 1));
        Assert.Equal(IpPacketError.TruncatedPacket, Refuse(longTotal));

        byte[] v6 = UdpV6();
        byte[] longPayload = (byte[])v6.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longPayload.AsSpan(4), 0xFFFF);
        Assert.Equal(IpPacketError.TruncatedPacket, Refuse(longPayload));
    }

    [Fact]
    public void Transport_header_errors()
    {
        byte[] tcp = TcpV4();
        byte[] shortTcp = tcp.AsSpan(0, 39).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(shortTcp.AsSpan(2), 39);
        Assert.Equal(IpPacketError.TruncatedTransport, Refuse(shortTcp));

        byte[] lowOffset = (byte[])tcp.Clone();
        lowOffset[32] = 0x40;
        Assert.Equal(IpPacketError.BadTcpDataOffset, Refuse(lowOffset));

        byte[] highOffset = (byte[])tcp.Clone();
        highOffset[32] = 0xF0; // 60 bytes of header in a 20-byte segment
        Assert.Equal(IpPacketError.BadTcpDataOffset, Refuse(highOffset));

        byte[] udp = UdpV4();
        byte[] shortUdp = udp.AsSpan(0, 27).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(shortUdp.AsSpan(2), 27);
        Assert.Equal(IpPacketError.TruncatedTransport, Refuse(shortUdp));

        byte[] udpLengthLow = (byte[])udp.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(udpLengthLow.AsSpan(24), 7);
        Assert.Equal(IpPacketError.BadUdpLength, Refuse(udpLengthLow));

        byte[] udpLengthHigh = (byte[])udp.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(udpLengthHigh.AsSpan(24), (ushort)(udp.Length - 19));
        Assert.Equal(IpPacketError.BadUdpLength, Refuse(udpLengthHigh));

        byte[] icmp = Icmp(ClientV6, ServerV6, 128, 0, []);
        byte[] shortIcmp = icmp.AsSpan(0, 47).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(shortIcmp.AsSpan(4), 7);
        Assert.Equal(IpPacketError.TruncatedTransport, Refuse(shortIcmp));
    }

    [Fact]
    public void Tcp_options_move_the_payload()
    {
        byte[] p = new byte[20 + 32 + 3];
        Assert.True(IpHeaderWriter.TryWriteIpv4Header(p, ClientV4, ServerV4, IpProtocol.Tcp, 35, out _));
        Assert.True(TransportHeaderWriter.TryWriteTcpHeader(p.AsSpan(20), 1, 2, 3, 4, TcpFlags.Syn, 100, [2, 4, 5, 0xB4, 1, 1, 4, 2, 1, 3, 3, 7], out int n));
        Assert.Equal(32, n);
        IpPacketInfo info = Read(p);
        Assert.Equal(52, info.PayloadOffset);
        Assert.Equal(3, info.PayloadLength);
    }

    public static TheoryData<string> ValidSeeds() => new(SeedNames);

    private static readonly string[] SeedNames = ["udp4", "tcp4", "udp6", "tcp6", "icmp4", "icmp6", "chain6", "options4"];

    private static byte[] Seed(string name) => name switch
    {
        "udp4" => UdpV4(),
        "tcp4" => TcpV4(),
        "udp6" => UdpV6(),
        "tcp6" => TcpV6(),
        "icmp4" => Icmp(ClientV4, ServerV4, 8, 0, new byte[16]),
        "icmp6" => Icmp(ClientV6, ServerV6, 128, 0, new byte[16]),
        "chain6" => V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, Segment(UdpV6()), new Extension(IpProtocol.HopByHopOptions), new Extension(IpProtocol.Routing, 24), new Extension(IpProtocol.Fragment)),
        "options4" => WithIpv4Options(UdpV4()),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(ValidSeeds))]
    public void Every_proper_prefix_fails_cleanly(string name)
    {
        byte[] p = Seed(name);
        Read(p);
        for (int n = 0; n < p.Length; n++)
        {
            IpPacketError error = Refuse(p.AsSpan(0, n));
            Assert.True(
                error is IpPacketError.Empty or IpPacketError.TruncatedHeader or IpPacketError.TruncatedPacket,
                $"{name} prefix {n}: {error}");
        }
    }

    /// <summary>The older full decoder reads raw IP too; on well-formed packets the two must agree field by field.</summary>
    [Fact]
    public void Agrees_with_PacketDecoder_on_random_packets()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            byte[] p = RandomPacket(rng);
            IpPacketInfo info = Read(p);
            Assert.True(PacketDecoder.TryDecode(LinkType.Raw, p, out DecodedPacket d));
            Assert.Equal(d.IpVersion, info.Version);
            Assert.Equal(d.IpProtocol, info.Protocol);
            Assert.Equal(d.Source, info.Source);
            Assert.Equal(d.Destination, info.Destination);
            Assert.Equal(d.SourcePort, info.SourcePort);
            Assert.Equal(d.DestinationPort, info.DestinationPort);
            Assert.Equal(d.IpPayloadOffset, info.TransportOffset);
            Assert.Equal(d.IpPayloadLength, info.TransportLength);
            Assert.Equal(d.PayloadOffset, info.PayloadOffset);
            Assert.Equal(d.PayloadLength, info.PayloadLength);
            if (info.Protocol == IpProtocol.Tcp)
            {
                Assert.Equal((byte)d.TcpFlags, info.TcpFlags);
                Assert.Equal(d.TcpSequence, info.TcpSequence);
                Assert.Equal(d.TcpAcknowledgment, info.TcpAcknowledgment);
            }
        }
    }

    /// <summary>
    /// The capture decoder and the TUN view take one IPv6 extension walk: over extension chains (Mobility, HIP and Shim6
    /// among them), IPv4 and IPv6 fragments and ICMP, they accept the same packets and read the same fields — an IPv6 →
    /// Mobility → UDP/53 packet is UDP/53 to both. Every shape is generated often enough to count.
    /// </summary>
    [Fact]
    public void Agrees_with_PacketDecoder_on_extension_chains_fragments_and_icmp()
    {
        var rng = new Random(15);
        var shapes = new Dictionary<string, int>();
        for (int i = 0; i < 6000; i++)
        {
            byte[] p = RandomShapedPacket(rng, out string shape);
            foreach (string part in shape.Split('+'))
            {
                shapes[part] = shapes.GetValueOrDefault(part) + 1;
            }

            IpPacketInfo info = Read(p);
            Assert.True(PacketDecoder.TryDecode(LinkType.Raw, p, out DecodedPacket d), $"{shape}: {d.Error}");
            string because = shape;
            Assert.True(d.IpVersion == info.Version, because);
            Assert.True(d.IpProtocol == info.Protocol, $"{because}: {d.IpProtocol} / {info.Protocol}");
            Assert.True(d.Source == info.Source && d.Destination == info.Destination, because);
            Assert.True(d.HasTransportHeader == info.HasTransportHeader, because);
            Assert.True((d.SourcePort, d.DestinationPort) == (info.SourcePort, info.DestinationPort), because);
            Assert.True((d.IpPayloadOffset, d.IpPayloadLength) == (info.TransportOffset, info.TransportLength), because);
            Assert.True((d.PayloadOffset, d.PayloadLength) == (info.PayloadOffset, info.PayloadLength), because);
            Assert.True(d.IsFragment == info.IsFragment, because);
            Assert.True((d.IsFragment && d.FragmentOffset != 0) == info.IsLaterFragment, because);
            Assert.True((d.IcmpType, d.IcmpCode) == (info.IcmpType, info.IcmpCode), because);
            Assert.True((d.IcmpInnerOffset >= 0) == info.IsIcmpError, because);
            if (info.Protocol == IpProtocol.Tcp && info.HasTransportHeader)
            {
                Assert.True(((byte)d.TcpFlags, d.TcpSequence, d.TcpAcknowledgment) == (info.TcpFlags, info.TcpSequence, info.TcpAcknowledgment), because);
            }
        }

        string[] expected =
        [
            "udp", "tcp", "icmp-echo", "icmp-error", "other", "v4-first-fragment", "v4-later-fragment", "v6-fragment", "v6-later-fragment",
            nameof(IpProtocol.HopByHopOptions), nameof(IpProtocol.DestinationOptions), nameof(IpProtocol.Routing), nameof(IpProtocol.Mobility),
            nameof(IpProtocol.Hip), nameof(IpProtocol.Shim6), nameof(IpProtocol.Ah),
        ];
        Assert.All(expected, s => Assert.True(shapes.GetValueOrDefault(s) >= 100, $"{s}: {shapes.GetValueOrDefault(s)} packets"));
    }

    [Theory]
    [InlineData(IpProtocol.Mobility)]
    [InlineData(IpProtocol.Hip)]
    [InlineData(IpProtocol.Shim6)]
    public void Ipv6_then_mobility_hip_or_shim6_then_udp53_is_udp53_to_both_readers(IpProtocol extension)
    {
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, Segment(UdpV6()), new Extension(extension));
        IpPacketInfo info = Read(p);
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, p, out DecodedPacket d));
        Assert.Equal((IpProtocol.Udp, (ushort)53, 48), (info.Protocol, info.DestinationPort, info.TransportOffset));
        Assert.Equal((IpProtocol.Udp, (ushort)53, 48), (d.IpProtocol, d.DestinationPort, d.IpPayloadOffset));
    }

    [Fact]
    public void A_chain_one_past_the_limit_is_refused_by_both_readers()
    {
        Extension[] nine = [.. Enumerable.Range(0, 9).Select(i => new Extension(i % 2 == 0 ? IpProtocol.Mobility : IpProtocol.Shim6))];
        byte[] p = V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, Segment(UdpV6()), nine);
        Assert.Equal(IpPacketError.ExtensionChainTooLong, Refuse(p));
        Assert.False(PacketDecoder.TryDecode(LinkType.Raw, p, out DecodedPacket d));
        Assert.Equal(DecodeError.ExtensionChainTooLong, d.Error);
    }

    /// <summary>Random mutations of valid packets and random bytes: never throws, and what is accepted has its offsets in range.</summary>
    [Fact]
    public void Mutations_never_throw_and_offsets_stay_in_range()
    {
        var rng = new Random(20240607);
        byte[][] seeds = SeedNames.Select(Seed).ToArray();
        int accepted = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] input;
            if (i % 10 == 0)
            {
                input = new byte[rng.Next(0, 120)];
                rng.NextBytes(input);
                if (input.Length > 0 && rng.Next(2) == 0)
                {
                    input[0] = (byte)((rng.Next(2) == 0 ? 0x40 : 0x60) | (input[0] & 0x0F));
                }
            }
            else
            {
                input = Mutate(rng, seeds[rng.Next(seeds.Length)]);
            }

            if (IpPacket.TryRead(input, out IpPacketInfo info, out IpPacketError error))
            {
                accepted++;
                AssertConsistent(input, info);
            }
            else
            {
                Assert.NotEqual(IpPacketError.None, error);
            }
        }

        Assert.InRange(accepted, 100, 5000);
    }

    internal static void AssertConsistent(ReadOnlySpan<byte> input, in IpPacketInfo info)
    {
        Assert.True(info.Version is 4 or 6);
        Assert.InRange(info.TotalLength, info.IpHeaderLength, input.Length);
        Assert.InRange(info.TransportOffset, info.IpHeaderLength, info.TotalLength);
        Assert.Equal(info.TotalLength, info.TransportOffset + info.TransportLength);
        Assert.InRange(info.PayloadOffset, info.TransportOffset, info.TotalLength);
        Assert.InRange(info.PayloadLength, 0, info.TotalLength - info.PayloadOffset);
        Assert.True(!info.IsLaterFragment || (info.IsFragment && !info.HasTransportHeader));
        Assert.True(info.HasTransportHeader || (info.SourcePort == 0 && info.DestinationPort == 0));
    }

    private static byte[] Mutate(Random rng, byte[] seed)
    {
        byte[] b = (byte[])seed.Clone();
        int edits = rng.Next(1, 4);
        for (int e = 0; e < edits && b.Length > 0; e++)
        {
            switch (rng.Next(5))
            {
                case 0:
                    b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case 2:
                    b = b.AsSpan(0, rng.Next(b.Length)).ToArray();
                    break;
                case 3:
                    b[rng.Next(b.Length)] = rng.Next(2) == 0 ? (byte)0xFF : (byte)0;
                    break;
                default:
                    b = [.. b, .. new byte[rng.Next(1, 16)]];
                    break;
            }
        }

        return b;
    }
}
