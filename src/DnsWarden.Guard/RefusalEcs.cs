using System.Text.Json;
using DnsWarden.Indicators;

namespace DnsWarden.Guard;

/// <summary>
/// A refused packet of the jail or the TUN filter as an Elastic Common Schema line, at the end of their query log with
/// <c>--log-format ecs</c> (docs/ECS.md): <c>event.action: blocked_connection</c>, <c>event.type: ["connection",
/// "denied"]</c>, the rule's kind in <c>event.reason</c> and <c>dnsw.kind</c>; the same facts as
/// <see cref="RefusalText.WriteJsonLine"/> writes.
/// </summary>
public static class RefusalEcs
{
    public const string Dataset = "dnsw.refusal";

    public static void WriteLine(Stream target, DateTimeOffset ts, string kind, string protocol, string destination, int port, string? source = null, long count = 1)
    {
        ArgumentNullException.ThrowIfNull(target);
        using (var w = new Utf8JsonWriter(target, EcsJson.WriterOptions))
        {
            Write(w, ts, kind, protocol, destination, port, source, count);
        }

        target.WriteByte((byte)'\n');
    }

    public static void Write(Utf8JsonWriter w, DateTimeOffset ts, string kind, string protocol, string destination, int port, string? source = null, long count = 1)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        EcsJson.WriteHeader(w, EventTime.ToText(ts));
        EcsJson.StartEvent(w, "event", "blocked_connection", Dataset, "connection", "denied");
        w.WriteString("reason"u8, kind);
        w.WriteEndObject();
        if (source is not null)
        {
            EcsJson.StartEndpoint(w, "source", EcsJson.ParseEndpoint(source));
        }

        EcsEndpoint target = EcsJson.ParseEndpoint(destination);
        EcsJson.StartEndpoint(w, "destination", target, close: false);
        if (port > 0)
        {
            w.WriteNumber("port"u8, port);
        }

        w.WriteEndObject();
        w.WriteStartObject("network"u8);
        w.WriteString("transport"u8, protocol);
        if (target.Ip is { } ip)
        {
            w.WriteString("type"u8, EcsJson.NetworkType(ip));
        }

        w.WriteEndObject();
        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteString("kind"u8, kind);
        if (count > 1)
        {
            w.WriteNumber("count"u8, count);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }
}
