using DnsWarden.Export;
using DnsWarden.Indicators;
using DnsWarden.Leak.Events;

namespace DnsWarden.Cli.Export;

/// <summary>
/// Leak events to rows of <c>leak_events</c> and back, field by field from the model (not from the JSON text, so a
/// renamed JSON key does not move a column). Back is for <c>leak report --from</c>: what the summary reads survives
/// the round trip exactly (kind, type, severity, transport, process name, destination, time to 100 ns).
/// </summary>
internal static class LeakRows
{
    public static LeakRow ToRow(LeakEvent e, BaseDomains baseDomains) => new()
    {
        Timestamp = e.Timestamp,
        Kind = e.Kind,
        LeakType = e.LeakType?.ToString() ?? "",
        Severity = e.Severity.ToString(),
        Transport = e.Transport,
        Confidence = LeakEventJson.Name(e.Confidence),
        QName = e.QName ?? "",
        QType = e.QType ?? "",
        BaseDomain = e.Exfiltration?.BaseDomain ?? (e.QName is { } q ? baseDomains.GetBaseDomain(q.TrimStart('*', '.')) : ""),
        Interface = e.Interface,
        RouteClass = e.RouteClass,
        Source = e.Source ?? "",
        Destination = e.Destination,
        ProcessPid = e.Process?.Pid ?? 0,
        ProcessName = e.Process?.Name ?? "",
        ProcessExe = e.Process?.Exe ?? "",
        ProcessUid = e.Process?.Uid ?? -1,
        ProcessCommandLine = e.Process?.CommandLine ?? "",
        AttributionConfidence = LeakEventJson.Name(e.Attribution.Confidence),
        AttributionReason = e.Attribution.Reason ?? "",
        Evidence = e.Evidence,
        Frame = e.Frame,
        ServerName = e.ServerName ?? "",
        Provider = e.Provider ?? "",
        GeoCountry = e.GeoIp?.CountryCode ?? "",
        GeoAsn = e.GeoIp?.Asn ?? 0,
        CorrelationId = e.CorrelationId ?? "",
        ConnectionInterface = e.Connection?.Interface ?? "",
        ConnectionDestination = e.Connection?.Destination ?? "",
        ExfiltrationScore = e.Exfiltration?.Score ?? -1,
        ExfiltrationQueries = e.Exfiltration?.Queries ?? 0,
        ExfiltrationUniqueNames = e.Exfiltration?.UniqueSubdomains ?? 0,
    };

    /// <summary>A row read back as an event; false (with why) for a row whose words this dnsw does not know.</summary>
    public static bool TryToEvent(LeakRow r, out LeakEvent? e, out string? error)
    {
        e = null;
        LeakType? type = null;
        if (r.LeakType.Length > 0)
        {
            if (!Enum.TryParse(r.LeakType, out LeakType t) || !Enum.IsDefined(t))
            {
                error = $"leak_type '{r.LeakType}' is not A, B, C or D";
                return false;
            }

            type = t;
        }

        if (!Enum.TryParse(r.Severity, out Severity severity) || !Enum.IsDefined(severity))
        {
            error = $"severity '{r.Severity}' is not P0-P3";
            return false;
        }

        e = new LeakEvent
        {
            Kind = r.Kind,
            Timestamp = r.Timestamp,
            LeakType = type,
            Severity = severity,
            Transport = r.Transport,
            Confidence = ConfidenceOf(r.Confidence),
            QName = NullIfEmpty(r.QName),
            QType = NullIfEmpty(r.QType),
            Interface = r.Interface,
            RouteClass = r.RouteClass,
            Source = NullIfEmpty(r.Source),
            Destination = r.Destination,
            Process = r.ProcessName.Length == 0 ? null
                : new ProcessInfo(r.ProcessPid, r.ProcessName, NullIfEmpty(r.ProcessExe), r.ProcessUid < 0 ? null : (int)r.ProcessUid, NullIfEmpty(r.ProcessCommandLine), []),
            Attribution = new Attribution(ConfidenceOf(r.AttributionConfidence), NullIfEmpty(r.AttributionReason)),
            Evidence = r.Evidence,
            Frame = r.Frame,
            ServerName = NullIfEmpty(r.ServerName),
            Provider = NullIfEmpty(r.Provider),
            CorrelationId = NullIfEmpty(r.CorrelationId),
        };
        error = null;
        return true;
    }

    private static Confidence ConfidenceOf(string text) => text switch
    {
        "high" => Confidence.High,
        "medium" => Confidence.Medium,
        "low" => Confidence.Low,
        _ => Confidence.None,
    };

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
