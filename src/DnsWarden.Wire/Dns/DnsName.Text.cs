using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// Formats as dotted text without a trailing dot ("." for the root); octets other than letters, digits, '-', '_'
    /// and '*' as \DDD (RFC 1035 §5.1), '.' and '\' inside a label as "\." and "\\".
    /// </summary>
    public bool TryFormat(Span<char> destination, out int charsWritten) =>
        TryFormatPlain(destination, out charsWritten) || TryFormatCore(destination, out charsWritten);

    /// <summary>As <see cref="TryFormat"/>, into ASCII/UTF-8 bytes.</summary>
    public bool TryFormatUtf8(Span<byte> destination, out int bytesWritten) =>
        TryFormatPlain(destination, out bytesWritten) || TryFormatCore(destination, out bytesWritten);

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
        if (dotted.IndexOf('\\') < 0)
        {
            return EqualsPlainText(dotted, isChar: true);
        }

        Span<byte> wire = stackalloc byte[MaxWireLength];
        return DnsNameEncoder.TryEncode(dotted, wire, out int n, out int labels, out _) && EqualsWire(wire.Slice(0, n), labels);
    }

    /// <summary>Compares with dotted ASCII/UTF-8 text, case-insensitively; no allocation.</summary>
    public bool EqualsAscii(ReadOnlySpan<byte> dotted)
    {
        if (dotted.IndexOf((byte)'\\') < 0)
        {
            return EqualsPlainText(dotted, isChar: false);
        }

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

    /// <summary>
    /// <see cref="EqualsAscii(ReadOnlySpan{char})"/> for text without escapes, compared label by label
    /// in place; agrees with encoding the text first (empty labels and chars above 0x7F never match).
    /// </summary>
    private bool EqualsPlainText<T>(ReadOnlySpan<T> dotted, bool isChar)
        where T : unmanaged, IBinaryInteger<T>
    {
        if (IsEmpty)
        {
            return false;
        }

        if (dotted.IsEmpty || (dotted.Length == 1 && int.CreateTruncating(dotted[0]) == '.'))
        {
            return IsRoot;
        }

        // One trailing dot names the root explicitly ("example.com.").
        if (int.CreateTruncating(dotted[^1]) == '.')
        {
            dotted = dotted.Slice(0, dotted.Length - 1);
        }

        // Without escapes the text of this name is exactly EncodedLength - 2 chars.
        if (IsRoot || dotted.Length != _encodedLength - 2)
        {
            return false;
        }

        int at = 0;
        bool first = true;
        foreach (ReadOnlySpan<byte> label in this)
        {
            if (!first)
            {
                if ((uint)at >= (uint)dotted.Length || int.CreateTruncating(dotted[at]) != '.')
                {
                    return false;
                }

                at++;
            }

            first = false;
            if ((uint)(at + label.Length) > (uint)dotted.Length)
            {
                return false;
            }

            ReadOnlySpan<T> part = dotted.Slice(at, label.Length);
            for (int i = 0; i < label.Length; i++)
            {
                int c = int.CreateTruncating(part[i]);
                byte b = label[i];
                if (c != b)
                {
                    // RFC 4343 §3: only A-Z/a-z fold.
                    if (!IsAsciiLetter(b) || (c | 0x20) != (b | 0x20))
                    {
                        return false;
                    }
                }
                else if (c == '.' || (isChar && c > 0x7F))
                {
                    // '.' separates labels in text; chars above 0x7F are refused (UTF-8 octets are raw).
                    return false;
                }
            }

            at += label.Length;
        }

        return at == dotted.Length;
    }

    private static bool IsAsciiLetter(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';

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

    /// <summary>
    /// 1 for octets printed as themselves: letters, digits, '-', '_' and '*' (host names, SRV labels, wildcards).
    /// Every other octet is escaped (RFC 1035 §5.1: "\." and "\\" for the two that have meaning in the text, \DDD for
    /// the rest), printable or not: names come from the network and end up in files, so no octet a shell, a path
    /// or a config parser gives meaning to — '/', ':', ';', '$', quotes, spaces — is written as itself.
    /// </summary>
    private static ReadOnlySpan<byte> PlainText =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    private static int EscapedLength(byte b) => b switch
    {
        (byte)'.' or (byte)'\\' => 2,
        _ => PlainText[b] != 0 ? 1 : 4,
    };

    /// <summary>
    /// The common case: no octet needs an escape and the text fits. Copies label runs straight from
    /// the message; returns false (written = 0) for anything else so the escaping path takes over.
    /// </summary>
    private bool TryFormatPlain<T>(Span<T> destination, out int written)
        where T : unmanaged, IBinaryInteger<T>
    {
        written = 0;
        int remaining = _labelCount;
        if (remaining == 0 || destination.Length < _encodedLength - 2)
        {
            return false;
        }

        // Without escapes the text is exactly EncodedLength - 2 chars (no first length byte, no root).
        ReadOnlySpan<byte> message = _message;
        Span<T> dst = destination.Slice(0, _encodedLength - 2);
        int position = _offset;
        int hops = 0;
        int pos = 0;
        while (true)
        {
            int b = message[position];
            if ((b & LabelTypeMask) == PointerTag)
            {
                // Validated when read; the hop bound only guards against the buffer changing since.
                if (++hops > MaxPointerHops)
                {
                    return false;
                }

                position = ((b & ~PointerTag) << 8) | message[position + 1];
                continue;
            }

            if (b <= Vector128<byte>.Count
                && Vector128.IsHardwareAccelerated
                && message.Length - (position + 1) >= Vector128<byte>.Count
                && destination.Length - pos >= Vector128<byte>.Count
                && pos + b <= dst.Length)
            {
                // One 16-octet load covers the label; octets past it are copied too but then
                // overwritten or left beyond the text, inside the caller's destination.
                Vector128<byte> v = Vector128.Create(message.Slice(position + 1, Vector128<byte>.Count));
                Vector128<byte> notLetter = Vector128.GreaterThan((v | Vector128.Create((byte)0x20)) - Vector128.Create((byte)'a'), Vector128.Create((byte)25));
                Vector128<byte> notDigit = Vector128.GreaterThan(v - Vector128.Create((byte)'0'), Vector128.Create((byte)9));
                Vector128<byte> symbol = Vector128.Equals(v, Vector128.Create((byte)'-'))
                    | Vector128.Equals(v, Vector128.Create((byte)'_'))
                    | Vector128.Equals(v, Vector128.Create((byte)'*'));
                Vector128<byte> escape = Vector128.AndNot(notLetter & notDigit, symbol);
                if ((escape.ExtractMostSignificantBits() & ((1u << b) - 1)) != 0)
                {
                    return false;
                }

                if (typeof(T) == typeof(byte))
                {
                    v.CopyTo(MemoryMarshal.Cast<T, byte>(destination.Slice(pos)));
                }
                else
                {
                    (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(v);
                    Span<ushort> wide = MemoryMarshal.Cast<T, ushort>(destination.Slice(pos));
                    lo.CopyTo(wide);
                    hi.CopyTo(wide.Slice(Vector128<ushort>.Count));
                }
            }
            else if (!TryCopyPlain(message.Slice(position + 1, b), dst, pos))
            {
                return false;
            }

            pos += b;
            position += 1 + b;
            if (--remaining == 0)
            {
                break;
            }

            if (pos >= dst.Length)
            {
                return false;
            }

            dst[pos++] = T.CreateTruncating('.');
        }

        written = pos;
        return pos == dst.Length;
    }

    private static bool TryCopyPlain<T>(ReadOnlySpan<byte> label, Span<T> dst, int pos)
        where T : unmanaged, IBinaryInteger<T>
    {
        if ((uint)(pos + label.Length) > (uint)dst.Length)
        {
            return false;
        }

        Span<T> to = dst.Slice(pos, label.Length);
        for (int i = 0; i < label.Length; i++)
        {
            byte c = label[i];
            if (PlainText[c] == 0)
            {
                return false;
            }

            to[i] = T.CreateTruncating(c);
        }

        return true;
    }

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
