using System.Text.Json;
using DnsWarden.Capture.Dissect;
using DnsWarden.Indicators;
using DnsWarden.Leak.Events;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// Observations as Elastic Common Schema lines (<c>--observations</c> with <c>--format ecs</c>; docs/ECS.md): what
/// <see cref="ObservationJson"/> writes, unredacted as it is, under ECS names; what ECS has no field for under <c>dnsw</c>.
/// </summary>
internal sealed class ObservationEcs : IDisposable
{
    public const string Dataset = "dnsw.observation";

    private readonly Stream _stream;
    private readonly Utf8JsonWriter _writer;

    public ObservationEcs(Stream stream)
    {
        _stream = stream;
        _writer = new Utf8JsonWriter(stream, EcsJson.WriterOptions);
    }

    /// <summary><c>event.action</c>: <c>dns-query</c>, <c>dns-response</c>, <c>tls-client-hello</c>, <c>quic-initial</c>.</summary>
    public static string Action(Observation o) => o.Kind switch
    {
        ObservationKind.Dns => o.Dns is { IsResponse: true } ? "dns-response" : "dns-query",
        ObservationKind.TlsClientHello => "tls-client-hello",
        _ => "quic-initial",
    };

    /// <summary>The response code's mnemonic as dig prints it (<c>NOERROR</c>, <c>NXDOMAIN</c>), <c>RCODEn</c> for one without a name.</summary>
    public static string RcodeName(ushort rcode) =>
        Enum.IsDefined((DnsRcode)rcode) ? ((DnsRcode)rcode).ToString().ToUpperInvariant() : "RCODE" + rcode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <param name="frames">Where the frame number is read from several files: the file's own number, and the file.</param>
    public void Write(Observation o, FrameNumbering? frames = null)
    {
        Write(_writer, o, frames);
        _writer.Flush();
        _writer.Reset();
        _stream.WriteByte((byte)'\n');
    }

    public static void Write(Utf8JsonWriter w, Observation o, FrameNumbering? frames = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(o);
        w.WriteStartObject();
        EcsJson.WriteHeader(w, LeakEventJson.FormatTime(new DateTimeOffset(DateTime.UnixEpoch.AddTicks(o.Origin.TimestampNs / 100))));
        EcsJson.StartEvent(w, "event", Action(o), Dataset, "protocol");
        w.WriteEndObject();

        w.WriteStartObject("observer"u8);
        w.WriteStartObject("ingress"u8);
        w.WriteStartObject("interface"u8);
        w.WriteString("name"u8, o.Origin.InterfaceName);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();

        string source = o.Flow.Source.ToString();
        string destination = o.Flow.Destination.ToString();
        WriteEndpoint(w, "source"u8, source, o.Flow.SourcePort);
        WriteEndpoint(w, "destination"u8, destination, o.Flow.DestinationPort);

        w.WriteStartObject("network"u8);
        if (o.Flow.Protocol is IpProtocol.Udp or IpProtocol.Tcp)
        {
            w.WriteString("transport"u8, o.Flow.Protocol == IpProtocol.Udp ? "udp"u8 : "tcp"u8);
            w.WriteString("iana_number"u8, EcsJson.Id((int)o.Flow.Protocol));
        }

        w.WriteString("protocol"u8, o.Kind == ObservationKind.Dns ? "dns"u8 : o.Kind == ObservationKind.TlsClientHello ? "tls"u8 : "quic"u8);
        w.WriteString("type"u8, o.Flow.Source.IsV4 ? "ipv4"u8 : "ipv6"u8);
        w.WriteEndObject();

        if (o.Dns is { } d)
        {
            WriteDns(w, d);
        }

        if (o.ServerName is { } sni)
        {
            w.WriteStartObject("tls"u8);
            w.WriteStartObject("client"u8);
            w.WriteString("server_name"u8, sni);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteStartObject("related"u8);
        w.WriteStartArray("ip"u8);
        w.WriteStringValue(source);
        if (destination != source)
        {
            w.WriteStringValue(destination);
        }

        w.WriteEndArray();
        w.WriteEndObject();

        (string? file, long frame, _) = frames?.Locate(o.FrameNumber) ?? (null, o.FrameNumber, 0);
        if (file is not null)
        {
            w.WriteStartObject("log"u8);
            w.WriteStartObject("file"u8);
            w.WriteString("path"u8, file);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteNumber("frame"u8, frame);
        w.WriteString("transport"u8, o.Transport);
        if (o.Kind != ObservationKind.Dns)
        {
            w.WriteStartArray("alpn"u8);
            foreach (string p in o.Alpn)
            {
                w.WriteStringValue(p);
            }

            w.WriteEndArray();
            w.WriteBoolean("ech"u8, o.HasEch);
            if (o.Kind == ObservationKind.QuicInitial)
            {
                w.WriteString("quic_version"u8, "0x" + o.QuicVersion.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteDns(Utf8JsonWriter w, DnsFacts d)
    {
        w.WriteStartObject("dns"u8);
        w.WriteString("id"u8, EcsJson.Id(d.Id));
        w.WriteString("type"u8, d.IsResponse ? "answer"u8 : "query"u8);
        w.WriteStartObject("question"u8);
        if (d.QName is { } name)
        {
            w.WriteString("name"u8, name);
            if (EcsJson.RegisteredDomain(name, BaseDomains.Default) is { } registered)
            {
                w.WriteString("registered_domain"u8, registered);
            }
        }

        w.WriteString("type"u8, ObservationJson.TypeName(d.QType));
        w.WriteEndObject();
        if (d.IsResponse)
        {
            w.WriteString("response_code"u8, RcodeName(d.Rcode));
        }

        if (d.Truncated)
        {
            // ECS's header flags are AA TC RD RA AD CD DO; the dissector keeps TC, the one that changes what a client does next.
            w.WriteStartArray("header_flags"u8);
            w.WriteStringValue("TC"u8);
            w.WriteEndArray();
        }

        if (d.Answers.Count > 0)
        {
            w.WriteStartArray("answers"u8);
            foreach (DnsAnswer a in d.Answers)
            {
                w.WriteStartObject();
                w.WriteString("name"u8, a.Name);
                w.WriteString("type"u8, ObservationJson.TypeName(a.Type));
                w.WriteNumber("ttl"u8, a.Ttl);
                w.WriteString("data"u8, a.Data);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            bool any = false;
            foreach (DnsAnswer a in d.Answers)
            {
                if (a.Type is (ushort)DnsType.A or (ushort)DnsType.AAAA)
                {
                    if (!any)
                    {
                        w.WriteStartArray("resolved_ip"u8);
                        any = true;
                    }

                    w.WriteStringValue(a.Data);
                }
            }

            if (any)
            {
                w.WriteEndArray();
            }
        }

        w.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter w, ReadOnlySpan<byte> name, string ip, ushort port)
    {
        w.WriteStartObject(name);
        w.WriteString("address"u8, ip);
        w.WriteString("ip"u8, ip);
        w.WriteNumber("port"u8, port);
        w.WriteEndObject();
    }

    public void Flush()
    {
        _stream.Flush();
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Flush();
    }
}
