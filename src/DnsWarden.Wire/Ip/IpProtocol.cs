namespace DnsWarden.Wire.Ip;

/// <summary>IP protocol / IPv6 next-header numbers (IANA "Assigned Internet Protocol Numbers").</summary>
public enum IpProtocol : byte
{
    HopByHopOptions = 0,
    Icmp = 1,
    Igmp = 2,
    IpInIp = 4,
    Tcp = 6,
    Udp = 17,
    Ipv6 = 41,
    Routing = 43,
    Fragment = 44,
    Gre = 47,
    Esp = 50,
    Ah = 51,
    IcmpV6 = 58,
    NoNextHeader = 59,
    DestinationOptions = 60,
    Sctp = 132,
    Mobility = 135,
    Hip = 139,
    Shim6 = 140,
}
