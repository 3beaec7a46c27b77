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

    /// <summary>The plain reading of the rules in <see cref="PortClassifier.Classify"/>, to check the table against.</summary>
    private static PortClass Reference(IpProtocol protocol, ushort sourcePort, ushort destinationPort)
    {
        bool tcp = protocol == IpProtocol.Tcp;
        if (!tcp && protocol != IpProtocol.Udp)
        {
            return PortClass.None;
        }

        PortClass d = One(tcp, destinationPort);
        if (DnsFamily(d))
        {
            return d;
        }

        PortClass s = One(tcp, sourcePort);
        return DnsFamily(s) || d == PortClass.Other ? s : d;

        static bool DnsFamily(PortClass c) => c is PortClass.Dns or PortClass.Dot or PortClass.Doq or PortClass.Mdns or PortClass.Llmnr;

        static PortClass One(bool tcp, ushort port) => port switch
        {
            53 => PortClass.Dns,
            853 => tcp ? PortClass.Dot : PortClass.Doq,
            443 => tcp ? PortClass.Https : PortClass.Quic,
            80 => tcp ? PortClass.Http : PortClass.Quic,
            8443 => tcp ? PortClass.Other : PortClass.Quic,
            5353 => PortClass.Mdns,
            5355 => PortClass.Llmnr,
            _ => PortClass.Other,
        };
    }

    [Fact]
    public void Every_port_against_every_well_known_port_matches_the_reference()
    {
        ushort[] wellKnown = [0, 53, 80, 443, 853, 5353, 5355, 8443, 65535];
        foreach (IpProtocol protocol in new[] { IpProtocol.Udp, IpProtocol.Tcp, IpProtocol.Icmp })
        {
            for (int port = 0; port <= ushort.MaxValue; port++)
            {
                foreach (ushort other in wellKnown)
                {
                    Assert.Equal(Reference(protocol, (ushort)port, other), PortClassifier.Classify(protocol, (ushort)port, other));
                    Assert.Equal(Reference(protocol, other, (ushort)port), PortClassifier.Classify(protocol, other, (ushort)port));
                }
            }
        }
    }
}
