using System.Buffers.Binary;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Frames;

/// <summary>Malformed, hostile and truncated frames: each must give a named error, never an exception.</summary>
public sealed class AdversarialFrameTests
{
    private static DecodeError Decode(LinkType link, byte[] frame)
    {
        bool ok = PacketDecoder.TryDecode(link, frame, out DecodedPacket p);
        Assert.Equal(ok, p.Error == DecodeError.None);
        bool classified = PacketDecoder.TryClassify(link, frame, out _, out _, out DecodeError e);
        Assert.Equal(ok, classified);
        Assert.Equal(p.Error, e);
        return p.Error;
    }

    private static byte[] Udp4() => TestFrames.Udp("192.0.2.1", "198.51.100.53", 40000, 53);

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Ipv4_ihl_below_five_is_bad_ihl(int ihl)
    {
        byte[] ip = Udp4();
        ip[0] = (byte)(0x40 | ihl);
        Assert.Equal(DecodeError.BadIhl, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Ipv4_total_length_below_ihl_is_bad_total_length()
    {
        byte[] ip = Udp4();
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), 19);
        Assert.Equal(DecodeError.BadTotalLength, Decode(LinkType.Raw, ip));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), 0);
        Assert.Equal(DecodeError.BadTotalLength, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Ipv4_total_length_beyond_frame_is_truncated()
    {
        byte[] ip = Udp4();
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)(ip.Length + 1));
        Assert.Equal(DecodeError.Truncated, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Ipv4_ihl_beyond_total_length_is_bad_total_length()
    {
        byte[] ip = Udp4();
        ip[0] = 0x4F; // 60-byte header claimed inside a 57-byte packet
        Assert.Equal(DecodeError.BadTotalLength, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Ipv4_options_are_skipped()
    {
        // RFC 791 §3.1: a Router Alert option (RFC 2113) and padding make IHL 6.
        byte[] plain = Udp4();
        byte[] ip = [0x46, .. plain.AsSpan(1, 19), 0x94, 0x04, 0x00, 0x00, .. plain.AsSpan(20)];
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, ip, out DecodedPacket p));
        Assert.Equal(24, p.IpPayloadOffset);
        Assert.Equal(53, p.DestinationPort);
        Assert.Equal(TestFrames.DnsQueryExampleCom, p.Payload(ip).ToArray());
    }

    [Fact]
    public void Bad_version_nibble_on_raw_link()
    {
        byte[] ip = Udp4();
        ip[0] = 0x55;
        Assert.Equal(DecodeError.BadIpVersion, Decode(LinkType.Raw, ip));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(PacketDecoder.MaxVlanTags, true)]
    [InlineData(PacketDecoder.MaxVlanTags + 1, false)]
    [InlineData(200, false)]
    public void Stacked_vlan_tags_are_bounded(int count, bool accepted)
    {
        var tags = Enumerable.Range(0, count).Select(i => (i == 0 ? (ushort)0x88A8 : (ushort)0x8100, (ushort)(i + 1))).ToArray();
        byte[] frame = TestFrames.Ethernet(Udp4(), tags);
        DecodeError e = Decode(LinkType.Ethernet, frame);
        Assert.Equal(accepted ? DecodeError.None : DecodeError.TooManyVlanTags, e);
        PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p);
        Assert.Equal(1, p.OuterVlanId);
    }

    [Fact]
    public void Vlan_tag_cut_short_is_truncated()
    {
        byte[] frame = Convert.FromHexString("00112233445566778899aabb" + "8100" + "00");
        Assert.Equal(DecodeError.Truncated, Decode(LinkType.Ethernet, frame));
    }

    /// <summary>An IPv6 packet whose extension headers are given as (type, total length) in chain order.</summary>
    private static byte[] Ipv6WithChain(IpProtocol upper, byte[] upperBytes, params (IpProtocol Type, int Length)[] chain)
    {
        var body = new List<byte>();
        for (int i = 0; i < chain.Length; i++)
        {
            IpProtocol next = i + 1 < chain.Length ? chain[i + 1].Type : upper;
            var h = new byte[chain[i].Length];
            h[0] = (byte)next;
            h[1] = chain[i].Type == IpProtocol.Ah ? (byte)((chain[i].Length / 4) - 2) : (byte)((chain[i].Length / 8) - 1);
            if (chain[i].Type == IpProtocol.Fragment)
            {
                h[1] = 0;
            }

            body.AddRange(h);
        }

        body.AddRange(upperBytes);
        var ip = new byte[40 + body.Count];
        IpHeaderWriter.TryWriteIpv6Header(ip, IpAddr.Parse("2001:db8::1"), IpAddr.Parse("2001:db8::53"), chain.Length > 0 ? chain[0].Type : upper, body.Count, out _);
        body.CopyTo(ip, 40);
        return ip;
    }

    private static byte[] UdpSegment(ushort dp = 53, int payload = 4)
    {
        var s = new byte[8 + payload];
        TransportHeaderWriter.TryWriteUdpHeader(s, 5000, dp, payload, out _);
        return s;
    }

    [Fact]
    public void Ipv6_extension_chain_is_walked()
    {
        byte[] ip = Ipv6WithChain(IpProtocol.Udp, UdpSegment(), (IpProtocol.HopByHopOptions, 8), (IpProtocol.DestinationOptions, 16), (IpProtocol.Routing, 24), (IpProtocol.Ah, 24), (IpProtocol.DestinationOptions, 8));
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, ip, out DecodedPacket p), p.Error.ToString());
        Assert.Equal(IpProtocol.Udp, p.IpProtocol);
        Assert.Equal(40 + 8 + 16 + 24 + 24 + 8, p.IpPayloadOffset);
        Assert.Equal(12, p.IpPayloadLength);
        Assert.Equal(53, p.DestinationPort);
        Assert.Equal(PortClass.Dns, p.PortClass);
        Assert.Equal(4, p.PayloadLength);
    }

    [Fact]
    public void Ipv6_overlong_chain_is_refused()
    {
        var chain = Enumerable.Repeat((IpProtocol.DestinationOptions, 8), PacketDecoder.MaxExtensionHeaders + 1).ToArray();
        Assert.Equal(DecodeError.ExtensionChainTooLong, Decode(LinkType.Ipv6, Ipv6WithChain(IpProtocol.Udp, UdpSegment(), chain)));
        Assert.Equal(DecodeError.None, Decode(LinkType.Ipv6, Ipv6WithChain(IpProtocol.Udp, UdpSegment(), chain[1..])));
    }

    [Fact]
    public void Ipv6_header_pointing_to_itself_ends_at_the_bound()
    {
        // Every Destination Options header names another one: the chain "loops" until the count bound.
        var ip = new byte[40 + (8 * 200)];
        IpHeaderWriter.TryWriteIpv6Header(ip, IpAddr.Parse("2001:db8::1"), IpAddr.Parse("2001:db8::2"), IpProtocol.DestinationOptions, 8 * 200, out _);
        for (int i = 40; i < ip.Length; i += 8)
        {
            ip[i] = (byte)IpProtocol.DestinationOptions;
        }

        Assert.Equal(DecodeError.ExtensionChainTooLong, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Ipv6_hop_by_hop_must_come_first()
    {
        byte[] ip = Ipv6WithChain(IpProtocol.Udp, UdpSegment(), (IpProtocol.DestinationOptions, 8), (IpProtocol.HopByHopOptions, 8));
        Assert.Equal(DecodeError.BadExtensionHeader, Decode(LinkType.Ipv6, ip));
    }

    [Fact]
    public void Ipv6_extension_header_past_payload_is_bad()
    {
        byte[] ip = Ipv6WithChain(IpProtocol.Udp, [], (IpProtocol.DestinationOptions, 8));
        ip[41] = 3; // claims 32 bytes, 8 present
        Assert.Equal(DecodeError.BadExtensionHeader, Decode(LinkType.Ipv6, ip));
        byte[] shortHeader = Ipv6WithChain(IpProtocol.Udp, [], (IpProtocol.Routing, 8));
        BinaryPrimitives.WriteUInt16BigEndian(shortHeader.AsSpan(4), 4);
        Assert.Equal(DecodeError.BadExtensionHeader, Decode(LinkType.Ipv6, shortHeader.AsSpan(0, 44).ToArray()));
    }

    [Fact]
    public void Ipv6_esp_and_no_next_header_stop_the_walk()
    {
        byte[] esp = Ipv6WithChain(IpProtocol.Esp, [0, 0, 1, 0, 0, 0, 0, 1, 0xAA, 0xBB], (IpProtocol.DestinationOptions, 8));
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, esp, out DecodedPacket p));
        Assert.Equal(IpProtocol.Esp, p.IpProtocol);
        Assert.Equal(48, p.PayloadOffset);
        Assert.Equal(10, p.PayloadLength);
        Assert.Equal(PortClass.None, p.PortClass);

        byte[] none = Ipv6WithChain(IpProtocol.NoNextHeader, []);
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, none, out p));
        Assert.Equal(IpProtocol.NoNextHeader, p.IpProtocol);
        Assert.Equal(0, p.PayloadLength);
    }

    [Fact]
    public void Ipv6_jumbogram_is_unsupported()
    {
        byte[] ip = Ipv6WithChain(IpProtocol.Udp, UdpSegment(), (IpProtocol.HopByHopOptions, 8));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), 0);
        Assert.Equal(DecodeError.JumbogramUnsupported, Decode(LinkType.Ipv6, ip));
    }

    [Fact]
    public void Ipv6_payload_length_beyond_frame_is_truncated()
    {
        byte[] ip = TestFrames.Udp("2001:db8::1", "2001:db8::2", 1, 53);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(ip.Length - 39));
        Assert.Equal(DecodeError.Truncated, Decode(LinkType.Ipv6, ip));
    }

    [Fact]
    public void Ipv6_first_fragment_parses_transport()
    {
        var body = new byte[8 + 8 + 16];
        IpHeaderWriter.TryWriteIpv6FragmentHeader(body, IpProtocol.Udp, 0, moreFragments: true, 0xDEADBEEF, out _);
        TransportHeaderWriter.TryWriteUdpHeader(body.AsSpan(8), 5353, 5353, 1000, out _); // UDP length covers all fragments
        byte[] ip = new byte[40 + body.Length];
        IpHeaderWriter.TryWriteIpv6Header(ip, IpAddr.Parse("fe80::1"), IpAddr.Parse("ff02::fb"), IpProtocol.Fragment, body.Length, out _);
        body.CopyTo(ip, 40);

        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, ip, out DecodedPacket p), p.Error.ToString());
        Assert.True(p.IsFragment);
        Assert.True(p.MoreFragments);
        Assert.True(p.HasIpv6FragmentHeader);
        Assert.Equal(0, p.FragmentOffset);
        Assert.Equal(0xDEADBEEFu, p.FragmentId);
        Assert.Equal(48, p.FragmentPayloadOffset);
        Assert.Equal(IpProtocol.Udp, p.IpProtocol);
        Assert.Equal(PortClass.Mdns, p.PortClass);
        Assert.Equal(56, p.PayloadOffset);
        Assert.Equal(16, p.PayloadLength);
    }

    [Fact]
    public void Ipv6_later_fragment_has_no_transport()
    {
        var body = new byte[8 + 24];
        IpHeaderWriter.TryWriteIpv6FragmentHeader(body, IpProtocol.Udp, 1232, moreFragments: false, 7, out _);
        body[8] = 0xFF; // would be a bogus UDP header if read
        byte[] ip = new byte[40 + body.Length];
        IpHeaderWriter.TryWriteIpv6Header(ip, IpAddr.Parse("2001:db8::1"), IpAddr.Parse("2001:db8::2"), IpProtocol.Fragment, body.Length, out _);
        body.CopyTo(ip, 40);

        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, ip, out DecodedPacket p));
        Assert.True(p.IsFragment);
        Assert.False(p.MoreFragments);
        Assert.Equal(1232, p.FragmentOffset);
        Assert.Equal(7u, p.FragmentId);
        Assert.False(p.HasTransportHeader);
        Assert.Equal(0, p.SourcePort);
        Assert.Equal(PortClass.None, p.PortClass);
        Assert.Equal(48, p.PayloadOffset);
        Assert.Equal(24, p.PayloadLength);
        Assert.True(PacketDecoder.TryClassify(LinkType.Ipv6, ip, out FlowKey5 key, out PortClass cls));
        Assert.Equal(p.FlowKey, key);
        Assert.Equal(PortClass.None, cls);
    }

    [Fact]
    public void Ipv6_atomic_fragment_is_not_a_fragment()
    {
        // RFC 6946: offset 0 and M clear.
        var body = new byte[8 + 12];
        IpHeaderWriter.TryWriteIpv6FragmentHeader(body, IpProtocol.Udp, 0, moreFragments: false, 9, out _);
        TransportHeaderWriter.TryWriteUdpHeader(body.AsSpan(8), 1, 53, 4, out _);
        byte[] ip = new byte[40 + body.Length];
        IpHeaderWriter.TryWriteIpv6Header(ip, IpAddr.Parse("2001:db8::1"), IpAddr.Parse("2001:db8::2"), IpProtocol.Fragment, body.Length, out _);
        body.CopyTo(ip, 40);
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv6, ip, out DecodedPacket p));
        Assert.False(p.IsFragment);
        Assert.True(p.HasIpv6FragmentHeader);
        Assert.Equal(9u, p.FragmentId);
        Assert.Equal(PortClass.Dns, p.PortClass);
    }

    [Fact]
    public void Ipv4_fragments()
    {
        byte[] first = TestFrames.Udp("192.0.2.1", "192.0.2.2", 1, 53, new byte[64], new IpHeaderOptions { MoreFragments = true, Identification = 0x4242 });
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(24), 2000); // UDP length of the whole datagram
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, first, out DecodedPacket p), p.Error.ToString());
        Assert.True(p.IsFragment);
        Assert.True(p.MoreFragments);
        Assert.Equal(0, p.FragmentOffset);
        Assert.Equal(0x4242u, p.FragmentId);
        Assert.Equal(20, p.FragmentPayloadOffset);
        Assert.Equal(PortClass.Dns, p.PortClass);
        Assert.Equal(64, p.PayloadLength);

        byte[] later = TestFrames.Udp("192.0.2.1", "192.0.2.2", 1, 53, new byte[64], new IpHeaderOptions { FragmentOffset = 1480, Identification = 0x4242 });
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, later, out p));
        Assert.True(p.IsFragment);
        Assert.False(p.MoreFragments);
        Assert.Equal(1480, p.FragmentOffset);
        Assert.False(p.HasTransportHeader);
        Assert.Equal(PortClass.None, p.PortClass);
        Assert.Equal(20, p.PayloadOffset);
        Assert.Equal(72, p.PayloadLength);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Tcp_data_offset_below_five_is_bad(int dataOffset)
    {
        byte[] ip = TestFrames.Tcp("10.0.0.1", "10.0.0.2", 1, 853, TcpFlags.Ack, [1, 2, 3, 4]);
        ip[32] = (byte)(dataOffset << 4);
        Assert.Equal(DecodeError.BadTcpDataOffset, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Tcp_data_offset_beyond_packet_is_bad()
    {
        byte[] ip = TestFrames.Tcp("10.0.0.1", "10.0.0.2", 1, 853, TcpFlags.Ack, [1, 2, 3, 4]);
        ip[32] = 0xF0; // 60-byte header in a 24-byte segment
        Assert.Equal(DecodeError.BadTcpDataOffset, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Tcp_options_are_skipped()
    {
        // RFC 9293 §3.2: MSS 1460, then SACK-permitted.
        var segment = new byte[28 + 3];
        Assert.True(TransportHeaderWriter.TryWriteTcpHeader(segment, 40000, 443, 1, 0, TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr, 1024, [2, 4, 0x05, 0xB4, 4, 2], out int n));
        Assert.Equal(28, n);
        segment[28] = 0x16; // a TLS record byte
        var ip = new byte[20 + segment.Length];
        IpHeaderWriter.TryWriteIpv4Header(ip, IpAddr.Parse("10.0.0.1"), IpAddr.Parse("10.0.0.2"), IpProtocol.Tcp, segment.Length, out _);
        segment.CopyTo(ip, 20);
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv4, ip, out DecodedPacket p));
        Assert.Equal(48, p.PayloadOffset);
        Assert.Equal(3, p.PayloadLength);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr, p.TcpFlags);
        Assert.Equal(PortClass.Https, p.PortClass);
    }

    [Fact]
    public void Short_transport_headers_are_transport_truncated()
    {
        foreach (IpProtocol proto in new[] { IpProtocol.Udp, IpProtocol.Tcp, IpProtocol.Icmp })
        {
            var ip = new byte[20 + 7];
            IpHeaderWriter.TryWriteIpv4Header(ip, IpAddr.Parse("10.0.0.1"), IpAddr.Parse("10.0.0.2"), proto, 7, out _);
            Assert.Equal(DecodeError.TransportTruncated, Decode(LinkType.Raw, ip));
        }
    }

    [Theory]
    [InlineData(7)]
    [InlineData(0)]
    [InlineData(1000)]
    public void Udp_length_outside_packet_is_bad(int udpLength)
    {
        byte[] ip = Udp4();
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(24), (ushort)udpLength);
        Assert.Equal(DecodeError.BadUdpLength, Decode(LinkType.Raw, ip));
    }

    [Fact]
    public void Udp_length_shorter_than_ip_payload_bounds_the_payload()
    {
        byte[] ip = Udp4();
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(24), 12);
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, ip, out DecodedPacket p));
        Assert.Equal(4, p.PayloadLength);
    }

    [Fact]
    public void Icmp_error_points_at_quoted_packet()
    {
        // RFC 792 destination unreachable, port unreachable, quoting the DNS query.
        byte[] quoted = Udp4();
        var icmp = new byte[8 + 28];
        icmp[0] = 3;
        icmp[1] = 3;
        quoted.AsSpan(0, 28).CopyTo(icmp.AsSpan(8));
        Assert.True(Wire.Checksums.InternetChecksum.TryComputeIcmpV4(icmp, out ushort c));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), c);
        var ip = new byte[20 + icmp.Length];
        IpHeaderWriter.TryWriteIpv4Header(ip, IpAddr.Parse("198.51.100.53"), IpAddr.Parse("192.0.2.1"), IpProtocol.Icmp, icmp.Length, out _);
        icmp.CopyTo(ip, 20);
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, ip, out DecodedPacket p));
        Assert.Equal(3, p.IcmpType);
        Assert.Equal(3, p.IcmpCode);
        Assert.Equal(28, p.IcmpInnerOffset);
        Assert.Equal(Wire.Checksums.ChecksumStatus.Valid, p.VerifyTransportChecksum(ip));

        // The quote holds the IP header and 8 bytes of UDP: the addresses are there, the lengths run past it.
        Assert.False(PacketDecoder.TryDecode(LinkType.Raw, ip.AsSpan(p.IcmpInnerOffset), out DecodedPacket inner));
        Assert.Equal(DecodeError.Truncated, inner.Error);
        Assert.Equal(IpAddr.Parse("198.51.100.53"), inner.Destination);

        // ICMP echo is not an error.
        ip[20] = 8;
        ip[21] = 0;
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, ip, out p));
        Assert.Equal(-1, p.IcmpInnerOffset);
    }

    [Fact]
    public void IcmpV6_error_points_at_quoted_packet()
    {
        // RFC 4443 §3.3 time exceeded, with the checksum over the IPv6 pseudo-header.
        IpAddr src = IpAddr.Parse("2001:db8::ff");
        IpAddr dst = IpAddr.Parse("2001:db8::1");
        var icmp = new byte[8 + 48];
        icmp[0] = 3;
        TestFrames.Udp("2001:db8::1", "2001:db8::53", 1, 53).AsSpan(0, 48).CopyTo(icmp.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Wire.Checksums.InternetChecksum.ComputeTransport(src, dst, IpProtocol.IcmpV6, icmp));
        var ip = new byte[40 + icmp.Length];
        IpHeaderWriter.TryWriteIpv6Header(ip, src, dst, IpProtocol.IcmpV6, icmp.Length, out _);
        icmp.CopyTo(ip, 40);
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, ip, out DecodedPacket p));
        Assert.Equal(IpProtocol.IcmpV6, p.IpProtocol);
        Assert.Equal(3, p.IcmpType);
        Assert.Equal(48, p.IcmpInnerOffset);
        Assert.Equal(Wire.Checksums.ChecksumStatus.Valid, p.VerifyTransportChecksum(ip));
        Assert.False(PacketDecoder.TryDecode(LinkType.Raw, ip.AsSpan(p.IcmpInnerOffset, 48), out DecodedPacket inner));
        Assert.Equal(DecodeError.Truncated, inner.Error);
        Assert.Equal(IpAddr.Parse("2001:db8::53"), inner.Destination);
    }

    [Fact]
    public void Every_proper_prefix_fails_cleanly_or_decodes_consistently()
    {
        foreach ((LinkType link, byte[] frame) in TestFrames.Seeds())
        {
            Assert.True(PacketDecoder.TryDecode(link, frame, out DecodedPacket full), $"{link}: {full.Error}");
            for (int n = 0; n < frame.Length; n++)
            {
                byte[] prefix = frame.AsSpan(0, n).ToArray();
                DecodeError e = Decode(link, prefix);

                // IP lengths are authoritative, so no proper prefix of these frames (no padding) can decode.
                Assert.Equal(DecodeError.Truncated, e);
            }
        }
    }

    [Fact]
    public void Padded_frame_prefixes_down_to_the_ip_end_decode_identically()
    {
        byte[] ip = Udp4();
        byte[] frame = [.. TestFrames.Ethernet(ip), .. new byte[16]];
        Assert.True(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket full));
        for (int n = 14 + ip.Length; n <= frame.Length; n++)
        {
            Assert.True(PacketDecoder.TryDecode(LinkType.Ethernet, frame.AsSpan(0, n), out DecodedPacket p));
            Assert.Equal(full.FlowKey, p.FlowKey);
            Assert.Equal(full.PayloadOffset, p.PayloadOffset);
            Assert.Equal(full.PayloadLength, p.PayloadLength);
        }
    }

    [Fact]
    public void Random_mutations_never_throw_and_stay_in_bounds()
    {
        var rng = new Random(20240531);
        var seeds = TestFrames.Seeds().ToArray();
        LinkType[] links = [LinkType.Null, LinkType.Ethernet, LinkType.Raw, LinkType.Loop, LinkType.LinuxSll, LinkType.Ipv4, LinkType.Ipv6, LinkType.LinuxSll2];
        for (int i = 0; i < 20000; i++)
        {
            LinkType link;
            byte[] frame;
            if (i % 4 == 0)
            {
                link = links[rng.Next(links.Length)];
                frame = new byte[rng.Next(0, 120)];
                rng.NextBytes(frame);
            }
            else
            {
                (link, byte[] seed) = seeds[rng.Next(seeds.Length)];
                frame = (byte[])seed.Clone();
                int flips = rng.Next(1, 6);
                for (int k = 0; k < flips; k++)
                {
                    frame[rng.Next(frame.Length)] = (byte)rng.Next(256);
                }

                if (rng.Next(4) == 0)
                {
                    frame = frame.AsSpan(0, rng.Next(frame.Length + 1)).ToArray();
                }
            }

            bool ok = PacketDecoder.TryDecode(link, frame, out DecodedPacket p);
            Decode(link, frame);
            PacketDecoder.TryGetDestination(link, frame, out _);
            if (ok)
            {
                // Offsets must describe bytes inside the frame.
                Assert.InRange(p.PayloadOffset, 0, frame.Length);
                Assert.InRange(p.PayloadOffset + p.PayloadLength, p.PayloadOffset, frame.Length);
                Assert.InRange(p.IpPayloadOffset + p.IpPayloadLength, p.IpPayloadOffset, frame.Length);
                _ = p.Payload(frame);
                _ = p.IpPacket(frame);
                _ = p.VerifyIpv4HeaderChecksum(frame);
                _ = p.VerifyTransportChecksum(frame);
            }
        }
    }

    [Fact]
    public void TryDecode_and_TryClassify_do_not_allocate()
    {
        byte[][] frames = TestFrames.Seeds().Select(s => s.Frame).ToArray();
        LinkType[] links = TestFrames.Seeds().Select(s => s.Link).ToArray();

        // Warm up so that tiering and static initialisation are out of the measurement.
        int sink = 0;
        for (int r = 0; r < 200; r++)
        {
            sink += Run(links, frames);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < 1000; r++)
        {
            sink += Run(links, frames);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);

        static int Run(LinkType[] links, byte[][] frames)
        {
            int n = 0;
            for (int i = 0; i < frames.Length; i++)
            {
                if (PacketDecoder.TryDecode(links[i], frames[i], out DecodedPacket p))
                {
                    n += p.PayloadLength + (int)p.PortClass;
                }

                if (PacketDecoder.TryClassify(links[i], frames[i], out FlowKey5 key, out PortClass cls))
                {
                    n += key.DestinationPort + (int)cls;
                }

                if (PacketDecoder.TryGetDestination(links[i], frames[i], out IpAddr dst))
                {
                    n += (int)dst.Low;
                }
            }

            return n;
        }
    }
}
