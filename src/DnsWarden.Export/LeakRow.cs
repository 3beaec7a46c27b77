using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>
/// One leak event as a row of <c>leak_events</c> (docs/clickhouse/leak_events.sql). Plain values only: the leak
/// detector's model is mapped to it where events are written, so this project knows nothing of the observe plane.
/// A field that does not apply is <c>""</c>, <c>0</c> or <c>-1</c> as the schema file says.
/// </summary>
public sealed class LeakRow : ExportRow
{
    public LeakRow()
        : base(ExportTable.LeakEvents)
    {
    }

    /// <summary><c>leak</c> or <c>exfiltration</c>.</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; init; } = "";

    /// <summary><c>A</c>–<c>D</c>; <c>""</c> for exfiltration.</summary>
    [JsonPropertyName("leak_type")]
    public string LeakType { get; init; } = "";

    [JsonPropertyName("severity")]
    public string Severity { get; init; } = "";

    [JsonPropertyName("transport")]
    public string Transport { get; init; } = "";

    [JsonPropertyName("confidence")]
    public string Confidence { get; init; } = "";

    [JsonPropertyName("qname")]
    public string QName { get; init; } = "";

    [JsonPropertyName("qtype")]
    public string QType { get; init; } = "";

    [JsonPropertyName("base_domain")]
    public string BaseDomain { get; init; } = "";

    [JsonPropertyName("iface")]
    public string Interface { get; init; } = "";

    [JsonPropertyName("route_class")]
    public string RouteClass { get; init; } = "";

    [JsonPropertyName("src")]
    public string Source { get; init; } = "";

    [JsonPropertyName("dst")]
    public string Destination { get; init; } = "";

    /// <summary>0 when no process was named.</summary>
    [JsonPropertyName("process_pid")]
    public int ProcessPid { get; init; }

    [JsonPropertyName("process_name")]
    public string ProcessName { get; init; } = "";

    [JsonPropertyName("process_exe")]
    public string ProcessExe { get; init; } = "";

    /// <summary>-1 when unknown.</summary>
    [JsonPropertyName("process_uid")]
    public long ProcessUid { get; init; } = -1;

    [JsonPropertyName("process_cmdline")]
    public string ProcessCommandLine { get; init; } = "";

    [JsonPropertyName("attribution_confidence")]
    public string AttributionConfidence { get; init; } = "";

    [JsonPropertyName("attribution_reason")]
    public string AttributionReason { get; init; } = "";

    [JsonPropertyName("evidence")]
    public IReadOnlyList<string> Evidence { get; init; } = [];

    [JsonPropertyName("frame")]
    public long Frame { get; init; }

    [JsonPropertyName("server_name")]
    public string ServerName { get; init; } = "";

    [JsonPropertyName("provider")]
    public string Provider { get; init; } = "";

    [JsonPropertyName("geo_country")]
    public string GeoCountry { get; init; } = "";

    /// <summary>0 when unknown.</summary>
    [JsonPropertyName("geo_asn")]
    public long GeoAsn { get; init; }

    [JsonPropertyName("correlation_id")]
    public string CorrelationId { get; init; } = "";

    /// <summary>Leak-D: the interface the connection that used the answer left by.</summary>
    [JsonPropertyName("conn_iface")]
    public string ConnectionInterface { get; init; } = "";

    /// <summary>Leak-D: that connection's destination.</summary>
    [JsonPropertyName("conn_dst")]
    public string ConnectionDestination { get; init; } = "";

    /// <summary>-1 unless an exfiltration event.</summary>
    [JsonPropertyName("exfil_score")]
    public int ExfiltrationScore { get; init; } = -1;

    [JsonPropertyName("exfil_queries")]
    public int ExfiltrationQueries { get; init; }

    [JsonPropertyName("exfil_unique_names")]
    public int ExfiltrationUniqueNames { get; init; }
}
