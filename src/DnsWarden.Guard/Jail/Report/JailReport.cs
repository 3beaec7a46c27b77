using System.Runtime.Versioning;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Guard.Jail.Report;

/// <summary>
/// What one jail run did, for <c>dnsw jail --report</c>: filled once, when the command has exited, from what the jail
/// already keeps (the engine's verdict counters, the queries the stub answered, the packets the egress rules refused).
/// A renderer reads it; a new part of the jail adds a property here and a section there.
/// </summary>
public sealed record JailReport
{
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary><c>sinkhole</c> or <c>policy</c>.</summary>
    public required string Mode { get; init; }

    /// <summary>Where the resolver policy came from (a file, or the sinkhole mode).</summary>
    public required string Policy { get; init; }

    /// <summary>How names are written (<c>full</c>, <c>redacted</c>, <c>minimal</c>).</summary>
    public required string Privacy { get; init; }

    public required DateTimeOffset Started { get; init; }

    public required DateTimeOffset Ended { get; init; }

    /// <summary>The command's exit status (128 + signal when a signal ended it).</summary>
    public required int ExitStatus { get; init; }

    /// <summary>Queries the stub answered, by verdict; every verdict present.</summary>
    public required IReadOnlyDictionary<string, long> QueriesByVerdict { get; init; }

    /// <summary>Names by verdict, most queried first (at most <see cref="JailQueryTally.MaxNames"/> distinct).</summary>
    public required IReadOnlyList<JailNameCount> Names { get; init; }

    /// <summary>Queries for names past <see cref="JailQueryTally.MaxNames"/>, counted only.</summary>
    public long NamesNotListed { get; init; }

    /// <summary>Refused packets by kind, destination and (inbound) source, most first.</summary>
    public required IReadOnlyList<JailRefusal> Refused { get; init; }

    /// <summary>Refused packets past what the jail keeps one by one, counted only.</summary>
    public long RefusedNotListed { get; init; }

    /// <summary>Verdicts that let a name resolve to real addresses (the "allowed" side of the report).</summary>
    public static bool IsAllowed(string verdict) => verdict is "forwarded" or "cached" or "local";

    /// <summary>Builds the report at the end of a run.</summary>
    [SupportedOSPlatform("linux")]
    public static JailReport From(
        JailOptions options, DateTimeOffset started, int exitStatus, ResolverMetrics metrics, JailQueryTally? names, BlockedAttempts? blocked)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        var byVerdict = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (QueryOutcome outcome in Enum.GetValues<QueryOutcome>())
        {
            byVerdict[QueryLogJson.FormatVerdict(outcome)] = metrics.Count(outcome);
        }

        IReadOnlyList<BlockedAttempt> attempts = blocked?.Snapshot() ?? [];
        return new JailReport
        {
            Command = options.Command,
            Mode = options.Mode == JailMode.Sinkhole ? "sinkhole" : "policy",
            Policy = options.Mode == JailMode.Sinkhole ? "sinkhole mode: every A is 6.6.6.6, every AAAA ::" : options.Engine.Policy.Source,
            Privacy = PrivacyRedactor.Name(options.Privacy),
            Started = started,
            Ended = DateTimeOffset.UtcNow,
            ExitStatus = exitStatus,
            QueriesByVerdict = byVerdict,
            Names = names?.Snapshot() ?? [],
            NamesNotListed = names?.NotListed ?? 0,
            Refused =
            [
                .. attempts.GroupBy(a => (a.Kind, a.Protocol, a.Destination, a.Port, a.Source))
                    .Select(g => new JailRefusal(g.Key.Kind, g.Key.Protocol, g.Key.Destination, g.Key.Port, g.Count()) { Source = g.Key.Source })
                    .OrderByDescending(r => r.Packets).ThenBy(r => r.Destination, StringComparer.Ordinal).ThenBy(r => r.Port),
            ],
            RefusedNotListed = blocked?.NotKept ?? 0,
        };
    }
}
