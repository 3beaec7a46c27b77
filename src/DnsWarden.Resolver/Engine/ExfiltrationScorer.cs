using DnsWarden.Indicators;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Engine;

/// <summary>
/// The leak detector's exfiltration indicator (docs/EXFILTRATION.md) over the queries the engine serves: each
/// query is added, then its base domain's score is read and handed to the policy decision. One lock around one
/// detector: scoring is a few hundred nanoseconds, far below an upstream round trip, and keeps one window per base
/// domain however many threads serve.
/// </summary>
public sealed class ExfiltrationScorer
{
    private readonly ExfiltrationDetector _detector;
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly int _minQueries;

    public ExfiltrationScorer(ExfiltrationPolicy? policy = null, BaseDomains? baseDomains = null, TimeProvider? time = null)
    {
        policy ??= ExfiltrationPolicy.Default;
        _detector = new ExfiltrationDetector(policy, baseDomains ?? BaseDomains.Default);
        _minQueries = policy.MinQueries;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The score a base domain gets while a burst of new base domains is on and it has too few queries to be scored itself.</summary>
    public const int BurstScore = 100;

    /// <summary>
    /// Adds a query for <paramref name="qname"/> and returns its base domain's score now (0–100). When at least
    /// <paramref name="burstBaseDomains"/> base domains were first seen within the window (a flood of distinct base
    /// domains: an attempt to push a tunnel out of the table, or data carried in the base domains themselves), a base
    /// domain with fewer queries than the indicator needs to score it gets <see cref="BurstScore"/> instead.
    /// </summary>
    public int AddQuery(string qname, ushort qtype, int? burstBaseDomains = null)
    {
        long ns = NowNs();
        lock (_gate)
        {
            _detector.AddQuery(ns, qname, qtype);
            int score = _detector.ScoreOf(qname);
            if (burstBaseDomains is int burst && _detector.NewDomainsInWindow >= burst && _detector.QueriesOf(qname) < _minQueries)
            {
                score = BurstScore;
            }

            return score;
        }
    }

    /// <summary>Counts the answer's RCODE (the NXDOMAIN share is one of the indicator's figures).</summary>
    public void AddResponse(string qname, ushort rcode)
    {
        long ns = NowNs();
        lock (_gate)
        {
            _detector.AddResponse(ns, qname, rcode);
        }
    }

    private long NowNs() => (long)(_time.GetTimestamp() * (1e9 / _time.TimestampFrequency));
}
