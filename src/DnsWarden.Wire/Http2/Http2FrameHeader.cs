using System.Buffers.Binary;

namespace DnsWarden.Wire.Http2;

/// <summary>
/// The 9-byte header of an HTTP/2 frame (RFC 9113 §4.1): a 24-bit payload length, type, flags, and a 31-bit stream
/// identifier (the reserved bit is ignored on read, zero on write). Hand-written, as the rest of this folder: no
/// maintained library exposes HTTP/2 framing outside an HTTP client or server.
/// </summary>
public readonly record struct Http2FrameHeader(int Length, Http2FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value and the least a peer may set (RFC 9113 §6.5.2).</summary>
    public const int DefaultMaxFrameSize = 16384;

    /// <summary>The client connection preface (RFC 9113 §3.4), before its first SETTINGS frame.</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public const byte FlagEndStream = 0x1;
    public const byte FlagAck = 0x1;
    public const byte FlagEndHeaders = 0x4;
    public const byte FlagPadded = 0x8;
    public const byte FlagPriority = 0x20;

    public bool Has(byte flag) => (Flags & flag) != 0;

    /// <summary>False when fewer than <see cref="Size"/> bytes are given.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out Http2FrameHeader header)
    {
        if (source.Length < Size)
        {
            header = default;
            return false;
        }

        int length = (source[0] << 16) | (source[1] << 8) | source[2];
        int stream = (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7FFF_FFFF);
        header = new Http2FrameHeader(length, (Http2FrameType)source[3], source[4], stream);
        return true;
    }

    /// <summary>Writes the 9 bytes; false when the destination is short or a field does not fit its width.</summary>
    public bool TryWrite(Span<byte> destination)
    {
        if (destination.Length < Size || Length is < 0 or > 0xFF_FFFF || StreamId < 0)
        {
            return false;
        }

        destination[0] = (byte)(Length >> 16);
        destination[1] = (byte)(Length >> 8);
        destination[2] = (byte)Length;
        destination[3] = (byte)Type;
        destination[4] = Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)StreamId);
        return true;
    }

    /// <summary>
    /// The header block fragment of a HEADERS payload (RFC 9113 §6.2): padding and the priority fields cut away. False
    /// when the pad length or the priority fields do not fit the payload (a PROTOCOL_ERROR).
    /// </summary>
    public bool TryGetHeaderBlockFragment(ReadOnlySpan<byte> payload, out Range fragment)
    {
        fragment = default;
        int start = 0;
        int pad = 0;
        if (Has(FlagPadded))
        {
            if (payload.Length < 1)
            {
                return false;
            }

            pad = payload[0];
            start = 1;
        }

        if (Type == Http2FrameType.Headers && Has(FlagPriority))
        {
            start += 5;
        }

        if (start + pad > payload.Length)
        {
            return false;
        }

        fragment = start..(payload.Length - pad);
        return true;
    }
}
