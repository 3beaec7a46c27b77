namespace DnsWarden.Wire.Quic;

/// <summary>
/// A parsed QUIC long header (RFC 9000 §17.2). Offsets are relative to the span given to
/// <see cref="QuicPacket.TryReadLongHeader(ReadOnlySpan{byte}, out QuicLongHeader, out QuicError)"/>.
/// </summary>
public readonly struct QuicLongHeader
{
    /// <summary>The first byte as on the wire; its low 4 bits are still header-protected.</summary>
    public byte FirstByte { get; init; }

    public uint Version { get; init; }

    public QuicPacketType PacketType { get; init; }

    /// <summary>
    /// The fixed bit (0x40). RFC 9287 lets peers grease it, so a clear bit is reported, not rejected.
    /// </summary>
    public bool FixedBit => (FirstByte & 0x40) != 0;

    public int DestinationConnectionIdOffset { get; init; }

    public int DestinationConnectionIdLength { get; init; }

    public int SourceConnectionIdOffset { get; init; }

    public int SourceConnectionIdLength { get; init; }

    /// <summary>Initial: the token; Retry: the retry token (before the 16-byte integrity tag). 0 length otherwise.</summary>
    public int TokenOffset { get; init; }

    public int TokenLength { get; init; }

    /// <summary>The Length field: packet number plus protected payload. 0 for Retry and Version Negotiation.</summary>
    public int Length { get; init; }

    /// <summary>Where the (protected) packet number starts; 0 for packets without one.</summary>
    public int PacketNumberOffset { get; init; }

    /// <summary>
    /// Bytes this packet occupies; the next coalesced packet (RFC 9000 §12.2) starts here. Retry, Version
    /// Negotiation and unknown-version packets run to the end of the datagram.
    /// </summary>
    public int PacketLength { get; init; }

    public ReadOnlySpan<byte> GetDestinationConnectionId(ReadOnlySpan<byte> packet) =>
        packet.Slice(DestinationConnectionIdOffset, DestinationConnectionIdLength);

    public ReadOnlySpan<byte> GetSourceConnectionId(ReadOnlySpan<byte> packet) =>
        packet.Slice(SourceConnectionIdOffset, SourceConnectionIdLength);

    public ReadOnlySpan<byte> GetToken(ReadOnlySpan<byte> packet) => packet.Slice(TokenOffset, TokenLength);
}
