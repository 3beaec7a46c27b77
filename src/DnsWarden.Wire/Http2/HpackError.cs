namespace DnsWarden.Wire.Http2;

/// <summary>Why <see cref="HpackDecoder.TryDecode"/> refused a header block (RFC 7541; any of these is a COMPRESSION_ERROR, RFC 9113 §4.3).</summary>
public enum HpackError : byte
{
    None = 0,

    /// <summary>The block ends inside a representation, an integer or a string.</summary>
    Truncated,

    /// <summary>An integer's continuation bytes go past what fits (RFC 7541 §5.1 leaves the bound to the decoder).</summary>
    IntegerOverflow,

    /// <summary>Index 0 (RFC 7541 §6.1: "MUST be treated as a decoding error").</summary>
    IndexZero,

    /// <summary>An index past the static and dynamic tables (RFC 7541 §2.3.3).</summary>
    IndexOutOfRange,

    /// <summary>A dynamic table size update above the size advertised (RFC 7541 §4.2, §6.3).</summary>
    TableSizeTooLarge,

    /// <summary>A dynamic table size update after the first field of the block (RFC 7541 §4.2).</summary>
    TableSizeUpdateNotFirst,

    /// <summary>Huffman: the EOS symbol, padding over 7 bits or padding not all ones (RFC 7541 §5.2).</summary>
    BadHuffman,

    /// <summary>A string, or the decoded header list, larger than the decoder's bound.</summary>
    TooLarge,
}
