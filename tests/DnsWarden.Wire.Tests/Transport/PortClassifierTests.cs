using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Transport;

public sealed class PortClassifierTests
{
    [Theory]
    [InlineData(IpProtocol.Udp, 40000, 53, PortClass.Dns)]
    [InlineData(IpProtocol.Udp, 53, 40000, PortClass.Dns)]
    [InlineData(IpProtocol.Tcp, 40000, 53, PortClass.Dns)]
    [InlineData(IpProtocol.Tcp, 40000, 853, PortClass.Dot)]
    [InlineData(IpProtocol.Udp, 853, 40000, PortClass.Doq)]
    [InlineData(IpProtocol.Tcp, 443, 40000, PortClass.Https)]
    [InlineData(IpProtocol.Udp, 40000, 443, PortClass.Quic)]
    [InlineData(IpProtocol.Udp, 40000, 80, PortClass.Quic)]
    [InlineData(IpProtocol.Udp, 40000, 8443, PortClass.Quic)]
    [InlineData(IpProtocol.Tcp, 40000, 8443, PortClass.Other)]
    [InlineData(IpProtocol.Tcp, 40000, 80, PortClass.Http)]
    [InlineData(IpProtocol.Udp, 5353, 5353, PortClass.Mdns)]
    [InlineData(IpProtocol.Udp, 40000, 5355, PortClass.Llmnr)]
    [InlineData(IpProtocol.Udp, 40000, 40001, PortClass.Other)]
    [InlineData(IpProtocol.Icmp, 0, 53, PortClass.None)]
    [InlineData(IpProtocol.Sctp, 53, 53, PortClass.None)]
    // DNS family wins over web whichever side it is on; the destination breaks other ties.
    [InlineData(IpProtocol.Tcp, 53, 443, PortClass.Dns)]
    [InlineData(IpProtocol.Tcp, 443, 853, PortClass.Dot)]
    [InlineData(IpProtocol.Tcp, 443, 80, PortClass.Http)]
    [InlineData(IpProtocol.Tcp, 80, 443, PortClass.Https)]
    [InlineData(IpProtocol.Udp, 53, 5353, PortClass.Mdns)]
    public void Classifies(IpProtocol protocol, ushort sourcePort, ushort destinationPort, PortClass expected) =>
        Assert.Equal(expected, PortClassifier.Classify(protocol, sourcePort, destinationPort));
}
