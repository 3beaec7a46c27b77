using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Logging;

/// <summary>Why a query log line could not be read back.</summary>
public enum QueryLogReadError : byte
{
    None,

    /// <summary>Not one complete JSON object (truncated, garbage, trailing bytes).</summary>
    InvalidJson,

    /// <summary>The line is not valid UTF-8 (RFC 8259 §8.1 requires it).</summary>
    InvalidUtf8,

    /// <summary>A key the schema defines has a value of the wrong JSON type.</summary>
    WrongType,

    /// <summary><c>ts</c>, <c>protocol</c> or <c>verdict</c> is missing.</summary>
    MissingField,

    /// <summary><c>ts</c>, <c>protocol</c> or <c>verdict</c> holds a value the schema does not define.</summary>
    UnknownValue,
}

/// <summary>
/// The query log's JSON lines (docs/RESOLVER.md, "Query log"): one object per line, snake_case keys, fields that
/// are absent or cut by the privacy mode left out rather than written as null.
/// </summary>
public static class QueryLogJson
{
    /// <summary>RFC 3339 UTC with microseconds: <c>2025-01-02T03:04:05.123456Z</c>.</summary>
    public const string TimestampFormat = EventTime.Format;

    public static JsonWriterOptions WriterOptions { get; } = new()
    {
        // Read by people and JSON tools, never embedded in HTML: keep '+', '<' and non-ASCII as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The query log's <c>verdict</c> and the metrics' <c>outcome</c> label for an outcome.</summary>
    public static string FormatVerdict(QueryOutcome outcome) => outcome switch
    {
        QueryOutcome.Forwarded => "forwarded",
        QueryOutcome.Cached => "cached",
        QueryOutcome.Local => "local",
        QueryOutcome.Blocked => "blocked",
        QueryOutcome.Sinkholed => "sinkholed",
        QueryOutcome.BlockedExfiltration => "blocked_exfiltration",
        QueryOutcome.ServFail => "servfail",
        QueryOutcome.Malformed => "malformed",
        QueryOutcome.Dropped => "dropped",
        QueryOutcome.Overloaded => "overloaded",
        QueryOutcome.ClientRefused => "client_refused",
        QueryOutcome.RateLimited => "rate_limited",
        QueryOutcome.Stale => "stale",
        _ => "unknown",
    };

    public static bool TryParseVerdict(ReadOnlySpan<char> text, out QueryOutcome outcome)
    {
        foreach (QueryOutcome candidate in Enum.GetValues<QueryOutcome>())
        {
            if (text.SequenceEqual(FormatVerdict(candidate)))
            {
                outcome = candidate;
                return true;
            }
        }

        outcome = default;
        return false;
    }

    /// <summary>The query log's <c>protocol</c> and the metrics' <c>protocol</c> label for a listener.</summary>
    public static string FormatProtocol(ListenerProtocol protocol) => protocol switch
    {
        ListenerProtocol.Udp => "udp",
        ListenerProtocol.Tcp => "tcp",
        ListenerProtocol.Tls => "tls",
        ListenerProtocol.Https => "https",
        ListenerProtocol.Packet => "packet",
        _ => "unknown",
    };

    public static bool TryParseProtocol(ReadOnlySpan<char> text, out ListenerProtocol protocol)
    {
        foreach (ListenerProtocol candidate in Enum.GetValues<ListenerProtocol>())
        {
            if (text.SequenceEqual(FormatProtocol(candidate)))
            {
                protocol = candidate;
                return true;
            }
        }

        protocol = default;
        return false;
    }

    public static string FormatTimestamp(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    /// <summary>Writes one entry as a JSON object, applying the redactor's privacy mode field by field.</summary>
    public static void Write(Utf8JsonWriter writer, QueryLogEntry entry, PrivacyRedactor redactor)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(redactor);

        writer.WriteStartObject();

        // 27 bytes for the timestamp; formatting straight to UTF-8 keeps the string out of the heap.
        Span<byte> ts = stackalloc byte[32];
        if (entry.Timestamp.UtcDateTime.TryFormat(ts, out int tsLength, TimestampFormat, CultureInfo.InvariantCulture))
        {
            writer.WriteString("ts"u8, ts[..tsLength]);
        }
        else
        {
            writer.WriteString("ts"u8, FormatTimestamp(entry.Timestamp));
        }

        writer.WriteString("event"u8, "query"u8);
        writer.WriteString("protocol"u8, FormatProtocol(entry.Protocol));
        if (QueryLogPrivacy.Client(entry, redactor) is { } client)
        {
            // The client as src and sport, as on every line dnsw writes; a redacted client is a network, with no port.
            Range address = EndpointText.Parse(client, out int? port);
            writer.WriteString("src"u8, client.AsSpan()[address]);
            if (port is { } p)
            {
                writer.WriteNumber("sport"u8, p);
            }
        }

        WriteIfPresent(writer, "qname"u8, QueryLogPrivacy.QName(entry, redactor));

        WriteIfPresent(writer, "qtype"u8, entry.QType);
        writer.WriteString("verdict"u8, FormatVerdict(entry.Outcome));
        WriteIfPresent(writer, "reason"u8, entry.Reason);
        WriteIfPresent(writer, "rcode"u8, entry.Rcode);
        IReadOnlyList<string> answers = QueryLogPrivacy.Answers(entry, redactor);
        if (answers.Count > 0)
        {
            writer.WriteStartArray("answers"u8);
            foreach (string answer in answers)
            {
                writer.WriteStringValue(answer);
            }

            writer.WriteEndArray();
        }

        WriteIfPresent(writer, "upstream"u8, entry.Upstream);
        writer.WriteNumber("elapsed_us"u8, entry.ElapsedMicroseconds);
        if (entry.ExfiltrationScore is { } score)
        {
            writer.WriteNumber("exfiltration_score"u8, score);
        }

        if (entry.Count > 1)
        {
            writer.WriteNumber("count"u8, entry.Count);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// The line the writer puts where its budget left queries out: <c>{"ts":…,"event":"log_suppressed",
    /// "suppressed":N,"since":…}</c> — N queries between <c>since</c> and <c>ts</c> are not in the log.
    /// </summary>
    public static void WriteSuppressed(Utf8JsonWriter writer, DateTimeOffset now, DateTimeOffset since, long suppressed)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("ts"u8, FormatTimestamp(now));
        writer.WriteString("event"u8, "log_suppressed"u8);
        writer.WriteNumber("suppressed"u8, suppressed);
        writer.WriteString("since"u8, FormatTimestamp(since));
        writer.WriteEndObject();
    }

    /// <summary>One entry as one JSON line (no newline), for tests and tools.</summary>
    public static string Format(QueryLogEntry entry, PrivacyRedactor redactor)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, entry, redactor);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static bool TryParse(string line, [NotNullWhen(true)] out QueryLogEntry? entry, out QueryLogReadError error)
    {
        ArgumentNullException.ThrowIfNull(line);
        return TryParse(Encoding.UTF8.GetBytes(line), out entry, out error);
    }

    /// <summary>
    /// Reads one line back. Keys the schema does not know are skipped (the schema only grows); a field the privacy
    /// mode left out comes back null or empty.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Line, [NotNullWhen(true)] out QueryLogEntry? entry, out QueryLogReadError error)
    {
        entry = null;
        if (!System.Text.Unicode.Utf8.IsValid(utf8Line))
        {
            error = QueryLogReadError.InvalidUtf8;
            return false;
        }

        try
        {
            return TryParseCore(utf8Line, out entry, out error);
        }
        catch (JsonException)
        {
            // Utf8JsonReader reports broken JSON only by throwing; the caller gets a reason instead.
            error = QueryLogReadError.InvalidJson;
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString on an escape that decodes to no valid text (a lone surrogate such as \udc00).
            error = QueryLogReadError.InvalidJson;
            return false;
        }
    }

    private static bool TryParseCore(ReadOnlySpan<byte> utf8Line, out QueryLogEntry? entry, out QueryLogReadError error)
    {
        entry = null;
        var reader = new Utf8JsonReader(utf8Line, new JsonReaderOptions { MaxDepth = 4 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            error = QueryLogReadError.InvalidJson;
            return false;
        }

        DateTimeOffset? ts = null;
        ListenerProtocol? protocol = null;
        QueryOutcome? outcome = null;
        string? client = null, src = null, qname = null, qtype = null, reason = null, rcode = null, upstream = null;
        List<string> answers = [];
        long elapsed = 0;
        int? score = null;
        int count = 1;
        int? sport = null;

        while (true)
        {
            if (!reader.Read())
            {
                error = QueryLogReadError.InvalidJson;
                return false;
            }

            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string key = reader.GetString()!;
            if (!reader.Read())
            {
                error = QueryLogReadError.InvalidJson;
                return false;
            }

            switch (key)
            {
                case "ts":
                    if (!ReadString(ref reader, out string? tsText, out error))
                    {
                        return false;
                    }

                    if (!DateTimeOffset.TryParseExact(tsText, TimestampFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset parsed))
                    {
                        error = QueryLogReadError.UnknownValue;
                        return false;
                    }

                    ts = parsed;
                    break;
                case "protocol":
                    if (!ReadString(ref reader, out string? p, out error))
                    {
                        return false;
                    }

                    if (!TryParseProtocol(p, out ListenerProtocol lp))
                    {
                        error = QueryLogReadError.UnknownValue;
                        return false;
                    }

                    protocol = lp;
                    break;
                case "verdict":
                    if (!ReadString(ref reader, out string? v, out error))
                    {
                        return false;
                    }

                    if (!TryParseVerdict(v, out QueryOutcome qo))
                    {
                        error = QueryLogReadError.UnknownValue;
                        return false;
                    }

                    outcome = qo;
                    break;
                case "src":
                    if (!ReadString(ref reader, out src, out error))
                    {
                        return false;
                    }

                    break;
                case "sport":
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int sp) || sp is < 0 or > 65535)
                    {
                        error = QueryLogReadError.WrongType;
                        return false;
                    }

                    sport = sp;
                    break;
                case "client":
                    // The client as one "ip:port" field, as logs written before 1.1 have it.
                    if (!ReadString(ref reader, out client, out error))
                    {
                        return false;
                    }

                    break;
                case "qname":
                    if (!ReadString(ref reader, out qname, out error))
                    {
                        return false;
                    }

                    break;
                case "qtype":
                    if (!ReadString(ref reader, out qtype, out error))
                    {
                        return false;
                    }

                    break;
                case "reason":
                    if (!ReadString(ref reader, out reason, out error))
                    {
                        return false;
                    }

                    break;
                case "rcode":
                    if (!ReadString(ref reader, out rcode, out error))
                    {
                        return false;
                    }

                    break;
                case "upstream":
                    if (!ReadString(ref reader, out upstream, out error))
                    {
                        return false;
                    }

                    break;
                case "answers":
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        error = QueryLogReadError.WrongType;
                        return false;
                    }

                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.String)
                        {
                            error = QueryLogReadError.WrongType;
                            return false;
                        }

                        answers.Add(reader.GetString()!);
                    }

                    if (reader.TokenType != JsonTokenType.EndArray)
                    {
                        error = QueryLogReadError.InvalidJson;
                        return false;
                    }

                    break;
                case "elapsed_us":
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out elapsed))
                    {
                        error = QueryLogReadError.WrongType;
                        return false;
                    }

                    break;
                case "exfiltration_score":
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int s))
                    {
                        error = QueryLogReadError.WrongType;
                        return false;
                    }

                    score = s;
                    break;
                case "count":
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out count) || count < 1)
                    {
                        error = QueryLogReadError.WrongType;
                        return false;
                    }

                    break;
                default:
                    if (!reader.TrySkip())
                    {
                        error = QueryLogReadError.InvalidJson;
                        return false;
                    }

                    break;
            }
        }

        // One object per line: anything after it is not this schema.
        if (reader.Read())
        {
            error = QueryLogReadError.InvalidJson;
            return false;
        }

        if (ts is null || protocol is null || outcome is null)
        {
            error = QueryLogReadError.MissingField;
            return false;
        }

        entry = new QueryLogEntry
        {
            Timestamp = ts.Value,
            Protocol = protocol.Value,
            Client = src is not null ? EndpointText.Join(src, sport) : client,
            QName = qname,
            QType = qtype,
            Outcome = outcome.Value,
            Reason = reason,
            Rcode = rcode,
            Answers = answers,
            Upstream = upstream,
            ElapsedMicroseconds = elapsed,
            ExfiltrationScore = score,
            Count = count,
        };
        error = QueryLogReadError.None;
        return true;
    }

    private static bool ReadString(ref Utf8JsonReader reader, out string? value, out QueryLogReadError error)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            value = null;
            error = QueryLogReadError.WrongType;
            return false;
        }

        value = reader.GetString();
        error = QueryLogReadError.None;
        return true;
    }

    private static void WriteIfPresent(Utf8JsonWriter writer, ReadOnlySpan<byte> key, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(key, value);
        }
    }
}
