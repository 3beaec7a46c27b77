namespace DnsWarden.Wire.Quic;

/// <summary>QUIC version numbers this reader knows.</summary>
public static class QuicVersion
{
    /// <summary>Version Negotiation packets carry version 0 (RFC 9000 §17.2.1).</summary>
    public const uint Negotiation = 0;

    /// <summary>RFC 9000.</summary>
    public const uint V1 = 0x0000_0001;

    /// <summary>RFC 9369 §3.1.</summary>
    public const uint V2 = 0x6b33_43cf;

    /// <summary>draft-ietf-quic-transport-29, still seen from older stacks.</summary>
    public const uint Draft29 = 0xff00_001d;

    /// <summary>True for the versions whose Initial packets this reader can decrypt.</summary>
    public static bool IsSupported(uint version) => version is V1 or V2 or Draft29;
}

/// <summary>Long header packet types, already mapped from the version-specific type bits.</summary>
public enum QuicPacketType : byte
{
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    VersionNegotiation,

    /// <summary>A version this reader does not know; only the version-invariant fields (RFC 8999 §5.1) are set.</summary>
    UnknownVersion,
}
