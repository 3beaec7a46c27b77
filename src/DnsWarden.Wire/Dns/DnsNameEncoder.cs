using System.Numerics;

namespace DnsWarden.Wire.Dns;

/// <summary>Turns dotted presentation text into uncompressed wire labels (RFC 1035 §5.1 escapes).</summary>
internal static class DnsNameEncoder
{
    /// <summary>
    /// Encodes "www.example.com", "www.example.com." or "." into length-prefixed labels plus the root
    /// byte. <c>\X</c> and <c>\DDD</c> escapes are honoured; chars above 0x7F are refused (names must
    /// be A-labels), UTF-8 input bytes above 0x7F are taken as raw octets.
    /// </summary>
    public static bool TryEncode<T>(ReadOnlySpan<T> text, Span<byte> destination, out int bytesWritten, out int labelCount, out DnsError error)
        where T : unmanaged, IBinaryInteger<T>
    {
        bytesWritten = 0;
        labelCount = 0;
        bool isChar = typeof(T) == typeof(char);
        if (text.IsEmpty || (text.Length == 1 && int.CreateTruncating(text[0]) == '.'))
        {
            if (destination.IsEmpty)
            {
                error = DnsError.BufferTooSmall;
                return false;
            }

            destination[0] = 0;
            bytesWritten = 1;
            error = DnsError.None;
            return true;
        }

        int lengthPos = 0;
        int labelLength = 0;
        int i = 0;
        while (i < text.Length)
        {
            int c = int.CreateTruncating(text[i]);
            if (c == '.')
            {
                if (labelLength == 0)
                {
                    error = DnsError.BadNameText;
                    return false;
                }

                destination[lengthPos] = (byte)labelLength;
                labelCount++;
                lengthPos += 1 + labelLength;
                labelLength = 0;
                i++;
                continue;
            }

            int value;
            if (c == '\\')
            {
                if (!TryReadEscape(text, i, isChar, out value, out int used))
                {
                    error = DnsError.BadNameText;
                    return false;
                }

                i += used;
            }
            else
            {
                if (isChar && c > 0x7F)
                {
                    error = DnsError.BadNameText;
                    return false;
                }

                value = c;
                i++;
            }

            labelLength++;
            if (labelLength > DnsName.MaxLabelLength)
            {
                error = DnsError.LabelTooLong;
                return false;
            }

            int at = lengthPos + labelLength;

            // The root byte must still fit after this octet (RFC 1035 §2.3.4).
            if (at + 1 >= DnsName.MaxWireLength)
            {
                error = DnsError.NameTooLong;
                return false;
            }

            if (at >= destination.Length)
            {
                error = DnsError.BufferTooSmall;
                return false;
            }

            destination[at] = (byte)value;
        }

        if (labelLength > 0)
        {
            destination[lengthPos] = (byte)labelLength;
            labelCount++;
            lengthPos += 1 + labelLength;
        }

        if (lengthPos >= destination.Length)
        {
            error = DnsError.BufferTooSmall;
            return false;
        }

        destination[lengthPos] = 0;
        bytesWritten = lengthPos + 1;
        error = DnsError.None;
        return true;
    }

    private static bool TryReadEscape<T>(ReadOnlySpan<T> text, int i, bool isChar, out int value, out int used)
        where T : unmanaged, IBinaryInteger<T>
    {
        value = 0;
        used = 0;
        if (i + 1 >= text.Length)
        {
            return false;
        }

        int next = int.CreateTruncating(text[i + 1]);
        if (next is >= '0' and <= '9')
        {
            if (i + 3 >= text.Length)
            {
                return false;
            }

            int d2 = int.CreateTruncating(text[i + 2]);
            int d3 = int.CreateTruncating(text[i + 3]);
            if (d2 is < '0' or > '9' || d3 is < '0' or > '9')
            {
                return false;
            }

            value = ((next - '0') * 100) + ((d2 - '0') * 10) + (d3 - '0');
            used = 4;
            return value <= byte.MaxValue;
        }

        if (isChar && next > 0x7F)
        {
            return false;
        }

        value = next;
        used = 2;
        return true;
    }
}
