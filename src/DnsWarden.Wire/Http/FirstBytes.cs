using DnsWarden.Wire.Tls;

namespace DnsWarden.Wire.Http;

/// <summary>What the first bytes a client sent say it speaks.</summary>
public enum FirstBytesKind : byte
{
    /// <summary>Too few bytes to tell (none yet, or a method token still arriving).</summary>
    NeedMoreData = 0,

    /// <summary>A TLS handshake record opening with a ClientHello.</summary>
    Tls,

    /// <summary>A method token and a space: an HTTP/1.x request line.</summary>
    Http,

    /// <summary>Neither.</summary>
    Other,
}

/// <summary>
/// Tells TLS from HTTP/1.x from anything else at the start of a TCP stream, so the jail's proxy can decide by SNI or
/// by request: a check of at most the first 25 bytes, no allocation.
/// </summary>
public static class FirstBytes
{
    /// <summary>A method token longer than this is not one (the longest registered is 17 characters).</summary>
    private const int MaxMethodLength = 24;

    public static FirstBytesKind Classify(ReadOnlySpan<byte> start)
    {
        if (start.IsEmpty)
        {
            return FirstBytesKind.NeedMoreData;
        }

        if (start[0] == TlsRecordReader.ContentTypeHandshake)
        {
            if (!TlsRecordReader.IsLikelyTlsStart(start))
            {
                return FirstBytesKind.Other;
            }

            return start.Length > TlsRecordReader.RecordHeaderLength ? FirstBytesKind.Tls : FirstBytesKind.NeedMoreData;
        }

        int letters = 0;
        while (letters < start.Length && letters <= MaxMethodLength && char.IsAsciiLetterUpper((char)start[letters]))
        {
            letters++;
        }

        if (letters > MaxMethodLength)
        {
            return FirstBytesKind.Other;
        }

        if (letters == start.Length)
        {
            return FirstBytesKind.NeedMoreData;
        }

        return letters > 0 && start[letters] == ' ' ? FirstBytesKind.Http : FirstBytesKind.Other;
    }
}
