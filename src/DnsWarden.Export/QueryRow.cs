using System.Text.Json.Serialization;

namespace DnsWarden.Export;

/// <summary>
/// One served DNS query as a row of <c>dns_queries</c> (docs/clickhouse/dns_queries.sql), mapped from the
/// resolver's query log entry where the entry is made; privacy is applied before the row is built.
/// </summary>
public sealed class QueryRow : ExportRow
{
    public QueryRow()
        : base(ExportTable.DnsQueries)
    {
    }

    /// <summary><c>proxy</c>, <c>jail</c> or <c>tun</c>.</summary>
    [JsonPropertyName("source")]
    public string Source { get; init; } = "";

    [JsonPropertyName("protocol")]
    public string Protocol { get; init; } = "";

    [JsonPropertyName("client")]
    public string Client { get; init; } = "";

    [JsonPropertyName("qname")]
    public string QName { get; init; } = "";

    [JsonPropertyName("base_domain")]
    public string BaseDomain { get; init; } = "";

    [JsonPropertyName("qtype")]
    public string QType { get; init; } = "";

    [JsonPropertyName("verdict")]
    public string Verdict { get; init; } = "";

    [JsonPropertyName("reason")]
    public string Reason { get; init; } = "";

    [JsonPropertyName("rcode")]
    public string Rcode { get; init; } = "";

    [JsonPropertyName("answers")]
    public IReadOnlyList<string> Answers { get; init; } = [];

    [JsonPropertyName("upstream")]
    public string Upstream { get; init; } = "";

    [JsonPropertyName("elapsed_us")]
    public uint ElapsedMicroseconds { get; init; }

    /// <summary>-1 when the query was not scored.</summary>
    [JsonPropertyName("exfil_score")]
    public short ExfiltrationScore { get; init; } = -1;
}
