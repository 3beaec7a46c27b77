namespace DnsWarden.Wire.Tls;

/// <summary>Why <see cref="TlsClientHello.TryRead"/> rejected a handshake message.</summary>
public enum TlsError : byte
{
    None = 0,

    /// <summary>Fewer bytes than the 4-byte handshake header or its declared length; more data may fix it.</summary>
    Truncated,

    /// <summary>msg_type is not client_hello (1).</summary>
    NotClientHello,

    /// <summary>A fixed field runs past the declared handshake length.</summary>
    BodyTooShort,

    /// <summary>legacy_session_id longer than 32 bytes (RFC 8446 §4.1.2).</summary>
    BadSessionId,

    /// <summary>cipher_suites empty or of odd length.</summary>
    BadCipherSuites,

    /// <summary>legacy_compression_methods empty.</summary>
    BadCompressionMethods,

    /// <summary>The extensions block length disagrees with the rest of the body.</summary>
    BadExtensionsLength,

    /// <summary>An extension header or body runs past the extensions block.</summary>
    BadExtension,

    /// <summary>server_name (RFC 6066 §3) inconsistent: list length, entry length, empty host name.</summary>
    BadServerName,

    /// <summary>application_layer_protocol_negotiation (RFC 7301 §3.1) inconsistent or with an empty protocol.</summary>
    BadAlpn,

    /// <summary>supported_versions (RFC 8446 §4.2.1) inconsistent.</summary>
    BadSupportedVersions,

    /// <summary>An extension this reader interprets appears twice (RFC 8446 §4.2 forbids it).</summary>
    DuplicateExtension,
}
