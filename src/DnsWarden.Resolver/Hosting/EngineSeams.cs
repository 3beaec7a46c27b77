using System.Net;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Hosting;

/// <summary>
/// What a plane plugs into the engine <see cref="EngineParts.Engine"/> builds from its <see cref="ProxyConfig"/>:
/// the sinks and guards that differ between the proxy, the jail's stub and the TUN filter's virtual DNS, each set on
/// purpose by its plane (the reasons are on the planes' own defaults, <c>GuardEngine</c> for the jail and the filter).
/// </summary>
public sealed record EngineSeams
{
    /// <summary>Where each answered query goes: the proxy's query log, the jail's <c>--out</c> and tally, the filter's <c>--query-log</c>.</summary>
    public IQueryLog? QueryLog { get; init; }

    /// <summary>The jail's nftables gate: each answer's addresses opened before it is released (null elsewhere).</summary>
    public IAnswerObserver? AnswerObserver { get; init; }

    /// <summary>The rebinding guard, or null for none; the proxy's follows <c>rebind_protection</c>, the jail and the filter always guard.</summary>
    public RebindingGuard? Rebinding { get; init; }

    /// <summary>The exfiltration scorer, or null when nothing reads the score.</summary>
    public ExfiltrationScorer? Exfiltration { get; init; }

    /// <summary>
    /// The sinkhole A when the policy names none: 6.6.6.6 in the jail and the TUN filter (their egress is closed, a
    /// connection to it is refused and logged), 0.0.0.0 for the proxy (<see cref="ResolverPolicy.ProxySinkholeV4"/>).
    /// </summary>
    public IPAddress DefaultSinkholeV4 { get; init; } = ResolverPolicy.DefaultSinkholeV4;

    public ResolverMetrics Metrics { get; init; } = new();

    public TimeProvider Time { get; init; } = TimeProvider.System;
}
