using System.Numerics;

namespace DnsWarden.Wire.Dns;

public readonly ref partial struct DnsName
{
    /// <summary>Upper bound of the presentation length: every octet escaped as \DDD.</summary>
    public const int MaxFormattedLength = 4 * MaxWireLength;

    /// <summary>Chars <see cref="TryFormat"/> needs: labels joined by '.', no trailing dot; "." for the root.</summary>
    public int GetFormattedLength()
    {
        if (IsEmpty)
        {
            return 0;
        }

        if (IsRoot)
        {
            return 1;
        }

        int length = _labelCount - 1;
        foreach (ReadOnlySpan<byte> label in this)
        {
            foreach (byte b in label)
            {
                length += EscapedLength(b);
            }
        }

        return length;
    }

    /// <summary>Formats as dotted text without a trailing dot ("." for the root); non-printable octets as \DDD (RFC 1035 §5.1).</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten) => TryFormatCore(destination, out charsWritten);

    /// <summary>As <see cref="TryFormat"/>, into ASCII/UTF-8 bytes.</summary>
    public bool TryFormatUtf8(Span<byte> destination, out int bytesWritten) => TryFormatCore(destination, out bytesWritten);

    /// <summary>Allocates; for tests, logs and UI.</summary>
    public override string ToString()
    {
        Span<char> buffer = stackalloc char[MaxFormattedLength];
        return TryFormat(buffer, out int n) ? new string(buffer.Slice(0, n)) : string.Empty;
    }

    /// <summary>Case-insensitive (ASCII letters only, RFC 4343 §3) comparison with a name from any message.</summary>
    public bool Equals(DnsName other)
    {
        if (_encodedLength != other._encodedLength || _labelCount != other._labelCount)
        {
            return false;
        }

        LabelEnumerator a = EnumerateLabels();
        LabelEnumerator b = other.EnumerateLabels();
        while (a.MoveNext())
        {
            b.MoveNext();
            if (!LabelEquals(a.Current, b.Current))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Compares with dotted text ("example.com" or "example.com."), case-insensitively; no allocation.</summary>
    public bool EqualsAscii(ReadOnlySpan<char> dotted)
    {
        Span<byte> wire = stackalloc byte[MaxWireLength];
        return DnsNameEncoder.TryEncode(dotted, wire, out int n, out int labels, out _) && EqualsWire(wire.Slice(0, n), labels);
    }

    /// <summary>Compares with dotted ASCII/UTF-8 text, case-insensitively; no allocation.</summary>
    public bool EqualsAscii(ReadOnlySpan<byte> dotted)
    {
        Span<byte> wire = stackalloc byte[MaxWireLength];
        return DnsNameEncoder.TryEncode(dotted, wire, out int n, out int labels, out _) && EqualsWire(wire.Slice(0, n), labels);
    }

    /// <summary>
    /// True when the name equals <paramref name="suffix"/> or lies below it, matching whole labels
    /// case-insensitively ("a.example.com" is under "example.com", "badexample.com" is not).
    /// </summary>
    public bool IsSubdomainOf(ReadOnlySpan<char> suffix)
    {
        Span<byte> wire = stackalloc byte[MaxWireLength];
        return DnsNameEncoder.TryEncode(suffix, wire, out int n, out int labels, out _) && EndsWithWire(wire.Slice(0, n), labels);
    }

    /// <inheritdoc cref="IsSubdomainOf(ReadOnlySpan{char})"/>
    public bool IsSubdomainOf(ReadOnlySpan<byte> suffix)
    {
        Span<byte> wire = stackalloc byte[MaxWireLength];
        return DnsNameEncoder.TryEncode(suffix, wire, out int n, out int labels, out _) && EndsWithWire(wire.Slice(0, n), labels);
    }

    /// <inheritdoc cref="IsSubdomainOf(ReadOnlySpan{char})"/>
    public bool IsSubdomainOf(DnsName suffix)
    {
        if (IsEmpty || suffix.IsEmpty || suffix._labelCount > _labelCount)
        {
            return false;
        }

        LabelEnumerator mine = EnumerateLabels();
        for (int skip = _labelCount - suffix._labelCount; skip > 0; skip--)
        {
            mine.MoveNext();
        }

        LabelEnumerator theirs = suffix.EnumerateLabels();
        while (mine.MoveNext())
        {
            theirs.MoveNext();
            if (!LabelEquals(mine.Current, theirs.Current))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A hash that agrees with the case-insensitive <see cref="Equals(DnsName)"/>.</summary>
    public int GetHashCodeIgnoreCase()
    {
        var hash = default(HashCode);
        foreach (ReadOnlySpan<byte> label in this)
        {
            hash.Add(label.Length);
            foreach (byte b in label)
            {
                hash.Add(ToLower(b));
            }
        }

        return hash.ToHashCode();
    }

    internal static bool LabelEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && ToLower(a[i]) != ToLower(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>RFC 4343 §3: only A-Z fold; other octets compare exactly.</summary>
    internal static byte ToLower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;

    private bool EqualsWire(ReadOnlySpan<byte> wire, int wireLabels) =>
        !IsEmpty && wire.Length == _encodedLength && wireLabels == _labelCount && EndsWithWire(wire, wireLabels);

    private bool EndsWithWire(ReadOnlySpan<byte> wire, int wireLabels)
    {
        if (IsEmpty || wireLabels > _labelCount)
        {
            return false;
        }

        LabelEnumerator mine = EnumerateLabels();
        for (int skip = _labelCount - wireLabels; skip > 0; skip--)
        {
            mine.MoveNext();
        }

        int pos = 0;
        while (mine.MoveNext())
        {
            int length = wire[pos];
            if (!LabelEquals(mine.Current, wire.Slice(pos + 1, length)))
            {
                return false;
            }

            pos += 1 + length;
        }

        return true;
    }

    private static int EscapedLength(byte b) => b switch
    {
        (byte)'.' or (byte)'\\' => 2,
        < 0x21 or > 0x7E => 4,
        _ => 1,
    };

    private bool TryFormatCore<T>(Span<T> destination, out int written)
        where T : unmanaged, IBinaryInteger<T>
    {
        written = 0;
        if (IsEmpty)
        {
            return true;
        }

        if (IsRoot)
        {
            if (destination.IsEmpty)
            {
                return false;
            }

            destination[0] = T.CreateTruncating('.');
            written = 1;
            return true;
        }

        int pos = 0;
        bool first = true;
        foreach (ReadOnlySpan<byte> label in this)
        {
            if (!first)
            {
                if (pos >= destination.Length)
                {
                    return false;
                }

                destination[pos++] = T.CreateTruncating('.');
            }

            first = false;
            foreach (byte b in label)
            {
                int need = EscapedLength(b);
                if (pos + need > destination.Length)
                {
                    written = 0;
                    return false;
                }

                switch (need)
                {
                    case 1:
                        destination[pos++] = T.CreateTruncating(b);
                        break;
                    case 2:
                        destination[pos++] = T.CreateTruncating('\\');
                        destination[pos++] = T.CreateTruncating(b);
                        break;
                    default:
                        destination[pos++] = T.CreateTruncating('\\');
                        destination[pos++] = T.CreateTruncating('0' + (b / 100));
                        destination[pos++] = T.CreateTruncating('0' + (b / 10 % 10));
                        destination[pos++] = T.CreateTruncating('0' + (b % 10));
                        break;
                }
            }
        }

        written = pos;
        return true;
    }
}
