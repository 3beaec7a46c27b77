using System.Globalization;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard;

/// <summary>How the jail and the TUN filter name a refused packet at exit: <c>refused unresolved tcp 203.0.113.9:80 ×3</c>.</summary>
public static class RefusalText
{
    public static string ProtocolName(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Icmp => "icmp",
        IpProtocol.IcmpV6 => "icmpv6",
        _ => ((int)protocol).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>One group of refusals; IPv6 destinations in brackets; an inbound one names who sent it.</summary>
    public static string Line(string prefix, string kind, string protocol, string destination, int port, long count, string? source = null) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{prefix}refused {kind} {protocol} {(source is null ? "" : "from " + source + " to ")}{(destination.Contains(':', StringComparison.Ordinal) ? "[" + destination + "]" : destination)}:{port} ×{count}");
}
