using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Frames;

/// <summary>Hand-written frames, one per link type, with every byte spelled out.</summary>
public sealed class LinkLayerVectorTests
{
    // IPv4 (RFC 791) UDP (RFC 768) DNS query for example.com A, 192.168.0.2:54321 > 192.168.0.1:53, TTL 64, id 0x1c46, DF.
    private const string Ipv4UdpDns =
        "450000391c4640004011" + "9d1a" + "c0a80002c0a80001" +
        "d43100350025" + "0000" +
        "abcd01000001000000000000076578616d706c6503636f6d0000010001";

    // IPv6 (RFC 8200) TCP (RFC 9293) SYN, [2001:db8::1]:50000 > [2001:db8::2]:443, hop limit 64, seq 1, window 64240.
    private const string Ipv6TcpSyn =
        "6000000000140640" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" +
        "c35001bb" + "00000001" + "00000000" + "5002faf0" + "00000000";

    public static TheoryData<string, LinkType, string, int, int, ushort, int> Vectors => new()
    {
        // name, link, link header hex, ip version, vlan count, outer vlan, interface index
        { "ethernet", LinkType.Ethernet, "001122334455" + "66778899aabb" + "0800", 4, 0, 0, -1 },
        { "ethernet-v6", LinkType.Ethernet, "001122334455" + "66778899aabb" + "86dd", 6, 0, 0, -1 },
        { "802.1q", LinkType.Ethernet, "001122334455" + "66778899aabb" + "8100" + "2064" + "0800", 4, 1, 100, -1 },
        { "802.1ad-qinq", LinkType.Ethernet, "001122334455" + "66778899aabb" + "88a8" + "000a" + "8100" + "0014" + "86dd", 6, 2, 10, -1 },
        { "sll", LinkType.LinuxSll, "0000" + "0001" + "0006" + "0011223344550000" + "0800", 4, 0, 0, -1 },
        { "sll-vlan", LinkType.LinuxSll, "0004" + "0001" + "0006" + "0011223344550000" + "8100" + "0005" + "86dd", 6, 1, 5, -1 },
        { "sll2", LinkType.LinuxSll2, "86dd" + "0000" + "00000007" + "0001" + "04" + "06" + "0011223344550000", 6, 0, 0, 7 },
        { "raw-v4", LinkType.Raw, "", 4, 0, 0, -1 },
        { "raw-v6", LinkType.Raw, "", 6, 0, 0, -1 },
        { "ipv4", LinkType.Ipv4, "", 4, 0, 0, -1 },
        { "ipv6", LinkType.Ipv6, "", 6, 0, 0, -1 },
        { "null-le-inet", LinkType.Null, "02000000", 4, 0, 0, -1 },
        { "null-be-inet", LinkType.Null, "00000002", 4, 0, 0, -1 },
        { "null-le-inet6-bsd", LinkType.Null, "18000000", 6, 0, 0, -1 },
        { "null-le-inet6-freebsd", LinkType.Null, "1c000000", 6, 0, 0, -1 },
        { "null-be-inet6-darwin", LinkType.Null, "0000001e", 6, 0, 0, -1 },
        { "loop-inet", LinkType.Loop, "00000002", 4, 0, 0, -1 },
        { "loop-inet6", LinkType.Loop, "00000018", 6, 0, 0, -1 },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Decodes_each_link_type(string name, LinkType link, string linkHeader, int version, int vlans, ushort outerVlan, int ifIndex)
    {
        byte[] frame = Convert.FromHexString(linkHeader + (version == 4 ? Ipv4UdpDns : Ipv6TcpSyn));
        Assert.True(PacketDecoder.TryDecode(link, frame, out DecodedPacket p), $"{name}: {p.Error}");
        Assert.Equal(DecodeError.None, p.Error);
        Assert.Equal(link, p.LinkType);
        Assert.Equal(version, p.IpVersion);
        Assert.Equal(vlans, p.VlanCount);
        Assert.Equal(outerVlan, p.OuterVlanId);
        Assert.Equal(ifIndex, p.InterfaceIndex);
        Assert.Equal(linkHeader.Length / 2, p.IpHeaderOffset);
        if (version == 4)
        {
            AssertIpv4UdpDns(p, frame);
        }
        else
        {
            AssertIpv6TcpSyn(p, frame);
        }

        Assert.True(PacketDecoder.TryClassify(link, frame, out FlowKey5 key, out PortClass cls));
        Assert.Equal(p.FlowKey, key);
        Assert.Equal(p.PortClass, cls);
        Assert.True(PacketDecoder.TryGetDestination(link, frame, out IpAddr dst));
        Assert.Equal(p.Destination, dst);
    }

    private static void AssertIpv4UdpDns(DecodedPacket p, byte[] frame)
    {
        Assert.Equal(EtherType.Ipv4, p.EtherType);
        Assert.Equal(IpAddr.Parse("192.168.0.2"), p.Source);
        Assert.Equal(IpAddr.Parse("192.168.0.1"), p.Destination);
        Assert.Equal(IpProtocol.Udp, p.IpProtocol);
        Assert.Equal(64, p.Ttl);
        Assert.Equal(0x1c46u, p.FragmentId);
        Assert.True(p.DontFragment);
        Assert.False(p.IsFragment);
        Assert.Equal(-1, p.FragmentPayloadOffset);
        Assert.Equal(p.IpHeaderOffset + 20, p.IpPayloadOffset);
        Assert.Equal(37, p.IpPayloadLength);
        Assert.Equal(54321, p.SourcePort);
        Assert.Equal(53, p.DestinationPort);
        Assert.Equal(PortClass.Dns, p.PortClass);
        Assert.Equal(p.IpPayloadOffset + 8, p.PayloadOffset);
        Assert.Equal(29, p.PayloadLength);
        Assert.Equal(Convert.FromHexString(Ipv4UdpDns[^58..]), p.Payload(frame).ToArray());
        Assert.Equal(ChecksumStatus.Valid, p.VerifyIpv4HeaderChecksum(frame));
        Assert.Equal(ChecksumStatus.Absent, p.VerifyTransportChecksum(frame));
    }

    private static void AssertIpv6TcpSyn(DecodedPacket p, byte[] frame)
    {
        Assert.Equal(EtherType.Ipv6, p.EtherType);
        Assert.Equal(IpAddr.Parse("2001:db8::1"), p.Source);
        Assert.Equal(IpAddr.Parse("2001:db8::2"), p.Destination);
        Assert.Equal(IpProtocol.Tcp, p.IpProtocol);
        Assert.Equal(64, p.HopLimit);
        Assert.False(p.IsFragment);
        Assert.Equal(50000, p.SourcePort);
        Assert.Equal(443, p.DestinationPort);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.Equal(1u, p.TcpSequence);
        Assert.Equal(0u, p.TcpAcknowledgment);
        Assert.Equal(64240, p.TcpWindow);
        Assert.Equal(PortClass.Https, p.PortClass);
        Assert.Equal(p.IpHeaderOffset + 60, p.PayloadOffset);
        Assert.Equal(0, p.PayloadLength);
        Assert.True(p.Payload(frame).IsEmpty);
        Assert.Equal(ChecksumStatus.NotApplicable, p.VerifyIpv4HeaderChecksum(frame));
        Assert.Equal(ChecksumStatus.Invalid, p.VerifyTransportChecksum(frame)); // the vector leaves the TCP checksum zero
    }

    [Fact]
    public void Arp_is_not_ip()
    {
        // RFC 826 ARP request over Ethernet.
        byte[] frame = Convert.FromHexString("ffffffffffff" + "66778899aabb" + "0806" + "0001080006040001" + "66778899aabbc0a80002" + "000000000000c0a80001");
        Assert.False(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p));
        Assert.Equal(DecodeError.NotIp, p.Error);
        Assert.Equal(EtherType.Arp, p.EtherType);
        Assert.False(PacketDecoder.TryClassify(LinkType.Ethernet, frame, out _, out _, out DecodeError e));
        Assert.Equal(DecodeError.NotIp, e);
    }

    [Fact]
    public void Ieee8023_length_field_is_not_ip()
    {
        byte[] frame = Convert.FromHexString("0180c2000000" + "66778899aabb" + "0026" + "424203000000");
        Assert.False(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p));
        Assert.Equal(DecodeError.NotIp, p.Error);
    }

    [Theory]
    [InlineData(LinkType.Null, "07000000")]
    [InlineData(LinkType.Loop, "00000007")]
    [InlineData(LinkType.LinuxSll2, "0806000000000002000100060011223344550000")]
    public void Other_families_are_not_ip(LinkType link, string header)
    {
        byte[] frame = Convert.FromHexString(header + Ipv4UdpDns);
        Assert.False(PacketDecoder.TryDecode(link, frame, out DecodedPacket p));
        Assert.Equal(DecodeError.NotIp, p.Error);
    }

    [Fact]
    public void Unknown_link_type_is_unsupported()
    {
        Assert.False(PacketDecoder.TryDecode((LinkType)127, Convert.FromHexString(Ipv4UdpDns), out DecodedPacket p));
        Assert.Equal(DecodeError.UnsupportedLinkType, p.Error);
    }

    [Theory]
    [InlineData(LinkType.Ipv4, Ipv6TcpSyn)]
    [InlineData(LinkType.Ipv6, Ipv4UdpDns)]
    public void Link_type_and_version_nibble_must_agree(LinkType link, string ip)
    {
        Assert.False(PacketDecoder.TryDecode(link, Convert.FromHexString(ip), out DecodedPacket p));
        Assert.Equal(DecodeError.BadIpVersion, p.Error);
    }

    [Fact]
    public void Ethertype_and_version_nibble_must_agree()
    {
        byte[] frame = Convert.FromHexString("001122334455" + "66778899aabb" + "86dd" + Ipv4UdpDns);
        Assert.False(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p));
        Assert.Equal(DecodeError.BadIpVersion, p.Error);
    }

    [Fact]
    public void Ethernet_padding_is_trimmed()
    {
        // A 28-byte IPv4/UDP packet padded to the 60-byte Ethernet minimum.
        byte[] ip = TestFrames.Udp("10.0.0.1", "10.0.0.2", 1234, 53, []);
        byte[] frame = [.. TestFrames.Ethernet(ip), .. new byte[60 - 14 - ip.Length]];
        Assert.True(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p));
        Assert.Equal(8, p.IpPayloadLength);
        Assert.Equal(0, p.PayloadLength);
        Assert.Equal(ip.Length, p.IpPacket(frame).Length);
        Assert.Equal(ChecksumStatus.Valid, p.VerifyTransportChecksum(frame));
    }
}
