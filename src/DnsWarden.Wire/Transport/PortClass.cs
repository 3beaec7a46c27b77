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
    public static PortClass Classify(IpProtocol protocol, ushort sourcePort, ushort destinationPort) =>
        protocol switch
        {
            IpProtocol.Tcp => ClassifyTcpUdp(true, sourcePort, destinationPort),
            IpProtocol.Udp => ClassifyTcpUdp(false, sourcePort, destinationPort),
            _ => PortClass.None,
        };

    // Each port's entry ranks its class: bits 0-3 the PortClass, bit 4 set for the destination (it wins ties),
    // bits 5-6 the family (2 = DNS family, 1 = web, 0 = other). The larger entry of the two ports is the answer.
    private const uint OtherEntry = (uint)PortClass.Other;
    private const uint DestinationTieBreak = 0x10;
    private const uint WebRank = 0x20;
    private const uint DnsRank = 0x40;

    /// <summary>
    /// 16 slots per protocol (UDP first, then TCP), indexed by <see cref="Slot"/>, which maps the seven
    /// well-known ports to distinct slots: 443→0, 80→1, 5353→2, 5355→3, 8443→6, 853→10, 53→11. An entry is
    /// the port in the high 16 bits and its rank and class in the low byte; other slots hold port 0 with the
    /// "other" entry, which is also the right answer for port 0. An array rather than an RVA span: unoptimised
    /// code (Debug, which the allocation tests run) allocates in RuntimeHelpers.CreateSpan.
    /// </summary>
    private static readonly uint[] s_table =
    [
        // UDP
        (443u << 16) | WebRank | (uint)PortClass.Quic,
        (80u << 16) | WebRank | (uint)PortClass.Quic,
        (5353u << 16) | DnsRank | (uint)PortClass.Mdns,
        (5355u << 16) | DnsRank | (uint)PortClass.Llmnr,
        OtherEntry,
        OtherEntry,
        (8443u << 16) | WebRank | (uint)PortClass.Quic,
        OtherEntry,
        OtherEntry,
        OtherEntry,
        (853u << 16) | DnsRank | (uint)PortClass.Doq,
        (53u << 16) | DnsRank | (uint)PortClass.Dns,
        OtherEntry,
        OtherEntry,
        OtherEntry,
        OtherEntry,

        // TCP
        (443u << 16) | WebRank | (uint)PortClass.Https,
        (80u << 16) | WebRank | (uint)PortClass.Http,
        (5353u << 16) | DnsRank | (uint)PortClass.Mdns,
        (5355u << 16) | DnsRank | (uint)PortClass.Llmnr,
        OtherEntry,
        OtherEntry,
        (8443u << 16) | OtherEntry,
        OtherEntry,
        OtherEntry,
        OtherEntry,
        (853u << 16) | DnsRank | (uint)PortClass.Dot,
        (53u << 16) | DnsRank | (uint)PortClass.Dns,
        OtherEntry,
        OtherEntry,
        OtherEntry,
        OtherEntry,
    ];

    /// <summary><see cref="Classify"/> for a protocol already known to be TCP or UDP; ports in the low 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static PortClass ClassifyTcpUdp(bool tcp, uint sourcePort, uint destinationPort)
    {
        ReadOnlySpan<uint> table = s_table;
        int half = tcp ? 16 : 0;
        uint d = Entry(table, half, destinationPort) | DestinationTieBreak;
        uint s = Entry(table, half, sourcePort);
        return (PortClass)(Math.Max(d, s) & 0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Entry(ReadOnlySpan<uint> table, int half, uint port)
    {
        uint e = table[(Slot(port) | half) & 31];
        return (e >> 16) == port ? e & 0xFF : OtherEntry;
    }

    /// <summary>A perfect hash of the seven well-known ports into 0..15, found by search: (port × 7) ≫ 5, low 4 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(uint port) => (int)((port * 7) >> 5) & 15;
}
