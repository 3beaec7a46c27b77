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

    public ExfiltrationScorer(ExfiltrationPolicy? policy = null, BaseDomains? baseDomains = null, TimeProvider? time = null)
    {
        _detector = new ExfiltrationDetector(policy ?? ExfiltrationPolicy.Default, baseDomains ?? BaseDomains.Default);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Adds a query for <paramref name="qname"/> and returns its base domain's score now (0–100).</summary>
    public int AddQuery(string qname, ushort qtype)
    {
        long ns = NowNs();
        lock (_gate)
        {
            _detector.AddQuery(ns, qname, qtype);
            return _detector.ScoreOf(qname);
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
