namespace DnsWarden.Wire.Http2;

/// <summary>
/// HPACK's Huffman decoding (RFC 7541 §5.2, code in Appendix B): a bit-at-a-time walk of a binary tree built once from
/// the code table. The tree has 256 inner nodes (a full binary tree with 257 leaves), so the walk is bounded by the
/// input's bits and every failure is a value: the EOS symbol inside a string, padding longer than 7 bits, or padding
/// that is not the most significant bits of EOS (all ones).
/// </summary>
internal static class HpackHuffman
{
    private const int Eos = 256;

    /// <summary>Children of inner node i at [2i] (bit 0) and [2i+1] (bit 1): &gt; 0 an inner node, &lt; 0 a leaf (-(symbol + 1)).</summary>
    private static readonly short[] s_tree = BuildTree();

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/>; false when it does not fit or is not valid Huffman.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, Span<byte> destination, out int written, out HpackError error)
    {
        written = 0;
        error = HpackError.None;
        int node = 0;
        int pendingBits = 0;
        bool pendingAllOnes = true;
        foreach (byte b in source)
        {
            for (int shift = 7; shift >= 0; shift--)
            {
                int bit = (b >> shift) & 1;
                int next = s_tree[(2 * node) + bit];
                pendingBits++;
                pendingAllOnes &= bit == 1;
                if (next > 0)
                {
                    node = next;
                    continue;
                }

                int symbol = -next - 1;
                if (symbol == Eos)
                {
                    error = HpackError.BadHuffman;
                    return false;
                }

                if (written == destination.Length)
                {
                    error = HpackError.TooLarge;
                    return false;
                }

                destination[written++] = (byte)symbol;
                node = 0;
                pendingBits = 0;
                pendingAllOnes = true;
            }
        }

        if (pendingBits > 7 || !pendingAllOnes)
        {
            error = HpackError.BadHuffman;
            return false;
        }

        return true;
    }

    /// <summary>The length <paramref name="source"/> takes Huffman-coded (tests and the encoder's choice).</summary>
    public static int EncodedLength(ReadOnlySpan<byte> source)
    {
        long bits = 0;
        foreach (byte b in source)
        {
            bits += HpackHuffmanCode.Lengths[b];
        }

        return (int)((bits + 7) / 8);
    }

    /// <summary>Huffman-codes <paramref name="source"/> (the destination holds <see cref="EncodedLength"/> bytes); for tests of the decoder.</summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ulong acc = 0;
        int bits = 0;
        int written = 0;
        foreach (byte b in source)
        {
            acc = (acc << HpackHuffmanCode.Lengths[b]) | HpackHuffmanCode.Codes[b];
            bits += HpackHuffmanCode.Lengths[b];
            while (bits >= 8)
            {
                bits -= 8;
                destination[written++] = (byte)(acc >> bits);
            }
        }

        if (bits > 0)
        {
            destination[written++] = (byte)((acc << (8 - bits)) | (0xFFu >> bits));
        }

        return written;
    }

    private static short[] BuildTree()
    {
        var tree = new short[2 * 256];
        int nodes = 1;
        ReadOnlySpan<uint> codes = HpackHuffmanCode.Codes;
        ReadOnlySpan<byte> lengths = HpackHuffmanCode.Lengths;
        for (int symbol = 0; symbol <= Eos; symbol++)
        {
            int node = 0;
            for (int i = lengths[symbol] - 1; i >= 0; i--)
            {
                int bit = (int)((codes[symbol] >> i) & 1);
                int slot = (2 * node) + bit;
                if (i == 0)
                {
                    tree[slot] = (short)(-symbol - 1);
                }
                else
                {
                    if (tree[slot] == 0)
                    {
                        tree[slot] = (short)nodes++;
                    }

                    node = tree[slot];
                }
            }
        }

        return tree;
    }
}
