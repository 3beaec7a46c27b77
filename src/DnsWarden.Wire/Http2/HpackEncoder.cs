using System.Buffers;
using System.Text;

namespace DnsWarden.Wire.Http2;

/// <summary>
/// The minimal HPACK encoder the proxy needs (RFC 7541): every field a literal without indexing (§6.2.2), its name a
/// static-table reference when the table has it, no Huffman. It never touches a dynamic table, so the receiver's table
/// stays empty and cannot depend on which fields or requests the proxy dropped.
/// </summary>
public static class HpackEncoder
{
    /// <summary>Appends the block for <paramref name="fields"/> to <paramref name="destination"/>.</summary>
    public static void Encode(IEnumerable<HpackField> fields, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(destination);
        foreach (HpackField f in fields)
        {
            int nameIndex = HpackStaticTable.IndexOfName(f.Name);
            int most = 12 + f.Name.Length + f.Value.Length;
            Span<byte> span = destination.GetSpan(most);
            int n = WriteInteger(span, 0x00, 4, nameIndex);
            if (nameIndex == 0)
            {
                n += WriteString(span[n..], f.Name);
            }

            n += WriteString(span[n..], f.Value);
            destination.Advance(n);
        }
    }

    /// <summary>RFC 7541 §5.1: <paramref name="value"/> in an N-bit prefix after the pattern bits of <paramref name="first"/>.</summary>
    private static int WriteInteger(Span<byte> destination, byte first, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            destination[0] = (byte)(first | value);
            return 1;
        }

        destination[0] = (byte)(first | max);
        int n = 1;
        value -= max;
        while (value >= 0x80)
        {
            destination[n++] = (byte)((value & 0x7F) | 0x80);
            value >>= 7;
        }

        destination[n++] = (byte)value;
        return n;
    }

    private static int WriteString(Span<byte> destination, string s)
    {
        int n = WriteInteger(destination, 0x00, 7, s.Length);
        return n + Encoding.Latin1.GetBytes(s, destination[n..]);
    }
}
