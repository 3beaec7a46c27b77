using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace DnsWarden.Wire.Quic;

/// <summary>Variable-length integers, RFC 9000 §16: the two high bits give the length 1, 2, 4 or 8.</summary>
public static class QuicVarInt
{
    public const ulong MaxValue = (1UL << 62) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> src, out ulong value, out int bytesConsumed)
    {
        if (src.IsEmpty)
        {
            value = 0;
            bytesConsumed = 0;
            return false;
        }

        int length = 1 << (src[0] >> 6);
        if (src.Length < length)
        {
            value = 0;
            bytesConsumed = 0;
            return false;
        }

        value = length switch
        {
            1 => (ulong)(src[0] & 0x3F),
            2 => (ulong)(BinaryPrimitives.ReadUInt16BigEndian(src) & 0x3FFF),
            4 => BinaryPrimitives.ReadUInt32BigEndian(src) & 0x3FFF_FFFFu,
            _ => BinaryPrimitives.ReadUInt64BigEndian(src) & MaxValue,
        };
        bytesConsumed = length;
        return true;
    }

    public static int GetEncodedLength(ulong value) => value switch
    {
        <= 0x3F => 1,
        <= 0x3FFF => 2,
        <= 0x3FFF_FFFF => 4,
        _ => 8,
    };

    /// <summary>Writes the shortest encoding; false when the value exceeds 2^62-1 or the span is short.</summary>
    public static bool TryWrite(Span<byte> dst, ulong value, out int bytesWritten)
    {
        bytesWritten = 0;
        if (value > MaxValue)
        {
            return false;
        }

        int length = GetEncodedLength(value);
        if (dst.Length < length)
        {
            return false;
        }

        switch (length)
        {
            case 1:
                dst[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16BigEndian(dst, (ushort)(value | 0x4000));
                break;
            case 4:
                BinaryPrimitives.WriteUInt32BigEndian(dst, (uint)value | 0x8000_0000u);
                break;
            default:
                BinaryPrimitives.WriteUInt64BigEndian(dst, value | 0xC000_0000_0000_0000UL);
                break;
        }

        bytesWritten = length;
        return true;
    }
}
