namespace DnsWarden.Wire.Packets;

/// <summary>The destination-unreachable code <see cref="IpReplyWriter.TryWriteUnreachable"/> sends.</summary>
public enum UnreachableKind : byte
{
    /// <summary>ICMP type 3 code 3 (RFC 792); ICMPv6 type 1 code 4 (RFC 4443 §3.1).</summary>
    PortUnreachable = 0,

    /// <summary>ICMP type 3 code 13 (RFC 1812 §5.2.7.1); ICMPv6 type 1 code 1 (RFC 4443 §3.1).</summary>
    AdministrativelyProhibited = 1,
}
