namespace DnsWarden.Wire.Quic;

/// <summary>What <see cref="QuicInitialDecryptor.TryDecryptClientInitial"/> found.</summary>
public readonly struct QuicInitialResult
{
    /// <summary>Where the Initial packet starts in the datagram; <see cref="Header"/> offsets are relative to it.</summary>
    public int PacketOffset { get; init; }

    public QuicLongHeader Header { get; init; }

    /// <summary>The first byte with header protection removed.</summary>
    public byte UnprotectedFirstByte { get; init; }

    /// <summary>The truncated packet number; for a connection's first packets it equals the full number.</summary>
    public uint PacketNumber { get; init; }

    public int PacketNumberLength { get; init; }

    /// <summary>Decrypted frame bytes at the start of the caller's plaintext buffer.</summary>
    public int PlaintextLength { get; init; }

    /// <summary>RFC 9000 §17.2: the reserved bits must be 0 once protection is removed; set means a protocol violation.</summary>
    public bool ReservedBitsSet { get; init; }

    public int CryptoFrameCount { get; init; }

    public bool HasAck { get; init; }

    public bool HasPing { get; init; }

    public bool HasConnectionClose { get; init; }

    /// <summary>None when every frame parsed; otherwise why the frame walk stopped.</summary>
    public QuicError FrameError { get; init; }

    /// <summary>The Version field.</summary>
    public uint Version => Header.Version;
}
