using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// One served query, as the query log writes it (docs/RESOLVER.md, "Query log"). Built only when a log is
/// configured; the privacy mode is applied by the writer, never here.
/// </summary>
public sealed record QueryLogEntry
{
    public required DateTimeOffset Timestamp { get; init; }

    public required ListenerProtocol Protocol { get; init; }

    /// <summary>The client's address and port, e.g. <c>10.0.0.2:40112</c> or <c>[fd00::2]:40112</c>.</summary>
    public string? Client { get; init; }

    /// <summary>The question's name without the trailing dot; null when the query had none that could be read.</summary>
    public string? QName { get; init; }

    /// <summary>The question's type mnemonic (<c>A</c>, <c>AAAA</c>, <c>TYPE65534</c>).</summary>
    public string? QType { get; init; }

    public required QueryOutcome Outcome { get; init; }

    /// <summary>Why, in words (the policy rule, "cache hit", "all upstreams failed: timeout").</summary>
    public string? Reason { get; init; }

    /// <summary>The response code sent (<c>NOERROR</c>, <c>NXDOMAIN</c>, <c>SERVFAIL</c>…); null when nothing was sent.</summary>
    public string? Rcode { get; init; }

    /// <summary>The A/AAAA addresses in the answer (what the IP tracker recorded).</summary>
    public IReadOnlyList<string> Answers { get; init; } = [];

    /// <summary>The upstream URL that answered, for forwarded queries.</summary>
    public string? Upstream { get; init; }

    /// <summary>Time from receipt to answer in microseconds.</summary>
    public long ElapsedMicroseconds { get; init; }

    /// <summary>The exfiltration indicator's score for the name's base domain (0–100), or null when not scored.</summary>
    public int? ExfiltrationScore { get; init; }

    /// <summary>
    /// How many queries this line stands for: 1, or the repeats the writer folded into it (same client address, name,
    /// type and verdict within the aggregation window after the line written for the first of them).
    /// </summary>
    public int Count { get; init; } = 1;
}

/// <summary>Where the engine hands finished entries; must not block (a slow sink drops and counts).</summary>
public interface IQueryLog
{
    public void Write(QueryLogEntry entry);
}
