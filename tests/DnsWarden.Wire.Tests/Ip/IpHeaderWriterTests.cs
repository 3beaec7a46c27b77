using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Ip;

public sealed class IpHeaderWriterTests
{
    private static readonly IpAddr s_v4a = IpAddr.Parse("192.0.2.1");
    private static readonly IpAddr s_v4b = IpAddr.Parse("198.51.100.2");
    private static readonly IpAddr s_v6a = IpAddr.Parse("2001:db8::1");

    [Fact]
    public void Ipv4_header_round_trips_through_the_decoder()
    {
        var buffer = new byte[28];
        var options = new IpHeaderOptions { TimeToLive = 3, Identification = 0xBEEF, DontFragment = true, TrafficClass = 0xB8 };
        Assert.True(IpHeaderWriter.TryWriteIpv4Header(buffer, s_v4a, s_v4b, IpProtocol.Udp, 8, options, out int n));
        Assert.Equal(20, n);
        Assert.True(TransportHeaderWriter.TryWriteUdpHeader(buffer.AsSpan(20), 1, 53, 0, out _));
        Assert.True(PacketDecoder.TryDecode(LinkType.Ipv4, buffer, out DecodedPacket p));
        Assert.Equal(3, p.Ttl);
        Assert.Equal(0xBEEFu, p.FragmentId);
        Assert.True(p.DontFragment);
        Assert.Equal(ChecksumStatus.Valid, p.VerifyIpv4HeaderChecksum(buffer));
        Assert.Equal(0xB8, buffer[1]);
    }

    [Fact]
    public void Writers_refuse_what_does_not_fit()
    {
        var small = new byte[19];
        Assert.False(IpHeaderWriter.TryWriteIpv4Header(small, s_v4a, s_v4b, IpProtocol.Udp, 0, out int n));
        Assert.Equal(0, n);
        var buffer = new byte[64];
        Assert.False(IpHeaderWriter.TryWriteIpv4Header(buffer, s_v4a, s_v6a, IpProtocol.Udp, 0, out _));
        Assert.False(IpHeaderWriter.TryWriteIpv4Header(buffer, s_v4a, s_v4b, IpProtocol.Udp, 65516, out _));
        Assert.False(IpHeaderWriter.TryWriteIpv4Header(buffer, s_v4a, s_v4b, IpProtocol.Udp, 0, new IpHeaderOptions { FragmentOffset = 7 }, out _));
        Assert.False(IpHeaderWriter.TryWriteIpv6Header(buffer.AsSpan(0, 39), s_v6a, s_v6a, IpProtocol.Udp, 0, out _));
        Assert.False(IpHeaderWriter.TryWriteIpv6Header(buffer, s_v6a, s_v6a, IpProtocol.Udp, 65536, out _));
        Assert.False(IpHeaderWriter.TryWriteIpv6FragmentHeader(buffer, IpProtocol.Udp, 12, false, 1, out _));
        Assert.False(TransportHeaderWriter.TryWriteUdpHeader(buffer.AsSpan(0, 7), 1, 2, 0, out _));
        Assert.False(TransportHeaderWriter.TryWriteTcpHeader(buffer.AsSpan(0, 23), 1, 2, 0, 0, TcpFlags.Syn, 0, [2, 4, 5, 180], out _));
        Assert.False(TransportHeaderWriter.TryWriteTcpHeader(buffer, 1, 2, 0, 0, TcpFlags.Syn, 0, new byte[41], out _));
        Assert.False(PacketBuilder.TryWriteUdpPacket(buffer, s_v4a, s_v6a, 1, 2, [], out _));
        Assert.False(PacketBuilder.TryWriteUdpPacket(buffer.AsSpan(0, 30), s_v4a, s_v4b, 1, 2, [1, 2, 3], out _));
        Assert.False(PacketBuilder.TryWriteTcpPacket(buffer.AsSpan(0, 59), s_v6a, s_v6a, 1, 2, 0, 0, TcpFlags.Ack, 1, [], out _));
    }

    [Fact]
    public void Ipv6_header_carries_traffic_class_and_flow_label()
    {
        var buffer = new byte[40];
        Assert.True(IpHeaderWriter.TryWriteIpv6Header(buffer, s_v6a, s_v6a, IpProtocol.NoNextHeader, 0, new IpHeaderOptions { TrafficClass = 0xAB, FlowLabel = 0xCDEF1 }, out int n));
        Assert.Equal(40, n);
        Assert.Equal("6abcdef1", Convert.ToHexStringLower(buffer.AsSpan(0, 4)));
        Assert.True(PacketDecoder.TryDecode(LinkType.Raw, buffer, out DecodedPacket p));
        Assert.Equal(64, p.HopLimit);
        Assert.Equal(IpProtocol.NoNextHeader, p.IpProtocol);
    }

    [Fact]
    public void Ethernet_header_writer()
    {
        var buffer = new byte[14];
        Assert.True(PacketBuilder.TryWriteEthernetHeader(buffer, [1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], EtherType.Ipv6, out int n));
        Assert.Equal(14, n);
        Assert.Equal("0102030405060708090a0b0c86dd", Convert.ToHexStringLower(buffer));
        Assert.False(PacketBuilder.TryWriteEthernetHeader(buffer, [1, 2, 3], [7, 8, 9, 10, 11, 12], EtherType.Ipv6, out _));
    }
}
