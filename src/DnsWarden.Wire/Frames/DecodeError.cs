namespace DnsWarden.Wire.Frames;

/// <summary>Why <see cref="PacketDecoder"/> refused a frame, so callers can count observations by cause.</summary>
public enum DecodeError : byte
{
    None = 0,
    /// <summary>The captured bytes end before a header or before the length the IP header claims.</summary>
    Truncated,
    UnsupportedLinkType,
    /// <summary>A well-formed frame that does not carry IP (ARP, LLC, other address families): count it, it is not malformed.</summary>
    NotIp,
    /// <summary>The IP version nibble is not 4/6, or disagrees with the EtherType or link type.</summary>
    BadIpVersion,
    /// <summary>IPv4 IHL below 5 (RFC 791 §3.1).</summary>
    BadIhl,
    /// <summary>IPv4 total length below the header length (RFC 791 §3.1).</summary>
    BadTotalLength,
    /// <summary>More IPv6 extension headers than <see cref="PacketDecoder.MaxExtensionHeaders"/>.</summary>
    ExtensionChainTooLong,
    /// <summary>An IPv6 extension header runs past the payload length, or Hop-by-Hop is not first (RFC 8200 §4.1).</summary>
    BadExtensionHeader,
    /// <summary>IPv6 jumbogram (RFC 2675): payload length 0 with Hop-by-Hop options; not supported.</summary>
    JumbogramUnsupported,
    /// <summary>More stacked VLAN tags than <see cref="PacketDecoder.MaxVlanTags"/>.</summary>
    TooManyVlanTags,
    /// <summary>The IP payload is shorter than the fixed transport header (UDP 8, TCP 20, ICMP 8).</summary>
    TransportTruncated,
    /// <summary>UDP length below 8 or beyond the IP payload (RFC 768).</summary>
    BadUdpLength,
    /// <summary>TCP data offset below 5 or beyond the IP payload (RFC 9293 §3.1).</summary>
    BadTcpDataOffset,
}
