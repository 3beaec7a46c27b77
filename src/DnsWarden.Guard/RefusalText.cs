using System.Globalization;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Logging;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard;

/// <summary>How the jail and the TUN filter name a refused packet at exit: <c>refused unresolved tcp 203.0.113.9:80 ×3</c>.</summary>
public static class RefusalText
{
    public static string ProtocolName(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Icmp => "icmp",
        IpProtocol.IcmpV6 => "icmpv6",
        _ => ((int)protocol).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>One group of refusals; IPv6 destinations in brackets; an inbound one names who sent it.</summary>
    public static string Line(string prefix, string kind, string protocol, string destination, int port, long count, string? source = null) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{prefix}refused {kind} {protocol} {(source is null ? "" : "from " + source + " to ")}{(destination.Contains(':', StringComparison.Ordinal) ? "[" + destination + "]" : destination)}:{port} ×{count}");

    /// <summary>
    /// One refusal (or a group of them) as a JSON line in the vocabulary of every line dnsw writes (docs/EVENTS.md):
    /// <c>{"ts":…,"event":"blocked_connection","kind":"unresolved","protocol":"tcp","dst":"203.0.113.9","dport":80}</c>,
    /// with <c>src</c> for an inbound attempt and <c>count</c> when a group stands for more than one packet.
    /// </summary>
    /// <summary>One refusal line in the query log's format: the one place the jail's and the TUN filter's refusals choose it.</summary>
    public static void WriteLine(QueryLogFormat format, Stream target, DateTimeOffset ts, string kind, string protocol, string destination, int port, string? source = null, long count = 1)
    {
        if (format == QueryLogFormat.Ecs)
        {
            RefusalEcs.WriteLine(target, ts, kind, protocol, destination, port, source, count);
        }
        else
        {
            WriteJsonLine(target, ts, kind, protocol, destination, port, source, count);
        }
    }

    public static void WriteJsonLine(Stream target, DateTimeOffset ts, string kind, string protocol, string destination, int port, string? source = null, long count = 1)
    {
        ArgumentNullException.ThrowIfNull(target);
        using (var json = new Utf8JsonWriter(target))
        {
            json.WriteStartObject();
            json.WriteString("ts", EventTime.ToText(ts));
            json.WriteString("event", "blocked_connection");
            json.WriteString("kind", kind);
            json.WriteString("protocol", protocol);
            if (source is not null)
            {
                json.WriteString("src", source);
            }

            json.WriteString("dst", destination);
            json.WriteNumber("dport", port);
            if (count > 1)
            {
                json.WriteNumber("count", count);
            }

            json.WriteEndObject();
        }

        target.WriteByte((byte)'\n');
    }
}
