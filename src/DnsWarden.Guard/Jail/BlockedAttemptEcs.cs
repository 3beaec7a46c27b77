using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// The jail's refused packets as Elastic Common Schema lines, at the end of <c>--out</c> with <c>--log-format ecs</c>
/// (docs/ECS.md): <c>event.action: blocked_connection</c>, <c>event.type: ["connection", "denied"]</c>, the rule's kind
/// in <c>event.reason</c> and <c>dnsw.kind</c>.
/// </summary>
public static class BlockedAttemptEcs
{
    public const string Dataset = "dnsw.jail";

    public static void Write(Utf8JsonWriter w, BlockedAttempt a)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(a);
        w.WriteStartObject();
        EcsJson.WriteHeader(w, QueryLogJson.FormatTimestamp(a.Timestamp));
        EcsJson.StartEvent(w, "event", "blocked_connection", Dataset, "connection", "denied");
        w.WriteString("reason"u8, a.Kind);
        w.WriteEndObject();
        if (a.Source is { } source)
        {
            EcsJson.StartEndpoint(w, "source", EcsJson.ParseEndpoint(source));
        }

        EcsEndpoint destination = EcsJson.ParseEndpoint(a.Destination);
        EcsJson.StartEndpoint(w, "destination", destination, close: false);
        if (a.Port > 0)
        {
            w.WriteNumber("port"u8, a.Port);
        }

        w.WriteEndObject();
        w.WriteStartObject("network"u8);
        w.WriteString("transport"u8, a.Protocol);
        if (destination.Ip is { } ip)
        {
            w.WriteString("type"u8, EcsJson.NetworkType(ip));
        }

        w.WriteEndObject();
        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteString("kind"u8, a.Kind);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Each attempt as one ECS line, as <see cref="BlockedAttempts.WriteJsonLines"/> writes the JSON ones.</summary>
    public static void WriteLines(IEnumerable<BlockedAttempt> attempts, Stream target)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        ArgumentNullException.ThrowIfNull(target);
        using var w = new Utf8JsonWriter(target, EcsJson.WriterOptions);
        foreach (BlockedAttempt a in attempts)
        {
            Write(w, a);
            w.Flush();
            w.Reset();
            target.WriteByte((byte)'\n');
        }
    }
}
