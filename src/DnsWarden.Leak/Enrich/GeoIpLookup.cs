// TEMPORARY STUB (replaced by the real implementation on merge)
using System.Net;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Enrich;

public sealed class GeoIpLookup : IDisposable
{
    public static bool TryOpen(IReadOnlyList<string> paths, out GeoIpLookup? lookup, out string? error)
    {
        lookup = null;
        error = "GeoIP is not built yet";
        return false;
    }

    public GeoInfo? Lookup(IPAddress address) => null;

    public void Dispose()
    {
    }
}
