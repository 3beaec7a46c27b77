namespace DnsWarden.Wire.Quic;

/// <summary>Frame kinds that may appear in Initial packets (RFC 9000 §12.4, Table 3).</summary>
public enum QuicFrameType : byte
{
    Padding,
    Ping,
    Ack,
    Crypto,
    ConnectionClose,
}

/// <summary>One frame; offsets are relative to the payload given to <see cref="QuicFrameReader"/>.</summary>
public readonly struct QuicFrame
{
    public QuicFrameType Type { get; init; }

    /// <summary>The frame type as encoded (0x02/0x03 for ACK, 0x1c/0x1d for CONNECTION_CLOSE).</summary>
    public ulong RawType { get; init; }

    /// <summary>Where the frame starts in the payload.</summary>
    public int Offset { get; init; }

    /// <summary>Total bytes of the frame; a run of PADDING bytes is reported as one frame.</summary>
    public int Length { get; init; }

    /// <summary>CRYPTO: the offset of <see cref="DataOffset"/>'s first byte in the crypto stream.</summary>
    public ulong CryptoOffset { get; init; }

    /// <summary>CRYPTO: the data; CONNECTION_CLOSE: the reason phrase.</summary>
    public int DataOffset { get; init; }

    public int DataLength { get; init; }

    /// <summary>CONNECTION_CLOSE error code.</summary>
    public ulong ErrorCode { get; init; }

    public ReadOnlySpan<byte> GetData(ReadOnlySpan<byte> payload) => payload.Slice(DataOffset, DataLength);
}

/// <summary>
/// Walks the frames of a decrypted Initial payload (RFC 9000 §19). Stops, with <see cref="Error"/> set, at the
/// first malformed frame or at a frame type not allowed in Initial packets, since its length cannot be known.
/// </summary>
public ref struct QuicFrameReader
{
    private readonly ReadOnlySpan<byte> _payload;
    private int _position;

    public QuicFrameReader(ReadOnlySpan<byte> payload)
    {
        _payload = payload;
        _position = 0;
        Error = QuicError.None;
        UnknownFrameType = 0;
    }

    public readonly int Position => _position;

    /// <summary>None after a clean end of payload.</summary>
    public QuicError Error { get; private set; }

    /// <summary>The frame type that stopped the walk when <see cref="Error"/> is <see cref="QuicError.UnknownFrame"/>.</summary>
    public ulong UnknownFrameType { get; private set; }

    public bool TryReadNext(out QuicFrame frame)
    {
        frame = default;
        if (Error != QuicError.None || _position >= _payload.Length)
        {
            return false;
        }

        int start = _position;
        ReadOnlySpan<byte> rest = _payload.Slice(start);
        if (rest[0] == 0x00)
        {
            int run = rest.IndexOfAnyExcept((byte)0);
            int length = run < 0 ? rest.Length : run;
            _position += length;
            frame = new QuicFrame { Type = QuicFrameType.Padding, RawType = 0, Offset = start, Length = length };
            return true;
        }

        if (!QuicVarInt.TryRead(rest, out ulong type, out int p))
        {
            return Stop(QuicError.MalformedFrame);
        }

        switch (type)
        {
            case 0x01:
                _position += p;
                frame = new QuicFrame { Type = QuicFrameType.Ping, RawType = type, Offset = start, Length = p };
                return true;

            case 0x02:
            case 0x03:
                {
                    // RFC 9000 §19.3: Largest Acknowledged, ACK Delay, ACK Range Count, First ACK Range, ranges, [ECN].
                    if (!Skip(rest, ref p, 2) || !ReadVar(rest, ref p, out ulong rangeCount) || !Skip(rest, ref p, 1))
                    {
                        return Stop(QuicError.MalformedFrame);
                    }

                    // Each range is at least 2 bytes, so an absurd count fails on the bytes, not on time.
                    if (rangeCount > (ulong)(rest.Length - p) / 2)
                    {
                        return Stop(QuicError.MalformedFrame);
                    }

                    if (!Skip(rest, ref p, (int)rangeCount * 2) || (type == 0x03 && !Skip(rest, ref p, 3)))
                    {
                        return Stop(QuicError.MalformedFrame);
                    }

                    _position += p;
                    frame = new QuicFrame { Type = QuicFrameType.Ack, RawType = type, Offset = start, Length = p };
                    return true;
                }

            case 0x06:
                {
                    // RFC 9000 §19.6: Offset, Length, Crypto Data; offset + length stays below 2^62.
                    if (!ReadVar(rest, ref p, out ulong offset) || !ReadVar(rest, ref p, out ulong length) ||
                        (ulong)(rest.Length - p) < length || offset + length > QuicVarInt.MaxValue)
                    {
                        return Stop(QuicError.MalformedFrame);
                    }

                    int dataOffset = start + p;
                    p += (int)length;
                    _position += p;
                    frame = new QuicFrame
                    {
                        Type = QuicFrameType.Crypto,
                        RawType = type,
                        Offset = start,
                        Length = p,
                        CryptoOffset = offset,
                        DataOffset = dataOffset,
                        DataLength = (int)length,
                    };
                    return true;
                }

            case 0x1c:
            case 0x1d:
                {
                    // RFC 9000 §19.19: Error Code, [Frame Type for 0x1c], Reason Phrase Length, Reason Phrase.
                    if (!ReadVar(rest, ref p, out ulong errorCode) || (type == 0x1c && !Skip(rest, ref p, 1)) ||
                        !ReadVar(rest, ref p, out ulong reasonLength) || (ulong)(rest.Length - p) < reasonLength)
                    {
                        return Stop(QuicError.MalformedFrame);
                    }

                    int reasonOffset = start + p;
                    p += (int)reasonLength;
                    _position += p;
                    frame = new QuicFrame
                    {
                        Type = QuicFrameType.ConnectionClose,
                        RawType = type,
                        Offset = start,
                        Length = p,
                        ErrorCode = errorCode,
                        DataOffset = reasonOffset,
                        DataLength = (int)reasonLength,
                    };
                    return true;
                }

            default:
                UnknownFrameType = type;
                return Stop(QuicError.UnknownFrame);
        }
    }

    private bool Stop(QuicError error)
    {
        Error = error;
        return false;
    }

    private static bool ReadVar(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        if (!QuicVarInt.TryRead(span.Slice(position), out value, out int n))
        {
            return false;
        }

        position += n;
        return true;
    }

    private static bool Skip(ReadOnlySpan<byte> span, ref int position, int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (!ReadVar(span, ref position, out _))
            {
                return false;
            }
        }

        return true;
    }
}
