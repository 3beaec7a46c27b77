using System.Buffers;
using System.Text;

namespace DnsWarden.Wire.Http2;

/// <summary>
/// An HPACK decoder (RFC 7541) for the header blocks of one HTTP/2 connection direction: static and dynamic tables,
/// size updates bounded by <see cref="MaxTableSize"/> (what was advertised as SETTINGS_HEADER_TABLE_SIZE), Huffman
/// strings, and a bound on the decoded header list, so a hostile block costs at most that much memory. Hand-written:
/// the BCL's decoder is internal to System.Net.Http and Kestrel, and the proxy must decode the client's blocks itself to
/// judge each request. Every failure is an <see cref="HpackError"/> with the offset it was found at, never an exception.
/// </summary>
public sealed class HpackDecoder
{
    /// <summary>RFC 7541 §4.1: each entry costs its octets plus 32.</summary>
    private const int EntryOverhead = 32;

    /// <summary>Huffman output is decoded on the stack up to this many bytes, pooled above.</summary>
    private const int StackThreshold = 256;

    private readonly List<HpackField> _dynamic = [];
    private readonly int _maxHeaderListSize;
    private int _capacity;
    private int _size;
    private int _maxTableSize;

    /// <param name="maxTableSize">The SETTINGS_HEADER_TABLE_SIZE the encoder was told (4096 until SETTINGS say otherwise).</param>
    /// <param name="maxHeaderListSize">The most a decoded block may hold, counted as the table counts (octets + 32 per field).</param>
    public HpackDecoder(int maxTableSize = 4096, int maxHeaderListSize = 64 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTableSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxHeaderListSize);
        _maxTableSize = _capacity = maxTableSize;
        _maxHeaderListSize = maxHeaderListSize;
    }

    /// <summary>The largest table a size update may ask for. Lowering it below the current capacity shrinks the table at once.</summary>
    public int MaxTableSize
    {
        get => _maxTableSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxTableSize = value;
            if (_capacity > value)
            {
                _capacity = value;
                Evict(0);
            }
        }
    }

    /// <summary>The dynamic table's current size (RFC 7541 §4.1).</summary>
    public int TableSize => _size;

    /// <summary>The dynamic table's entry count.</summary>
    public int TableCount => _dynamic.Count;

    /// <summary>
    /// Decodes one complete header block, appending its fields to <paramref name="fields"/>. On failure the block's
    /// fields so far stay in the list, <paramref name="errorOffset"/> says where in the block it failed, and the
    /// connection must end (the tables are out of step with the encoder's).
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> block, List<HpackField> fields, out HpackError error, out int errorOffset)
    {
        ArgumentNullException.ThrowIfNull(fields);
        int pos = 0;
        int listSize = 0;
        bool fieldSeen = false;
        while (pos < block.Length)
        {
            errorOffset = pos;
            byte b = block[pos];
            HpackField field;
            if ((b & 0x80) != 0)
            {
                // §6.1 indexed field.
                if (!TryReadInteger(block, ref pos, 7, out int index, out error) || !TryGet(index, out field, out error))
                {
                    return false;
                }
            }
            else if ((b & 0xE0) == 0x20)
            {
                // §6.3 dynamic table size update: only before the first field (§4.2).
                if (fieldSeen)
                {
                    return Fail(HpackError.TableSizeUpdateNotFirst, pos, out error, out errorOffset);
                }

                if (!TryReadInteger(block, ref pos, 5, out int size, out error))
                {
                    return false;
                }

                if (size > _maxTableSize)
                {
                    return Fail(HpackError.TableSizeTooLarge, errorOffset, out error, out errorOffset);
                }

                _capacity = size;
                Evict(0);
                continue;
            }
            else
            {
                // §6.2.1 incremental indexing (01, 6-bit index), §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                bool indexing = (b & 0xC0) == 0x40;
                if (!TryReadInteger(block, ref pos, indexing ? 6 : 4, out int nameIndex, out error))
                {
                    return false;
                }

                string name;
                if (nameIndex == 0)
                {
                    if (!TryReadString(block, ref pos, out name, out error))
                    {
                        return false;
                    }
                }
                else if (TryGet(nameIndex, out HpackField named, out error))
                {
                    name = named.Name;
                }
                else
                {
                    return false;
                }

                if (!TryReadString(block, ref pos, out string value, out error))
                {
                    return false;
                }

                field = new HpackField(name, value);
                if (indexing)
                {
                    Add(field);
                }
            }

            fieldSeen = true;
            listSize += field.Size;
            if (listSize > _maxHeaderListSize)
            {
                return Fail(HpackError.TooLarge, errorOffset, out error, out errorOffset);
            }

            fields.Add(field);
        }

        error = HpackError.None;
        errorOffset = -1;
        return true;
    }

    private static bool Fail(HpackError why, int at, out HpackError error, out int errorOffset)
    {
        error = why;
        errorOffset = at;
        return false;
    }

    /// <summary>RFC 7541 §5.1 with an N-bit prefix; values past int's range are an overflow, not a wrap.</summary>
    private static bool TryReadInteger(ReadOnlySpan<byte> block, ref int pos, int prefixBits, out int value, out HpackError error)
    {
        value = 0;
        if (pos >= block.Length)
        {
            error = HpackError.Truncated;
            return false;
        }

        int max = (1 << prefixBits) - 1;
        long v = block[pos++] & max;
        if (v == max)
        {
            int shift = 0;
            while (true)
            {
                if (pos >= block.Length)
                {
                    error = HpackError.Truncated;
                    return false;
                }

                byte b = block[pos++];
                v += (long)(b & 0x7F) << shift;
                shift += 7;
                if (v > int.MaxValue || shift > 28 && (b & 0x80) != 0)
                {
                    error = HpackError.IntegerOverflow;
                    return false;
                }

                if ((b & 0x80) == 0)
                {
                    break;
                }
            }
        }

        value = (int)v;
        error = HpackError.None;
        return true;
    }

    /// <summary>RFC 7541 §5.2: a Huffman flag, a 7-bit-prefix length, then the octets.</summary>
    private bool TryReadString(ReadOnlySpan<byte> block, ref int pos, out string value, out HpackError error)
    {
        value = "";
        if (pos >= block.Length)
        {
            error = HpackError.Truncated;
            return false;
        }

        bool huffman = (block[pos] & 0x80) != 0;
        if (!TryReadInteger(block, ref pos, 7, out int length, out error))
        {
            return false;
        }

        if (length > _maxHeaderListSize)
        {
            error = HpackError.TooLarge;
            return false;
        }

        if (length > block.Length - pos)
        {
            error = HpackError.Truncated;
            return false;
        }

        ReadOnlySpan<byte> raw = block.Slice(pos, length);
        pos += length;
        if (!huffman)
        {
            value = Encoding.Latin1.GetString(raw);
            return true;
        }

        // The shortest code is 5 bits: a string decodes to at most 8/5 of its length; no more than the list bound either way.
        int most = (int)Math.Min(((long)length * 8 / 5) + 1, _maxHeaderListSize);
        byte[]? rented = null;
        Span<byte> decoded = most <= StackThreshold ? stackalloc byte[StackThreshold] : (rented = ArrayPool<byte>.Shared.Rent(most));
        try
        {
            if (!HpackHuffman.TryDecode(raw, decoded[..most], out int written, out error))
            {
                return false;
            }

            value = Encoding.Latin1.GetString(decoded[..written]);
            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Index 1–61 the static table, 62 on the dynamic one, newest first (RFC 7541 §2.3.3).</summary>
    private bool TryGet(int index, out HpackField field, out HpackError error)
    {
        field = default;
        if (index == 0)
        {
            error = HpackError.IndexZero;
            return false;
        }

        if (index <= HpackStaticTable.Count)
        {
            field = HpackStaticTable.Get(index);
            error = HpackError.None;
            return true;
        }

        int d = index - HpackStaticTable.Count - 1;
        if (d >= _dynamic.Count)
        {
            error = HpackError.IndexOutOfRange;
            return false;
        }

        field = _dynamic[_dynamic.Count - 1 - d];
        error = HpackError.None;
        return true;
    }

    /// <summary>RFC 7541 §4.4: evict until the entry fits; an entry larger than the table empties it and is not added.</summary>
    private void Add(HpackField field)
    {
        int size = field.Name.Length + field.Value.Length + EntryOverhead;
        Evict(Math.Min(size, _capacity + 1));
        if (size <= _capacity)
        {
            _dynamic.Add(field);
            _size += size;
        }
    }

    /// <summary>Drops the oldest entries until <paramref name="room"/> more bytes fit in the capacity.</summary>
    private void Evict(int room)
    {
        int drop = 0;
        while (drop < _dynamic.Count && _size + room > _capacity)
        {
            _size -= _dynamic[drop].Size;
            drop++;
        }

        _dynamic.RemoveRange(0, drop);
    }
}
