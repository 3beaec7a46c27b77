using DnsWarden.Export;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Cli.Export;

/// <summary>
/// The engine's query log side that feeds the exporter: each finished entry becomes a row of <c>dns_queries</c>
/// (privacy applied as the JSON query log applies it) and is queued without waiting. Mapped from the model, not from
/// the JSON line.
/// </summary>
internal sealed class QueryExport(ClickHouseExporter exporter, string source, PrivacyMode privacy, BaseDomains baseDomains) : IQueryLog
{
    private readonly PrivacyRedactor _redactor = new(privacy, baseDomains);

    public void Write(QueryLogEntry entry)
    {
        exporter.TryAdd(ToRow(entry, source, _redactor, baseDomains));
    }

    public static QueryRow ToRow(QueryLogEntry e, string source, PrivacyRedactor redactor, BaseDomains baseDomains)
    {
        return new QueryRow
        {
            Timestamp = e.Timestamp,
            Source = source,
            Protocol = QueryLogJson.FormatProtocol(e.Protocol),
            Client = QueryLogPrivacy.Client(e, redactor) ?? "",
            QName = QueryLogPrivacy.QName(e, redactor) ?? "",
            BaseDomain = QueryLogPrivacy.QName(e, redactor) is null || e.QName is null ? "" : baseDomains.GetBaseDomain(e.QName),
            QType = e.QType ?? "",
            Verdict = QueryLogJson.FormatVerdict(e.Outcome),
            Reason = e.Reason ?? "",
            Rcode = e.Rcode ?? "",
            Answers = QueryLogPrivacy.Answers(e, redactor),
            Upstream = e.Upstream ?? "",
            ElapsedMicroseconds = (uint)Math.Clamp(e.ElapsedMicroseconds, 0, uint.MaxValue),
            ExfiltrationScore = e.ExfiltrationScore is int s ? (short)s : (short)-1,
        };
    }
}
