namespace DnsWarden.Wire.Ip;

/// <summary>Why <see cref="Ipv6ExtensionChain.Walk"/> refused a chain; each reader maps it to its own error.</summary>
internal enum Ipv6ChainError : byte
{
    None,

    /// <summary>More than <see cref="Ipv6ExtensionChain.MaxHeaders"/> extension headers.</summary>
    TooLong,

    /// <summary>A header shorter than 8 bytes, running past the payload, or Hop-by-Hop anywhere but first.</summary>
    BadHeader,
}
