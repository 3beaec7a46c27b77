using System.Runtime.Versioning;
using DnsWarden.Capture.Filtering;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Tests.Filtering;

/// <summary>libpcap's compiler and matcher on frames of each link type a file can hold; its own messages for bad expressions.</summary>
[SupportedOSPlatform("linux")]
public sealed class PacketFilterTests
{
    private static readonly IpAddr s_client = IpAddr.Parse("10.1.0.2");
    private static readonly IpAddr s_server = IpAddr.Parse("10.1.0.53");

    private static byte[] Udp(ushort dport)
    {
        byte[] buffer = new byte[200];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, s_client, s_server, 40000, dport, [1, 2, 3, 4], out int n));
        return buffer[..n];
    }

    private static byte[] Tcp(ushort dport)
    {
        byte[] buffer = new byte[200];
        Assert.True(PacketBuilder.TryWriteTcpPacket(buffer, s_client, s_server, 40000, dport, 1, 0, TcpFlags.Syn, 65535, [], out int n));
        return buffer[..n];
    }

    private static byte[] Ethernet(byte[] ip) => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, .. ip];

    [Theory]
    [InlineData(LinkType.Raw)]
    [InlineData(LinkType.Ethernet)]
    public void UdpPort53_KeepsUdp53_DropsTcp53AndUdpElsewhere(LinkType link)
    {
        Assert.True(PacketFilter.TryCreate("udp port 53", out PacketFilter? filter, out string? error), error);
        using (filter)
        {
            byte[] Frame(byte[] ip) => link == LinkType.Ethernet ? Ethernet(ip) : ip;
            Assert.True(filter!.Matches(link, Frame(Udp(53)), 0));
            Assert.False(filter.Matches(link, Frame(Tcp(53)), 0));
            Assert.False(filter.Matches(link, Frame(Udp(853)), 0));
            Assert.Equal(1, filter.Kept);
            Assert.Equal(2, filter.Dropped);
            Assert.Empty(filter.Failures);
        }
    }

    [Theory]
    [InlineData("udp prt 53", "can't parse filter expression: syntax error")]
    [InlineData("port 70000", "illegal port number 70000 > 65535")]
    public void ABadExpression_IsLibpcapsOwnMessage(string expression, string message)
    {
        Assert.False(PacketFilter.TryCreate(expression, out PacketFilter? filter, out string? error));
        Assert.Null(filter);
        Assert.Equal(message, error);
    }

    [Fact]
    public void AnExpressionALinkTypeCannotTake_DropsItsFrames_AndSaysWhy()
    {
        Assert.True(PacketFilter.TryCreate("ether host 00:11:22:33:44:55", out PacketFilter? filter, out string? error), error);
        using (filter)
        {
            Assert.False(filter!.Matches(LinkType.Raw, Udp(53), 0));
            Assert.StartsWith("ethernet addresses supported only on ethernet", filter.Failures[LinkType.Raw], StringComparison.Ordinal);
        }
    }
}
