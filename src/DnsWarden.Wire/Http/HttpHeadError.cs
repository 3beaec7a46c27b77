namespace DnsWarden.Wire.Http;

/// <summary>Why <see cref="HttpRequestHead.TryRead"/> refused a request head (a proxy that decides by it must not guess).</summary>
public enum HttpHeadError : byte
{
    None = 0,

    /// <summary>The request line is not METHOD SP target SP HTTP/1.0 or HTTP/1.1 (RFC 9112 §3).</summary>
    BadRequestLine,

    /// <summary>A line ends in a bare LF, or a CR is not followed by LF (RFC 9112 §2.2: the proxy and the server must not read it differently).</summary>
    BadLineEnding,

    /// <summary>A field line without a colon, with whitespace before it, a bad name character, or an obsolete fold (RFC 9112 §5.1, §5.2).</summary>
    BadHeader,

    /// <summary>No Host (HTTP/1.1, or HTTP/1.0 in origin form) or more than one (RFC 9112 §3.2).</summary>
    BadHost,

    /// <summary>An absolute-form or CONNECT target whose host is not the Host field's (RFC 9112 §3.2.2).</summary>
    HostMismatch,

    /// <summary>Content-Length not a number, or two that differ (RFC 9112 §6.3).</summary>
    BadContentLength,

    /// <summary>Transfer-Encoding other than chunked alone, or with Content-Length (RFC 9112 §6.1: a smuggling vector; refused).</summary>
    BadTransferEncoding,
}
