namespace DnsWarden.Wire.Dns;

/// <summary>
/// A name to write: dotted text (chars or UTF-8 bytes, RFC 1035 §5.1 escapes allowed) or a
/// <see cref="DnsName"/> from another message. Converts implicitly from each, so writer methods take
/// one parameter for all three.
/// </summary>
public readonly ref struct DnsNameSource
{
    private readonly ReadOnlySpan<char> _chars;
    private readonly ReadOnlySpan<byte> _utf8;
    private readonly DnsName _name;
    private readonly SourceKind _kind;

    private DnsNameSource(ReadOnlySpan<char> chars, ReadOnlySpan<byte> utf8, DnsName name, SourceKind kind)
    {
        _chars = chars;
        _utf8 = utf8;
        _name = name;
        _kind = kind;
    }

    private enum SourceKind : byte
    {
        None,
        Chars,
        Utf8,
        Name,
    }

    public static DnsNameSource FromText(ReadOnlySpan<char> dotted) => new(dotted, default, default, SourceKind.Chars);

    public static DnsNameSource FromUtf8(ReadOnlySpan<byte> dotted) => new(default, dotted, default, SourceKind.Utf8);

    public static DnsNameSource FromName(DnsName name) => new(default, default, name, SourceKind.Name);

    public static implicit operator DnsNameSource(string dotted) => FromText(dotted);

    public static implicit operator DnsNameSource(ReadOnlySpan<char> dotted) => FromText(dotted);

    public static implicit operator DnsNameSource(ReadOnlySpan<byte> dotted) => FromUtf8(dotted);

    public static implicit operator DnsNameSource(DnsName name) => FromName(name);

    /// <summary>Writes the name as uncompressed wire labels plus the root byte.</summary>
    public bool TryEncode(Span<byte> destination, out int bytesWritten, out DnsError error)
    {
        switch (_kind)
        {
            case SourceKind.Chars:
                return DnsNameEncoder.TryEncode(_chars, destination, out bytesWritten, out _, out error);
            case SourceKind.Utf8:
                return DnsNameEncoder.TryEncode(_utf8, destination, out bytesWritten, out _, out error);
            case SourceKind.Name when !_name.IsEmpty:
                bool ok = _name.TryWriteUncompressed(destination, out bytesWritten);
                error = ok ? DnsError.None : DnsError.BufferTooSmall;
                return ok;
            default:
                bytesWritten = 0;
                error = DnsError.BadNameText;
                return false;
        }
    }
}
