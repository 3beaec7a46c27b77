using System.Net;

namespace DnsWarden.Guard.Jail;

/// <summary>One decision of the jail's host proxy: a TLS connection (by SNI) or an HTTP request (by method, host and path).</summary>
public sealed record ProxyRequest
{
    public required DateTimeOffset Time { get; init; }

    public required bool Allowed { get; init; }

    /// <summary>The rule that allowed it (as written), "observe", or null when denied.</summary>
    public string? Rule { get; init; }

    /// <summary>Why it was denied: "no rule", "no SNI", "an IP literal", "malformed: …", "nothing within 10 s"…</summary>
    public string? Reason { get; init; }

    /// <summary>"tls", "http", "https" (a request read inside TLS the proxy terminated, <c>--intercept</c>), or "other" (neither: refused).</summary>
    public required string Protocol { get; init; }

    /// <summary>The HTTP method (null for TLS that was not terminated).</summary>
    public string? Method { get; init; }

    /// <summary>The host asked for: the SNI or the HTTP host; null when none was given.</summary>
    public string? Host { get; init; }

    /// <summary>The HTTP path and query (null for TLS).</summary>
    public string? Path { get; init; }

    /// <summary>Where the command dialled (before the redirect).</summary>
    public required IPEndPoint Destination { get; init; }

    /// <summary>Where the proxy connected, when allowed.</summary>
    public IPAddress? Upstream { get; init; }

    /// <summary>Bytes from the command (TLS: the whole connection; HTTP: this request's head and body).</summary>
    public long BytesSent { get; set; }

    /// <summary>Bytes to the command (TLS: the whole connection; HTTP: 0 except the 403 itself).</summary>
    public long BytesReceived { get; set; }
}
