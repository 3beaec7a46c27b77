using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;

namespace DnsWarden.Guard.Jail;

/// <summary>The vocabulary of <c>--request-log</c>: dnsw's JSON lines, or httpjail's <c>&lt;timestamp&gt; &lt;+/-&gt; &lt;METHOD&gt; &lt;URL&gt;</c>.</summary>
public enum RequestLogFormat
{
    Json,
    Httpjail,
}

/// <summary>
/// Every decision of the host proxy as one line (docs/JAIL.md, "Request log"), with the privacy modes of the query
/// log: <c>full</c> keeps hosts and paths, <c>redacted</c> cuts hosts to their base domain and drops paths,
/// <c>minimal</c> keeps neither. Thread-safe; each line is flushed as it is written.
/// </summary>
public sealed class RequestLog(Stream stream, RequestLogFormat format, PrivacyMode privacy, BaseDomains baseDomains)
{
    private readonly PrivacyRedactor _redactor = new(privacy, baseDomains);
    private readonly Lock _lock = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    public void Write(ProxyRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        // An IP literal is an address, not a name: cut by privacy as a name would make nonsense of it (*.113.90).
        string? host = r.Host is not null && IPAddress.TryParse(r.Host.Trim('[', ']'), out _) ? (privacy == PrivacyMode.Minimal ? null : r.Host) : _redactor.WriteName(r.Host);
        string? path = privacy == PrivacyMode.Full ? r.Path : null;
        lock (_lock)
        {
            _buffer.ResetWrittenCount();
            if (format == RequestLogFormat.Httpjail)
            {
                WriteHttpjail(r, host, path);
            }
            else
            {
                WriteJson(r, host, path);
            }

            _buffer.Write("\n"u8);
            try
            {
                stream.Write(_buffer.WrittenSpan);
                stream.Flush();
            }
            catch (IOException)
            {
                // A full disk must not take the proxy down; the summary still counts every decision.
            }
        }
    }

    private void WriteJson(ProxyRequest r, string? host, string? path)
    {
        using var json = new Utf8JsonWriter(_buffer);
        json.WriteStartObject();
        json.WriteString("ts", EventTime.ToText(r.Time));
        json.WriteString("event", "request");
        json.WriteString("verdict", r.Allowed ? "allowed" : "denied");
        WriteIf(json, "rule", r.Rule);
        WriteIf(json, "reason", r.Reason);
        json.WriteString("protocol", r.Protocol);
        WriteIf(json, "method", r.Method);
        WriteIf(json, r.Protocol == "tls" ? "sni" : "host", host);
        WriteIf(json, "path", path);
        json.WriteString("dst", r.Destination.Address.ToString());
        json.WriteNumber("dport", r.Destination.Port);
        WriteIf(json, "upstream", r.Upstream?.ToString());
        if (r.Allowed)
        {
            // HTTP (and HTTPS inside interception): this request's head and body; the responses of a kept-alive
            // connection are not split per request.
            json.WriteNumber("bytes_out", r.BytesSent);
            if (r.Protocol is not ("http" or "https"))
            {
                json.WriteNumber("bytes_in", r.BytesReceived);
            }
        }

        json.WriteEndObject();
    }

    private void WriteHttpjail(ProxyRequest r, string? host, string? path)
    {
        // TLS without interception shows no method or path: the method is TLS and the URL the name alone.
        string scheme = r.Protocol switch
        {
            "tls" or "https" => "https",
            "http" => "http",
            _ => "tcp",
        };
        string port = (scheme, r.Destination.Port) is ("https", 443) or ("http", 80) ? "" : ":" + r.Destination.Port.ToString(CultureInfo.InvariantCulture);
        string url = $"{scheme}://{host ?? "-"}{port}{path ?? "/"}";
        string line = $"{EventTime.ToText(r.Time)} {(r.Allowed ? '+' : '-')} {r.Method ?? r.Protocol.ToUpperInvariant()} {url}";
        Encoding.UTF8.GetBytes(line, _buffer);
    }

    private static void WriteIf(Utf8JsonWriter json, string key, string? value)
    {
        if (value is not null)
        {
            json.WriteString(key, value);
        }
    }
}
