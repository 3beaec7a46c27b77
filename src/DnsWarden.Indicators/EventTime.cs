using System.Globalization;

namespace DnsWarden.Indicators;

/// <summary>
/// The time on every JSON line dnsw writes — leak events, observations, the query log, refusals (docs/EVENTS.md, "One
/// vocabulary"): RFC 3339 in UTC with microseconds and <c>Z</c>, <c>2026-12-06T04:19:18.492487Z</c>. Microseconds are
/// what a pcap records and what every RFC 3339 reader takes; the frame number names the packet exactly.
/// </summary>
public static class EventTime
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public static string ToText(DateTimeOffset time) => time.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);
}
