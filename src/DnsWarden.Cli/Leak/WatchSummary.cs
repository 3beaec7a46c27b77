using DnsWarden.Capture.Dissect;

namespace DnsWarden.Cli.Leak;

/// <summary>Counts what a watch saw by transport and interface, for the traffic table at the end (no names: privacy).</summary>
internal sealed class WatchSummary
{
    public Dictionary<string, long> ByTransport { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> ByInterface { get; } = new(StringComparer.Ordinal);

    public void Add(Observation o)
    {
        Bump(ByTransport, o.Transport);
        Bump(ByInterface, o.Origin.InterfaceName);
    }

    private static void Bump(Dictionary<string, long> counts, string key) =>
        System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, key, out _)++;
}
