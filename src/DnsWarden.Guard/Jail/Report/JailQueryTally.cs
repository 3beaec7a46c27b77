using DnsWarden.Indicators;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Guard.Jail.Report;

/// <summary>
/// Counts the stub's queries by name and verdict for the jail's report, and passes each entry on to the query log
/// when there is one (<c>--out</c>). Names are cut by the privacy mode before they are kept. Called from the engine's
/// threads; bounded (<see cref="MaxNames"/>).
/// </summary>
public sealed class JailQueryTally(IQueryLog? next, PrivacyMode privacy, BaseDomains baseDomains) : IQueryLog
{
    /// <summary>Distinct (name, verdict) pairs kept; queries for others are counted only.</summary>
    public const int MaxNames = 10_000;

    private readonly PrivacyRedactor _redactor = new(privacy, baseDomains);
    private readonly Dictionary<(string? Name, string Verdict), long> _counts = [];
    private readonly Lock _gate = new();
    private long _notListed;

    /// <summary>Queries for names past <see cref="MaxNames"/>.</summary>
    public long NotListed
    {
        get
        {
            lock (_gate)
            {
                return _notListed;
            }
        }
    }

    public void Write(QueryLogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        next?.Write(entry);
        var key = (_redactor.WriteName(entry.QName), QueryLogJson.FormatVerdict(entry.Outcome));
        lock (_gate)
        {
            if (_counts.Count >= MaxNames && !_counts.ContainsKey(key))
            {
                _notListed++;
                return;
            }

            _counts[key] = _counts.GetValueOrDefault(key) + 1;
        }
    }

    /// <summary>Every (name, verdict) with its count, most queried first.</summary>
    public IReadOnlyList<JailNameCount> Snapshot()
    {
        lock (_gate)
        {
            return
            [
                .. _counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Name, StringComparer.Ordinal).ThenBy(kv => kv.Key.Verdict, StringComparer.Ordinal)
                    .Select(kv => new JailNameCount(kv.Key.Name, kv.Key.Verdict, kv.Value)),
            ];
        }
    }
}
