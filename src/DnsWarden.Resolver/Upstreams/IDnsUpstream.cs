using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>Why an exchange with an upstream gave no usable answer.</summary>
public enum UpstreamError : byte
{
    None,

    /// <summary>No answer within the attempt's time limit.</summary>
    Timeout,

    /// <summary>The server refused the connection or answered with ICMP unreachable.</summary>
    ConnectionRefused,

    /// <summary>Any other socket failure: reset, unreachable network, closed mid-answer.</summary>
    NetworkError,

    /// <summary>The TLS handshake failed or the certificate did not verify.</summary>
    TlsFailure,

    /// <summary>The certificate verified (or verification is off) but no pinned key matched.</summary>
    PinMismatch,

    /// <summary>A DoH server answered with a status other than 200 or a content type other than application/dns-message.</summary>
    HttpError,

    /// <summary>The reply was not a DNS response to this query: bad header, other ID, other question.</summary>
    BadResponse,

    /// <summary>The reply does not fit the caller's buffer (65,535 bytes always fits).</summary>
    TooLarge,

    /// <summary>The caller gave up (shutdown, or the other half of a race won).</summary>
    Canceled,

    /// <summary>The upstream is marked down and was skipped.</summary>
    Unavailable,
}

/// <summary>The outcome of one exchange: the response's length in the caller's buffer, or why there is none.</summary>
public readonly record struct UpstreamReply(int Length, UpstreamError Error)
{
    public bool Ok => Error == UpstreamError.None;

    public static UpstreamReply Success(int length) => new(length, UpstreamError.None);

    public static UpstreamReply Fail(UpstreamError error) => new(0, error);
}

/// <summary>
/// One upstream server. Implementations are safe for concurrent use by many queries at once, reuse their
/// connections (TCP, TLS and HTTP/2 are pipelined or multiplexed), check that every reply answers the query
/// it is matched to (ID and question, RFC 5452 §9.1), and count what happened in <see cref="Stats"/>.
/// They never throw for a network or protocol failure: the reply carries an <see cref="UpstreamError"/>.
/// </summary>
public interface IDnsUpstream : IAsyncDisposable
{
    public UpstreamConfig Config { get; }

    public UpstreamStats Stats { get; }

    /// <summary>
    /// Sends <paramref name="query"/> (a complete DNS message; its ID may be rewritten on the wire but the reply
    /// written to <paramref name="response"/> carries the query's own ID) and waits for the answer.
    /// </summary>
    public ValueTask<UpstreamReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken);
}
