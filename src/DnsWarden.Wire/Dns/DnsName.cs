using System.Runtime.CompilerServices;

namespace DnsWarden.Wire.Dns;

/// <summary>
/// A validated domain name inside a DNS message: the message span plus the offset where the name
/// starts. Nothing is copied; labels are followed through compression pointers on demand.
/// </summary>
/// <remarks>
/// Only <see cref="TryRead(ReadOnlySpan{byte}, int, out DnsName, out int, out DnsError)"/> makes a
/// non-default instance, so every DnsName has passed the RFC 1035 §4.1.4 checks: pointers strictly
/// backwards, labels ≤ 63, total ≤ 255 octets, no 0x40/0x80 label types. The default value has no
/// labels and behaves as an empty (unset) name.
/// </remarks>
[SkipLocalsInit] // The stackalloc'd scratch buffers are always written before they are read.
public readonly ref partial struct DnsName
{
    /// <summary>RFC 1035 §2.3.4: a name is at most 255 octets on the wire, root byte included.</summary>
    public const int MaxWireLength = 255;

    /// <summary>RFC 1035 §2.3.4: a label is at most 63 octets.</summary>
    public const int MaxLabelLength = 63;

    /// <summary>255 wire octets are at most 253 presentation chars without escapes ("a.b" drops the length bytes and root).</summary>
    public const int MaxTextLength = 253;

    /// <summary>A 255-octet name has at most 127 labels; more pointer hops than that cannot be legitimate.</summary>
    internal const int MaxPointerHops = 127;

    internal const byte PointerTag = 0xC0;
    private const byte LabelTypeMask = 0xC0;

    private readonly ReadOnlySpan<byte> _message;
    private readonly int _offset;
    private readonly int _wireLengthInMessage;
    private readonly byte _encodedLength;
    private readonly byte _labelCount;

    private DnsName(ReadOnlySpan<byte> message, int offset, int wireLengthInMessage, int encodedLength, int labelCount)
    {
        _message = message;
        _offset = offset;
        _wireLengthInMessage = wireLengthInMessage;
        _encodedLength = (byte)encodedLength;
        _labelCount = (byte)labelCount;
    }

    /// <summary>The message the name lives in.</summary>
    public ReadOnlySpan<byte> Message => _message;

    /// <summary>Offset of the name's first byte in <see cref="Message"/>.</summary>
    public int Offset => _offset;

    /// <summary>Bytes the name occupies at <see cref="Offset"/>: up to its root byte or first pointer, inclusive.</summary>
    public int WireLengthInMessage => _wireLengthInMessage;

    /// <summary>Length of the name written uncompressed, root byte included (1..255); 0 for the default value.</summary>
    public int EncodedLength => _encodedLength;

    public int LabelCount => _labelCount;

    public bool IsRoot => _encodedLength == 1;

    /// <summary>True for <c>default(DnsName)</c>, which was never read from a message.</summary>
    public bool IsEmpty => _encodedLength == 0;

    /// <summary>Reads and validates the name at <paramref name="offset"/> in <paramref name="message"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, int offset, out DnsName name, out int bytesConsumed, out DnsError error) =>
        TryRead(message, offset, message.Length, allowCompression: true, out name, out bytesConsumed, out error);

    /// <summary>
    /// Reads a name whose in-place bytes must end by <paramref name="limit"/> (e.g. the end of RDATA);
    /// pointers may still reach earlier parts of the message.
    /// </summary>
    internal static bool TryRead(
        ReadOnlySpan<byte> message, int offset, int limit, bool allowCompression, out DnsName name, out int bytesConsumed, out DnsError error)
    {
        name = default;
        bytesConsumed = 0;
        if ((uint)offset >= (uint)message.Length || limit > message.Length)
        {
            error = DnsError.Truncated;
            return false;
        }

        int pos = offset;
        int runStart = offset;
        int end = -1;
        int bound = limit;
        int encoded = 0;
        int labels = 0;
        int hops = 0;
        while (true)
        {
            if (pos >= bound)
            {
                error = DnsError.Truncated;
                return false;
            }

            byte b = message[pos];
            switch (b & LabelTypeMask)
            {
                case 0:
                    if (b == 0)
                    {
                        encoded++;
                        if (end < 0)
                        {
                            end = pos + 1;
                        }

                        name = new DnsName(message, offset, end - offset, encoded, labels);
                        bytesConsumed = end - offset;
                        error = DnsError.None;
                        return true;
                    }

                    // The root byte still has to fit after this label (RFC 1035 §2.3.4).
                    encoded += 1 + b;
                    if (encoded + 1 > MaxWireLength)
                    {
                        error = DnsError.NameTooLong;
                        return false;
                    }

                    if (pos + 1 + b > bound)
                    {
                        error = DnsError.Truncated;
                        return false;
                    }

                    labels++;
                    pos += 1 + b;
                    break;

                case PointerTag:
                    if (pos + 1 >= bound)
                    {
                        error = DnsError.Truncated;
                        return false;
                    }

                    if (!allowCompression)
                    {
                        error = DnsError.CompressionNotAllowed;
                        return false;
                    }

                    int target = ((b & ~PointerTag) << 8) | message[pos + 1];
                    if (end < 0)
                    {
                        end = pos + 2;
                    }

                    // Hardened RFC 1035 §4.1.4: a pointer must land strictly before the run of labels it
                    // ends, so run starts strictly decrease and no loop (self, forward, cycle) can form.
                    if (target < DnsHeader.Length)
                    {
                        error = DnsError.PointerIntoHeader;
                        return false;
                    }

                    if (target >= runStart)
                    {
                        error = DnsError.ForwardPointer;
                        return false;
                    }

                    if (++hops > MaxPointerHops)
                    {
                        error = DnsError.TooManyPointers;
                        return false;
                    }

                    pos = runStart = target;
                    bound = message.Length;
                    break;

                default:
                    // 0x40 (extended label, RFC 6891 §5 deprecated) and 0x80 (reserved).
                    error = DnsError.BadLabelType;
                    return false;
            }
        }
    }

    public LabelEnumerator EnumerateLabels() => new(_message, _offset, _labelCount);

    public LabelEnumerator GetEnumerator() => EnumerateLabels();

    /// <summary>Writes the name uncompressed (length-prefixed labels and the root byte), as in RFC 1035 §3.1.</summary>
    public bool TryWriteUncompressed(Span<byte> destination, out int bytesWritten)
    {
        if (IsEmpty || destination.Length < _encodedLength)
        {
            bytesWritten = 0;
            return false;
        }

        int pos = 0;
        foreach (ReadOnlySpan<byte> label in this)
        {
            destination[pos++] = (byte)label.Length;
            label.CopyTo(destination.Slice(pos));
            pos += label.Length;
        }

        destination[pos++] = 0;
        bytesWritten = pos;
        return true;
    }

    /// <summary>Iterates labels (without length bytes), following compression pointers.</summary>
    public ref struct LabelEnumerator
    {
        private readonly ReadOnlySpan<byte> _message;
        private int _position;
        private int _remaining;
        private int _hops;
        private ReadOnlySpan<byte> _current;

        internal LabelEnumerator(ReadOnlySpan<byte> message, int offset, int labelCount)
        {
            _message = message;
            _position = offset;
            _remaining = labelCount;
            _hops = 0;
            _current = default;
        }

        public readonly ReadOnlySpan<byte> Current => _current;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool MoveNext()
        {
            if (_remaining == 0)
            {
                return false;
            }

            // The name was validated when read; the hop bound only guards against the caller
            // rewriting the buffer afterwards.
            byte b = _message[_position];
            while ((b & LabelTypeMask) == PointerTag)
            {
                if (++_hops > MaxPointerHops)
                {
                    _remaining = 0;
                    return false;
                }

                _position = ((b & ~PointerTag) << 8) | _message[_position + 1];
                b = _message[_position];
            }

            _current = _message.Slice(_position + 1, b);
            _position += 1 + b;
            _remaining--;
            return true;
        }

        public readonly LabelEnumerator GetEnumerator() => this;
    }
}
