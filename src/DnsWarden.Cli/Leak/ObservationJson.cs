using System.Text.Json;
using DnsWarden.Capture.Dissect;
using DnsWarden.Leak.Events;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Cli.Leak;

/// <summary>Writes observations as JSON lines; the schema is docs/EVENTS.md ("observation" events).</summary>
internal sealed class ObservationJson : IDisposable
{
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _writer;

    public ObservationJson(Stream stream)
    {
        _stream = stream;
        _writer = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            // Evidence is read by people and by JSON tools, not embedded in HTML: keep '+', '<' and non-ASCII readable.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }

    /// <param name="frames">Where the frame number is read from several files: the file's own number, and the file.</param>
    public void Write(Observation o, FrameNumbering? frames = null)
    {
        Utf8JsonWriter w = _writer;
        w.WriteStartObject();
        w.WriteString("ts", LeakEventJson.FormatTime(DateTime.UnixEpoch.AddTicks(o.Origin.TimestampNs / 100)));
        w.WriteString("event", "observation");
        (string? file, long frame, _) = frames?.Locate(o.FrameNumber) ?? (null, o.FrameNumber, 0);
        if (file is null)
        {
            w.WriteNull("file");
        }
        else
        {
            w.WriteString("file", file);
        }

        w.WriteNumber("frame", frame);
        w.WriteString("iface", o.Origin.InterfaceName);
        w.WriteString("kind", o.Kind switch
        {
            ObservationKind.Dns => "dns",
            ObservationKind.TlsClientHello => "tls_client_hello",
            _ => "quic_initial",
        });
        w.WriteString("transport", o.Transport);
        w.WriteString("src", o.Flow.Source.ToString());
        w.WriteNumber("sport", o.Flow.SourcePort);
        w.WriteString("dst", o.Flow.Destination.ToString());
        w.WriteNumber("dport", o.Flow.DestinationPort);
        if (o.Dns is { } d)
        {
            w.WriteStartObject("dns");
            w.WriteNumber("id", d.Id);
            w.WriteBoolean("qr", d.IsResponse);
            if (d.QName is null)
            {
                w.WriteNull("qname");
            }
            else
            {
                w.WriteString("qname", d.QName);
            }

            w.WriteNumber("qtype", d.QType);
            w.WriteString("qtype_name", TypeName(d.QType));
            w.WriteNumber("rcode", d.Rcode);
            w.WriteBoolean("tc", d.Truncated);
            w.WriteStartArray("answers");
            foreach (DnsAnswer a in d.Answers)
            {
                w.WriteStartObject();
                w.WriteString("name", a.Name);
                w.WriteNumber("type", a.Type);
                w.WriteNumber("ttl", a.Ttl);
                w.WriteString("data", a.Data);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        if (o.Kind != ObservationKind.Dns)
        {
            if (o.ServerName is null)
            {
                w.WriteNull("sni");
            }
            else
            {
                w.WriteString("sni", o.ServerName);
            }

            w.WriteStartArray("alpn");
            foreach (string p in o.Alpn)
            {
                w.WriteStringValue(p);
            }

            w.WriteEndArray();
            w.WriteBoolean("ech", o.HasEch);
            if (o.Kind == ObservationKind.QuicInitial)
            {
                w.WriteString("quic_version", "0x" + o.QuicVersion.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        w.WriteEndObject();
        w.Flush();
        w.Reset();
        _stream.WriteByte((byte)'\n');
    }

    public void Flush() => _stream.Flush();

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Flush();
    }

    public static string TypeName(ushort type) =>
        Enum.IsDefined((DnsType)type) ? ((DnsType)type).ToString() : "TYPE" + type.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
