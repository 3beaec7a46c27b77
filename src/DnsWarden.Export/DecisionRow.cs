using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>One packet the jail or the TUN filter refused, as a row of <c>guard_decisions</c> (docs/clickhouse/guard_decisions.sql).</summary>
public sealed class DecisionRow : ExportRow
{
    public DecisionRow()
        : base(ExportTable.GuardDecisions)
    {
    }

    /// <summary><c>jail</c> or <c>tun</c>.</summary>
    [JsonPropertyName("source")]
    public string Source { get; init; } = "";

    /// <summary><c>refused</c> (the only decision logged per packet today).</summary>
    [JsonPropertyName("decision")]
    public string Decision { get; init; } = "refused";

    /// <summary>Why: <c>unresolved</c>, <c>quic</c>, <c>dot</c>, <c>no-service</c>.</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; init; } = "";

    [JsonPropertyName("protocol")]
    public string Protocol { get; init; } = "";

    [JsonPropertyName("dst")]
    public string Destination { get; init; } = "";

    [JsonPropertyName("port")]
    public ushort Port { get; init; }
}
