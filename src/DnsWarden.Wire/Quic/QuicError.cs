namespace DnsWarden.Wire.Quic;

/// <summary>Why a QUIC reader stopped or rejected a packet.</summary>
public enum QuicError : byte
{
    None = 0,

    /// <summary>The datagram ends inside a header field or before the declared packet length.</summary>
    Truncated,

    /// <summary>The first byte has the header form bit clear (a short header packet).</summary>
    NotLongHeader,

    /// <summary>A known version's connection ID is longer than 20 bytes (RFC 9000 §17.2).</summary>
    ConnectionIdTooLong,

    /// <summary>The version has no Initial protection known to this reader.</summary>
    UnsupportedVersion,

    /// <summary>No Initial packet among the coalesced packets of the datagram.</summary>
    NoInitialPacket,

    /// <summary>Too few bytes after the packet number offset for the header protection sample and tag (RFC 9001 §5.4.2).</summary>
    PacketTooShort,

    /// <summary>The plaintext buffer is smaller than the payload.</summary>
    BufferTooSmall,

    /// <summary>AEAD authentication failed: corrupted packet, wrong keys, or not a client Initial.</summary>
    DecryptionFailed,

    /// <summary>A frame runs past the payload or has an invalid field.</summary>
    MalformedFrame,

    /// <summary>A frame type not allowed in Initial packets stopped the frame walk (RFC 9000 §12.4).</summary>
    UnknownFrame,
}
