using System.Buffers;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Report;

/// <summary>
/// The summary as one Elastic Common Schema line (docs/ECS.md): <c>event.kind: metric</c> at the time it was written,
/// <c>event.start</c>/<c>event.end</c> the first and last event, and the summary object of docs/EVENTS.md under
/// <c>dnsw.summary</c> — its counts are dnsw's own, and one writer of them is enough. Its null fields are left out, as
/// everywhere in ECS lines.
/// </summary>
public static class LeakSummaryEcs
{
    public static void Write(Utf8JsonWriter w, LeakSummary summary, string? policy, string? privacy, CaptureTotals? capture, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(summary);
        w.WriteStartObject();
        EcsJson.WriteHeader(w, LeakEventJson.FormatTime(now));
        EcsJson.StartEvent(w, "metric", "leak-summary", LeakEventEcs.Dataset, "info");
        if (summary.First is { } first && summary.Last is { } last)
        {
            w.WriteString("start"u8, LeakEventJson.FormatTime(first));
            w.WriteString("end"u8, LeakEventJson.FormatTime(last));
        }

        w.WriteEndObject();
        w.WriteStartObject(EcsJson.CustomObject);
        w.WritePropertyName("summary"u8);
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer, EcsJson.WriterOptions))
        {
            summary.WriteJson(json, policy, privacy, capture);
        }

        using (JsonDocument doc = JsonDocument.Parse(buffer.WrittenMemory))
        {
            WriteWithoutNulls(w, doc.RootElement);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteWithoutNulls(Utf8JsonWriter w, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.Null)
                    {
                        w.WritePropertyName(p.Name);
                        WriteWithoutNulls(w, p.Value);
                    }
                }

                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (JsonElement item in e.EnumerateArray())
                {
                    WriteWithoutNulls(w, item);
                }

                w.WriteEndArray();
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }
}
