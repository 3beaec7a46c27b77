using System.Buffers;
using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// The query log as Elastic Common Schema lines (<c>--log-format ecs</c>; docs/ECS.md): the entry <see cref="QueryLogJson"/>
/// writes, under ECS names, cut by the same privacy rules (<see cref="QueryLogPrivacy"/>) field by field. Fields with no
/// value are left out; what ECS has no field for goes under <c>dnsw</c>.
/// </summary>
public static class QueryLogEcs
{
    public const string Dataset = "dnsw.query";

    /// <summary>
    /// <c>event.type</c> besides <c>protocol</c>: <c>allowed</c> for what was answered, <c>denied</c> for what the policy or
    /// a limit refused; none for failures (SERVFAIL, malformed, dropped), which are neither.
    /// </summary>
    public static string? Decision(QueryOutcome outcome) => outcome switch
    {
        QueryOutcome.Forwarded or QueryOutcome.Cached or QueryOutcome.Local or QueryOutcome.Stale => "allowed",
        QueryOutcome.Blocked or QueryOutcome.Sinkholed or QueryOutcome.BlockedExfiltration
            or QueryOutcome.ClientRefused or QueryOutcome.RateLimited => "denied",
        _ => null,
    };

    /// <summary>Writes one entry as an ECS object, applying the redactor's privacy mode as the JSON log does.</summary>
    public static void Write(Utf8JsonWriter w, QueryLogEntry entry, PrivacyRedactor redactor) =>
        Write(w, entry, redactor, BaseDomains.Default);

    public static void Write(Utf8JsonWriter w, QueryLogEntry entry, PrivacyRedactor redactor, BaseDomains baseDomains)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(redactor);
        ArgumentNullException.ThrowIfNull(baseDomains);

        w.WriteStartObject();
        EcsJson.WriteHeader(w, QueryLogJson.FormatTimestamp(entry.Timestamp));
        string verdict = QueryLogJson.FormatVerdict(entry.Outcome);
        if (Decision(entry.Outcome) is { } decision)
        {
            EcsJson.StartEvent(w, "event", verdict, Dataset, "protocol", decision);
        }
        else
        {
            EcsJson.StartEvent(w, "event", verdict, Dataset, "protocol");
        }

        WriteIfPresent(w, "reason"u8, entry.Reason);
        // ECS durations are nanoseconds.
        w.WriteNumber("duration"u8, entry.ElapsedMicroseconds * 1000);
        w.WriteEndObject();

        EcsEndpoint? client = QueryLogPrivacy.Client(entry, redactor) is { } c ? EcsJson.ParseEndpoint(c) : null;
        if (client is { } source)
        {
            EcsJson.StartEndpoint(w, "source", source);
        }

        w.WriteStartObject("network"u8);
        if (entry.Protocol is ListenerProtocol.Udp)
        {
            w.WriteString("transport"u8, "udp"u8);
        }
        else if (entry.Protocol is ListenerProtocol.Tcp or ListenerProtocol.Tls or ListenerProtocol.Https)
        {
            // ECS's transport is the layer-4 one; DoT and DoH still run over TCP (the query log's protocol says which).
            w.WriteString("transport"u8, "tcp"u8);
        }

        w.WriteString("protocol"u8, "dns"u8);
        if (client is { } endpoint && EcsJson.NetworkType(endpoint) is { } type)
        {
            w.WriteString("type"u8, type);
        }

        w.WriteEndObject();

        string? qname = QueryLogPrivacy.QName(entry, redactor);
        IReadOnlyList<string> answers = QueryLogPrivacy.Answers(entry, redactor);
        w.WriteStartObject("dns"u8);
        w.WriteString("type"u8, entry.Rcode is null ? "query"u8 : "answer"u8);
        if (qname is not null || entry.QType is not null)
        {
            w.WriteStartObject("question"u8);
            WriteIfPresent(w, "name"u8, qname);
            WriteIfPresent(w, "type"u8, entry.QType);
            WriteIfPresent(w, "registered_domain"u8, EcsJson.RegisteredDomain(qname, baseDomains));
            w.WriteEndObject();
        }

        WriteIfPresent(w, "response_code"u8, entry.Rcode);
        if (answers.Count > 0)
        {
            w.WriteStartArray("answers"u8);
            foreach (string answer in answers)
            {
                w.WriteStartObject();
                w.WriteString("type"u8, answer.Contains(':', StringComparison.Ordinal) ? "AAAA"u8 : "A"u8);
                w.WriteString("data"u8, answer);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("resolved_ip"u8);
            foreach (string answer in answers)
            {
                w.WriteStringValue(answer);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();

        if (client?.Ip is { } related)
        {
            w.WriteStartObject("related"u8);
            w.WriteStartArray("ip"u8);
            w.WriteStringValue(related.ToString());
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteString("verdict"u8, verdict);
        w.WriteString("protocol"u8, QueryLogJson.FormatProtocol(entry.Protocol));
        WriteIfPresent(w, "upstream"u8, entry.Upstream);
        w.WriteNumber("elapsed_us"u8, entry.ElapsedMicroseconds);
        if (entry.ExfiltrationScore is { } score)
        {
            w.WriteNumber("exfiltration_score"u8, score);
        }

        if (entry.Count > 1)
        {
            w.WriteNumber("count"u8, entry.Count);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The budget's <c>log_suppressed</c> line in ECS: <c>event.action: log_suppressed</c>, <c>event.start</c> the first query left out.</summary>
    public static void WriteSuppressed(Utf8JsonWriter w, DateTimeOffset now, DateTimeOffset since, long suppressed)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        EcsJson.WriteHeader(w, QueryLogJson.FormatTimestamp(now));
        EcsJson.StartEvent(w, "event", "log_suppressed", Dataset, "info");
        w.WriteString("start"u8, QueryLogJson.FormatTimestamp(since));
        w.WriteString("end"u8, QueryLogJson.FormatTimestamp(now));
        w.WriteEndObject();
        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteNumber("suppressed"u8, suppressed);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>One entry as one ECS line (no newline), for tests and tools.</summary>
    public static string Format(QueryLogEntry entry, PrivacyRedactor redactor, BaseDomains? baseDomains = null)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, EcsJson.WriterOptions))
        {
            Write(writer, entry, redactor, baseDomains ?? BaseDomains.Default);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteIfPresent(Utf8JsonWriter w, ReadOnlySpan<byte> key, string? value)
    {
        if (value is not null)
        {
            w.WriteString(key, value);
        }
    }
}
