using System.Buffers.Binary;

namespace DnsWarden.Wire.Quic;

/// <summary>Reads QUIC long headers (RFC 9000 §17.2, RFC 9369 §3.2) without allocating.</summary>
public static class QuicPacket
{
    public const byte HeaderFormBit = 0x80;
    public const byte FixedBitMask = 0x40;

    /// <summary>RFC 9000 §17.2: version 1 connection IDs are at most 20 bytes.</summary>
    public const int MaxConnectionIdLength = 20;

    /// <summary>RFC 9001 §5.8: the Retry integrity tag.</summary>
    public const int RetryIntegrityTagLength = 16;

    /// <summary>RFC 9000 §14.1: a client's datagrams carrying Initial packets are padded to at least 1200 bytes.</summary>
    public const int MinClientInitialDatagramLength = 1200;

    public static bool TryReadLongHeader(ReadOnlySpan<byte> datagram, out QuicLongHeader header) =>
        TryReadLongHeader(datagram, out header, out _);

    /// <summary>
    /// Parses the long header at the start of <paramref name="datagram"/> (or of a coalesced packet within it).
    /// Unknown versions succeed with <see cref="QuicPacketType.UnknownVersion"/> and only the invariant fields.
    /// </summary>
    public static bool TryReadLongHeader(ReadOnlySpan<byte> datagram, out QuicLongHeader header, out QuicError error)
    {
        header = default;
        ReadOnlySpan<byte> d = datagram;
        if (d.IsEmpty)
        {
            return Fail(QuicError.Truncated, out error);
        }

        byte first = d[0];
        if ((first & HeaderFormBit) == 0)
        {
            return Fail(QuicError.NotLongHeader, out error);
        }

        // RFC 8999 §5.1: first byte, version, DCID length + DCID, SCID length + SCID.
        if (d.Length < 6)
        {
            return Fail(QuicError.Truncated, out error);
        }

        uint version = BinaryPrimitives.ReadUInt32BigEndian(d.Slice(1));
        bool known = QuicVersion.IsSupported(version);
        int p = 5;
        int dcidLength = d[p++];
        if (known && dcidLength > MaxConnectionIdLength)
        {
            return Fail(QuicError.ConnectionIdTooLong, out error);
        }

        if (d.Length - p < dcidLength + 1)
        {
            return Fail(QuicError.Truncated, out error);
        }

        int dcidOffset = p;
        p += dcidLength;
        int scidLength = d[p++];
        if (known && scidLength > MaxConnectionIdLength)
        {
            return Fail(QuicError.ConnectionIdTooLong, out error);
        }

        if (d.Length - p < scidLength)
        {
            return Fail(QuicError.Truncated, out error);
        }

        int scidOffset = p;
        p += scidLength;

        QuicPacketType type = version == QuicVersion.Negotiation
            ? QuicPacketType.VersionNegotiation
            : known ? MapType(version, (first >> 4) & 0x3) : QuicPacketType.UnknownVersion;

        int tokenOffset = 0;
        int tokenLength = 0;
        int length = 0;
        int pnOffset = 0;
        int packetLength = d.Length;

        switch (type)
        {
            case QuicPacketType.Initial:
            case QuicPacketType.ZeroRtt:
            case QuicPacketType.Handshake:
                if (type == QuicPacketType.Initial)
                {
                    if (!QuicVarInt.TryRead(d.Slice(p), out ulong tl, out int n1))
                    {
                        return Fail(QuicError.Truncated, out error);
                    }

                    p += n1;
                    if ((ulong)(d.Length - p) < tl)
                    {
                        return Fail(QuicError.Truncated, out error);
                    }

                    tokenOffset = p;
                    tokenLength = (int)tl;
                    p += tokenLength;
                }

                if (!QuicVarInt.TryRead(d.Slice(p), out ulong len, out int n2))
                {
                    return Fail(QuicError.Truncated, out error);
                }

                p += n2;
                if ((ulong)(d.Length - p) < len)
                {
                    return Fail(QuicError.Truncated, out error);
                }

                length = (int)len;
                pnOffset = p;
                packetLength = p + length;
                break;

            case QuicPacketType.Retry:
                if (d.Length - p < RetryIntegrityTagLength)
                {
                    return Fail(QuicError.Truncated, out error);
                }

                tokenOffset = p;
                tokenLength = d.Length - p - RetryIntegrityTagLength;
                break;

            default:
                break;
        }

        header = new QuicLongHeader
        {
            FirstByte = first,
            Version = version,
            PacketType = type,
            DestinationConnectionIdOffset = dcidOffset,
            DestinationConnectionIdLength = dcidLength,
            SourceConnectionIdOffset = scidOffset,
            SourceConnectionIdLength = scidLength,
            TokenOffset = tokenOffset,
            TokenLength = tokenLength,
            Length = length,
            PacketNumberOffset = pnOffset,
            PacketLength = packetLength,
        };
        error = QuicError.None;
        return true;
    }

    /// <summary>A long header of a known version with the Initial type and a sane Length; no decryption.</summary>
    public static bool IsLikelyQuicInitial(ReadOnlySpan<byte> datagram) =>
        TryReadLongHeader(datagram, out QuicLongHeader h, out _) && h.PacketType == QuicPacketType.Initial;

    /// <summary>
    /// RFC 9000 §17.2 type bits: Initial 0, 0-RTT 1, Handshake 2, Retry 3. RFC 9369 §3.2 permutes them for
    /// version 2: Retry 0, Initial 1, 0-RTT 2, Handshake 3.
    /// </summary>
    public static QuicPacketType MapType(uint version, int typeBits)
    {
        if (version == QuicVersion.V2)
        {
            typeBits = (typeBits + 3) & 0x3;
        }

        return typeBits switch
        {
            0 => QuicPacketType.Initial,
            1 => QuicPacketType.ZeroRtt,
            2 => QuicPacketType.Handshake,
            _ => QuicPacketType.Retry,
        };
    }

    private static bool Fail(QuicError reason, out QuicError error)
    {
        error = reason;
        return false;
    }
}
