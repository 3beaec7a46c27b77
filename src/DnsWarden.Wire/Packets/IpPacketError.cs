namespace DnsWarden.Wire.Packets;

/// <summary>Why <see cref="IpPacket.TryRead(ReadOnlySpan{byte}, out IpPacketInfo, out IpPacketError)"/> refused a packet, so a filter can count drops by cause.</summary>
public enum IpPacketError : byte
{
    None = 0,

    /// <summary>Zero bytes.</summary>
    Empty,

    /// <summary>The version nibble is neither 4 nor 6.</summary>
    BadVersion,

    /// <summary>Fewer bytes than the fixed IP header (20 or 40), or than the IPv4 IHL says.</summary>
    TruncatedHeader,

    /// <summary>IPv4 IHL below 5 (RFC 791 §3.1).</summary>
    BadHeaderLength,

    /// <summary>IPv4 total length below the header length (RFC 791 §3.1).</summary>
    BadTotalLength,

    /// <summary>The IPv4 total length or IPv6 payload length claims more bytes than the span holds.</summary>
    TruncatedPacket,

    /// <summary>IPv6 payload length 0 with Hop-by-Hop options, a jumbogram (RFC 2675); never seen on a TUN.</summary>
    JumbogramUnsupported,

    /// <summary>More IPv6 extension headers than <see cref="IpPacket.MaxExtensionHeaders"/>.</summary>
    ExtensionChainTooLong,

    /// <summary>An IPv6 extension header runs past the payload, or Hop-by-Hop is not first (RFC 8200 §4.1, §4.3).</summary>
    BadExtensionHeader,

    /// <summary>The IP payload is shorter than the fixed transport header (UDP 8, TCP 20, ICMP 8).</summary>
    TruncatedTransport,

    /// <summary>UDP length below 8 or beyond the IP payload of an unfragmented datagram (RFC 768).</summary>
    BadUdpLength,

    /// <summary>TCP data offset below 5 words or beyond the IP payload (RFC 9293 §3.1).</summary>
    BadTcpDataOffset,
}
