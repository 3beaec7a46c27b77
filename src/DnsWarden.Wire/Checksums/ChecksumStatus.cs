namespace DnsWarden.Wire.Checksums;

public enum ChecksumStatus : byte
{
    /// <summary>Not checkable: no such checksum, a fragment, or a packet that did not decode.</summary>
    NotApplicable = 0,
    Valid,
    Invalid,
    /// <summary>UDP over IPv4 with a zero checksum field: the sender computed none (RFC 768).</summary>
    Absent,
}
