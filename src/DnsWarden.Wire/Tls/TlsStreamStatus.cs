namespace DnsWarden.Wire.Tls;

/// <summary>Outcome of <see cref="TlsRecordReader.TryGetClientHello(ReadOnlySpan{byte}, Span{byte}, out int, out TlsStreamStatus)"/>.</summary>
public enum TlsStreamStatus : byte
{
    /// <summary>The stream so far is a valid prefix; call again with more bytes.</summary>
    NeedMoreData = 0,

    /// <summary>The whole handshake message is in the scratch buffer.</summary>
    Complete,

    /// <summary>The stream does not start with a TLS handshake record.</summary>
    NotTls,

    /// <summary>TLS handshake records, but the first message is not a ClientHello.</summary>
    NotClientHello,

    /// <summary>The message is longer than the scratch buffer.</summary>
    TooLarge,

    /// <summary>A later record breaks the rules (wrong type or version, empty or oversized fragment).</summary>
    Malformed,
}
