using System.Text.Json;

namespace DnsWarden.E2E;

/// <summary>
/// Reads the fields of dnsw's JSON lines the way a consumer does (docs/EVENTS.md, "One vocabulary"): an endpoint is
/// an address field and a port field, put back together here as <c>ip:port</c> (<c>[v6]:port</c>) for comparisons.
/// </summary>
public static class EventFields
{
    /// <summary><c>dst</c> and <c>dport</c> as one endpoint.</summary>
    public static string? Dst(JsonElement e) => Endpoint(e, "dst", "dport");

    /// <summary><c>src</c> and <c>sport</c> as one endpoint (the network alone when privacy cut the port).</summary>
    public static string? Src(JsonElement e) => Endpoint(e, "src", "sport");

    /// <summary>The record's type: <c>leak</c>, <c>exfiltration</c>, <c>summary</c>, <c>observation</c>, <c>query</c>, <c>blocked_connection</c>.</summary>
    public static string? Event(JsonElement e) =>
        e.TryGetProperty("event", out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string? Endpoint(JsonElement e, string address, string port)
    {
        if (!e.TryGetProperty(address, out JsonElement a) || a.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        string text = a.GetString()!;
        if (!e.TryGetProperty(port, out JsonElement p) || p.ValueKind != JsonValueKind.Number)
        {
            return text;
        }

        string portText = p.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return text.Contains(':', StringComparison.Ordinal) ? $"[{text}]:{portText}" : $"{text}:{portText}";
    }
}
