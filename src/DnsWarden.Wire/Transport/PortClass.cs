using System.Runtime.CompilerServices;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Transport;

/// <summary>What a TCP/UDP port pair suggests the flow is, as far as DNS-leak observation cares.</summary>
public enum PortClass : byte
{
    /// <summary>No ports: not TCP/UDP, or a non-first fragment.</summary>
    None = 0,
    /// <summary>Port 53, UDP or TCP (RFC 1035 §4.2).</summary>
    Dns,
    /// <summary>DNS over TLS, TCP 853 (RFC 7858 §3.1).</summary>
    Dot,
    /// <summary>DNS over QUIC, UDP 853 (RFC 9250 §4.1.1).</summary>
    Doq,
    /// <summary>TCP 443: HTTPS, and so possibly DoH.</summary>
    Https,
    /// <summary>UDP 443 / 80 / 8443: QUIC, and so possibly DoH3.</summary>
    Quic,
    /// <summary>TCP 80.</summary>
    Http,
    /// <summary>Multicast DNS, port 5353 (RFC 6762 §3).</summary>
    Mdns,
    /// <summary>LLMNR, port 5355 (RFC 4795 §2).</summary>
    Llmnr,
    /// <summary>TCP or UDP on some other port pair.</summary>
    Other,
}

/// <summary>Maps a protocol and port pair to a <see cref="PortClass"/>.</summary>
public static class PortClassifier
{
    /// <summary>
    /// Classifies by either port. When both ports name a class, the DNS family (DNS, DoT, DoQ, mDNS, LLMNR)
    /// wins over the web family, and the destination port wins a tie, because a resolver talking from a
    /// well-known port to 443 is still DNS traffic as far as leak detection goes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PortClass Classify(IpProtocol protocol, ushort sourcePort, ushort destinationPort)
    {
        bool tcp = protocol == IpProtocol.Tcp;
        if (!tcp && protocol != IpProtocol.Udp)
        {
            return PortClass.None;
        }

        PortClass d = ClassifyPort(tcp, destinationPort);
        if (IsDnsFamily(d))
        {
            return d;
        }

        PortClass s = ClassifyPort(tcp, sourcePort);
        if (IsDnsFamily(s) || d == PortClass.Other)
        {
            return s;
        }

        return d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDnsFamily(PortClass c) =>
        c is PortClass.Dns or PortClass.Dot or PortClass.Doq or PortClass.Mdns or PortClass.Llmnr;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PortClass ClassifyPort(bool tcp, ushort port) => port switch
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
