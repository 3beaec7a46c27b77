using DnsWarden.Indicators;
using System.Globalization;
using System.Text.Json;

namespace DnsWarden.Leak.Events;

/// <summary>
/// LeakEvent as JSON lines (docs/EVENTS.md) and back. Writing is for <c>leak watch</c>; reading is for
/// <c>leak report</c>, tolerant of keys it does not know (the schema only grows).
/// </summary>
public static class LeakEventJson
{
    public static JsonWriterOptions WriterOptions { get; } = new()
    {
        // Evidence is read by people and by JSON tools, not embedded in HTML: keep '+', '<' and non-ASCII readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string FormatTime(DateTimeOffset t) => EventTime.ToText(t);

    public static string Name(Confidence c) => c switch
    {
        Confidence.High => "high",
        Confidence.Medium => "medium",
        Confidence.Low => "low",
        _ => "none",
    };

    public static void Write(Utf8JsonWriter w, LeakEvent e)
    {
        w.WriteStartObject();
        w.WriteString("ts", FormatTime(e.Timestamp));
        w.WriteString("event", e.Kind);
        WriteNullable(w, "leak_type", e.LeakType?.ToString());
        w.WriteString("severity", e.Severity.ToString());
        w.WriteString("transport", e.Transport);
        w.WriteString("confidence", Name(e.Confidence));
        WriteNullable(w, "qname", e.QName);
        WriteNullable(w, "qtype", e.QType);
        w.WriteString("iface", e.Interface);
        w.WriteString("route_class", e.RouteClass);
        WriteEndpoint(w, "src", "sport", e.Source);
        WriteEndpoint(w, "dst", "dport", e.Destination);
        WriteProcess(w, "process", e.Process);
        WriteAttribution(w, e.Attribution);
        w.WriteStartArray("evidence");
        foreach (string s in e.Evidence)
        {
            w.WriteStringValue(s);
        }

        w.WriteEndArray();
        WriteNullable(w, "file", e.File);
        w.WriteNumber("frame", e.Frame);
        WriteNullable(w, "server_name", e.ServerName);
        WriteNullable(w, "provider", e.Provider);
        if (e.GeoIp is { } g)
        {
            w.WriteStartObject("geoip");
            WriteNullable(w, "country", g.CountryCode);
            WriteNullable(w, "country_name", g.CountryName);
            if (g.Asn is { } asn)
            {
                w.WriteNumber("asn", asn);
            }
            else
            {
                w.WriteNull("asn");
            }

            WriteNullable(w, "as_org", g.AsOrganization);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("geoip");
        }

        WriteNullable(w, "correlation_id", e.CorrelationId);
        if (e.Connection is { } c)
        {
            w.WriteStartObject("connection");
            w.WriteString("kind", c.Kind);
            w.WriteString("iface", c.Interface);
            w.WriteString("route_class", c.RouteClass);
            WriteEndpoint(w, "dst", "dport", c.Destination);
            WriteNullable(w, "server_name", c.ServerName);
            WriteNullable(w, "file", c.File);
            w.WriteNumber("frame", c.Frame);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("connection");
        }

        if (e.Exfiltration is { } x)
        {
            w.WriteStartObject("exfiltration");
            w.WriteString("base_domain", x.BaseDomain);
            w.WriteNumber("score", x.Score);
            w.WriteNumber("queries", x.Queries);
            w.WriteNumber("unique_subdomains", x.UniqueSubdomains);
            w.WriteNumber("mean_entropy", Math.Round(x.MeanEntropy, 3));
            w.WriteNumber("max_label_length", x.MaxLabelLength);
            w.WriteNumber("max_name_length", x.MaxNameLength);
            w.WriteNumber("txt_null_share", Math.Round(x.TxtNullShare, 3));
            w.WriteNumber("nxdomain_share", Math.Round(x.NxdomainShare, 3));
            w.WriteNumber("window_seconds", x.WindowSeconds);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("exfiltration");
        }

        if (e.OnBehalfOf is { } o)
        {
            w.WriteStartObject("on_behalf_of");
            WriteProcess(w, "process", o.Process);
            WriteAttribution(w, o.Attribution);
            WriteNullable(w, "file", o.File);
            w.WriteNumber("frame", o.Frame);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("on_behalf_of");
        }

        WriteStrings(w, "path", e.Path);
        WriteStrings(w, "path_route_classes", e.PathRouteClasses);
        w.WriteEndObject();
    }

    /// <summary>An endpoint as its address and its port (null when there is none: a redacted network, or no endpoint).</summary>
    private static void WriteEndpoint(Utf8JsonWriter w, string addressName, string portName, string? endpoint)
    {
        if (endpoint is null)
        {
            w.WriteNull(addressName);
            w.WriteNull(portName);
            return;
        }

        (string address, int? port) = EndpointText.Split(endpoint);
        w.WriteString(addressName, address);
        WriteNullable(w, portName, port);
    }

    /// <summary>
    /// An endpoint back from its two fields; a line of the first vocabulary (before 1.1) has <c>ip:port</c> in the
    /// address field and no port field, which is the same text.
    /// </summary>
    private static string? ReadEndpoint(JsonElement r, string addressName, string portName) =>
        Str(r, addressName) is { } address ? EndpointText.Join(address, NullableInt(r, portName)) : null;

    private static void WriteStrings(Utf8JsonWriter w, string name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartArray(name);
        foreach (string v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static string[]? ReadStrings(JsonElement r, string name) =>
        r.TryGetProperty(name, out JsonElement a) && a.ValueKind == JsonValueKind.Array
            ? [.. a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)]
            : null;

    private static void WriteAttribution(Utf8JsonWriter w, Attribution a)
    {
        w.WriteStartObject("attribution");
        w.WriteString("confidence", Name(a.Confidence));
        WriteNullable(w, "reason", a.Reason);
        w.WriteString("source", a.Source);
        w.WriteEndObject();
    }

    private static void WriteProcess(Utf8JsonWriter w, string name, ProcessInfo? process)
    {
        if (process is not { } p)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteNumber("pid", p.Pid);
        w.WriteString("name", p.Name);
        WriteNullable(w, "exe", p.Exe);
        WriteNullable(w, "uid", p.Uid);
        WriteNullable(w, "cmdline", p.CommandLine);
        w.WriteStartArray("parents");
        foreach (ProcessAncestor a in p.Parents)
        {
            w.WriteStartObject();
            w.WriteNumber("pid", a.Pid);
            w.WriteString("name", a.Name);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteNullable(w, "tid", p.Tid);
        WriteNullable(w, "thread", p.Thread);
        WriteNullable(w, "gid", p.Gid);
        WriteNullable(w, "user", p.User);
        if (p.Cgroup is { } c)
        {
            w.WriteStartObject("cgroup");
            w.WriteNumber("id", c.Id);
            WriteNullable(w, "path", c.Path);
            WriteNullable(w, "unit", c.Unit);
            if (c.Container is { } k)
            {
                w.WriteStartObject("container");
                w.WriteString("runtime", k.Runtime);
                w.WriteString("id", k.Id);
                WriteNullable(w, "pod", k.Pod);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("container");
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("cgroup");
        }

        w.WriteEndObject();
    }

    private static ProcessInfo? ReadProcess(JsonElement r, string name)
    {
        if (!r.TryGetProperty(name, out JsonElement pe) || pe.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        CgroupInfo? cgroup = null;
        if (pe.TryGetProperty("cgroup", out JsonElement ce) && ce.ValueKind == JsonValueKind.Object)
        {
            ContainerInfo? container = ce.TryGetProperty("container", out JsonElement ke) && ke.ValueKind == JsonValueKind.Object
                ? new ContainerInfo(Str(ke, "runtime") ?? "", Str(ke, "id") ?? "", Str(ke, "pod"))
                : null;
            cgroup = new CgroupInfo(
                ce.TryGetProperty("id", out JsonElement id) && id.TryGetUInt64(out ulong idValue) ? idValue : 0,
                Str(ce, "path"), Str(ce, "unit"), container);
        }

        return new ProcessInfo(
            pe.TryGetProperty("pid", out JsonElement pid) && pid.TryGetInt32(out int pidValue) ? pidValue : 0,
            Str(pe, "name") ?? "?", Str(pe, "exe"), NullableInt(pe, "uid"), Str(pe, "cmdline"),
            pe.TryGetProperty("parents", out JsonElement parents) && parents.ValueKind == JsonValueKind.Array
                ? [.. parents.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.Object).Select(a => new ProcessAncestor(Int(a, "pid"), Str(a, "name") ?? "?"))]
                : [])
        {
            Tid = NullableInt(pe, "tid"),
            Thread = Str(pe, "thread"),
            Gid = NullableInt(pe, "gid"),
            User = Str(pe, "user"),
            Cgroup = cgroup,
        };
    }

    private static Attribution ReadAttribution(JsonElement r) =>
        r.TryGetProperty("attribution", out JsonElement ae) && ae.ValueKind == JsonValueKind.Object
            ? new Attribution(ParseConfidence(Str(ae, "confidence")), Str(ae, "reason")) { Source = Str(ae, "source") ?? "none" }
            : new Attribution(Confidence.None, null);

    private static int? NullableInt(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    private static void WriteNullable(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>Reads one event line; false with a reason for anything that is not an event (a summary line is not an error: <paramref name="isSummary"/>).</summary>
    public static bool TryParse(string line, out LeakEvent? leakEvent, out bool isSummary, out string? error)
    {
        leakEvent = null;
        isSummary = false;
        error = null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 16 });
            JsonElement r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
            {
                error = "expected a JSON object";
                return false;
            }

            // "event" and "ts" since 1.1; "kind" and "timestamp" in files written before, still read.
            string? kind = Str(r, "event") ?? Str(r, "kind");
            if (kind == "summary")
            {
                isSummary = true;
                return false;
            }

            if (kind is not ("leak" or "exfiltration"))
            {
                error = kind is null ? "missing \"event\"" : $"unknown event '{kind}' (expected leak, exfiltration or summary)";
                return false;
            }

            if (!DateTimeOffset.TryParse(Str(r, "ts") ?? Str(r, "timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset ts))
            {
                error = "missing or bad \"ts\"";
                return false;
            }

            LeakType? type = null;
            if (Str(r, "leak_type") is { } lt)
            {
                if (!Enum.TryParse(lt, out LeakType parsed) || !Enum.IsDefined(parsed))
                {
                    error = $"bad \"leak_type\" '{lt}' (expected A, B, C or D)";
                    return false;
                }

                type = parsed;
            }
            else if (kind == "leak")
            {
                error = "a leak event without \"leak_type\"";
                return false;
            }

            string? sev = Str(r, "severity");
            if (sev is null || !Enum.TryParse(sev, out Severity severity) || !Enum.IsDefined(severity))
            {
                error = $"bad \"severity\" '{sev}' (expected P0–P3)";
                return false;
            }

            ProcessInfo? process = ReadProcess(r, "process");
            OnBehalfOf? onBehalfOf = null;
            if (r.TryGetProperty("on_behalf_of", out JsonElement oe) && oe.ValueKind == JsonValueKind.Object)
            {
                onBehalfOf = new OnBehalfOf(ReadProcess(oe, "process"), ReadAttribution(oe),
                    oe.TryGetProperty("frame", out JsonElement of) && of.TryGetInt64(out long oframe) ? oframe : 0)
                { File = Str(oe, "file") };
            }

            GeoInfo? geo = null;
            if (r.TryGetProperty("geoip", out JsonElement ge) && ge.ValueKind == JsonValueKind.Object)
            {
                geo = new GeoInfo(
                    Str(ge, "country"), Str(ge, "country_name"),
                    ge.TryGetProperty("asn", out JsonElement asn) && asn.TryGetInt64(out long asnValue) ? asnValue : null,
                    Str(ge, "as_org"));
            }

            ConnectionFacts? connection = null;
            if (r.TryGetProperty("connection", out JsonElement ce) && ce.ValueKind == JsonValueKind.Object)
            {
                connection = new ConnectionFacts(
                    Str(ce, "kind") ?? "", Str(ce, "iface") ?? "", Str(ce, "route_class") ?? "unknown", ReadEndpoint(ce, "dst", "dport") ?? "", Str(ce, "server_name"),
                    ce.TryGetProperty("frame", out JsonElement cf) && cf.TryGetInt64(out long cframe) ? cframe : 0)
                { File = Str(ce, "file") };
            }

            ExfiltrationFigures? figures = null;
            if (r.TryGetProperty("exfiltration", out JsonElement xe) && xe.ValueKind == JsonValueKind.Object)
            {
                figures = new ExfiltrationFigures(
                    Str(xe, "base_domain") ?? "", Int(xe, "score"), Int(xe, "queries"), Int(xe, "unique_subdomains"),
                    Dbl(xe, "mean_entropy"), Int(xe, "max_label_length"), Int(xe, "max_name_length"),
                    Dbl(xe, "txt_null_share"), Dbl(xe, "nxdomain_share"), Dbl(xe, "window_seconds"));
            }

            leakEvent = new LeakEvent
            {
                Kind = kind,
                Timestamp = ts,
                LeakType = type,
                Severity = severity,
                Transport = Str(r, "transport") ?? "unknown",
                Confidence = ParseConfidence(Str(r, "confidence")),
                QName = Str(r, "qname"),
                QType = Str(r, "qtype"),
                Interface = Str(r, "iface") ?? "",
                RouteClass = Str(r, "route_class") ?? "unknown",
                Source = ReadEndpoint(r, "src", "sport"),
                Destination = ReadEndpoint(r, "dst", "dport") ?? "",
                Process = process,
                Attribution = ReadAttribution(r),
                Evidence = r.TryGetProperty("evidence", out JsonElement ev) && ev.ValueKind == JsonValueKind.Array
                    ? [.. ev.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!)]
                    : [],
                File = Str(r, "file"),
                Frame = r.TryGetProperty("frame", out JsonElement fe) && fe.TryGetInt64(out long frame) ? frame : 0,
                ServerName = Str(r, "server_name"),
                Provider = Str(r, "provider"),
                GeoIp = geo,
                CorrelationId = Str(r, "correlation_id"),
                Connection = connection,
                Exfiltration = figures,
                OnBehalfOf = onBehalfOf,
                Path = ReadStrings(r, "path"),
                PathRouteClasses = ReadStrings(r, "path_route_classes"),
            };
            return true;
        }
        catch (JsonException ex)
        {
            error = "not JSON: " + ex.Message.Split(" Path:")[0];
            return false;
        }
    }

    private static Confidence ParseConfidence(string? s) => s switch
    {
        "high" => Confidence.High,
        "medium" => Confidence.Medium,
        "low" => Confidence.Low,
        _ => Confidence.None,
    };

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Int(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.TryGetInt32(out int i) ? i : 0;

    private static double Dbl(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.TryGetDouble(out double d) ? d : 0;

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
