using DnsWarden.Capture.Dissect;

namespace DnsWarden.Cli.Leak;

/// <summary>Counts what a watch saw, for the summary at the end.</summary>
internal sealed class WatchSummary
{
    public Dictionary<string, long> ByTransport { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> ByInterface { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> Resolvers { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> Names { get; } = new(StringComparer.OrdinalIgnoreCase);

    public void Add(Observation o)
    {
        Bump(ByTransport, o.Transport);
        Bump(ByInterface, o.Origin.InterfaceName);
        bool query = o.Dns is { IsResponse: false } || o.Kind != ObservationKind.Dns;
        if (query)
        {
            Bump(Resolvers, $"{Endpoint(o.Flow.Destination, o.Flow.DestinationPort)} ({o.Transport})");
        }

        string? name = o.Dns is { IsResponse: false } d ? d.QName : o.ServerName;
        if (name is not null && query)
        {
            Bump(Names, name);
        }
    }

    public static IEnumerable<KeyValuePair<string, long>> Top(Dictionary<string, long> counts, int n) =>
        counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(n);

    /// <summary>address:port, with IPv6 in brackets (RFC 3986 §3.2.2) so the port cannot be mistaken for a group.</summary>
    public static string Endpoint(DnsWarden.Wire.Ip.IpAddr address, ushort port) =>
        address.IsV4 ? $"{address}:{port}" : $"[{address}]:{port}";

    private static void Bump(Dictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
}
