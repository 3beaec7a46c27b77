using System.Net;
using System.Reflection;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>One public encrypted-DNS service: its server names and addresses.</summary>
public sealed record EncryptedDnsProvider(string Name, IReadOnlyList<string> Hosts, IReadOnlyList<IPAddress> Addresses);

/// <summary>
/// Known public encrypted-DNS endpoints (DoH/DoT/DoQ). The built-in list is data
/// (<c>Data/encrypted-dns-endpoints.json</c>, versioned); a policy adds to it, removes from it, or replaces it.
/// </summary>
public sealed class EncryptedDnsEndpoints
{
    private readonly Dictionary<string, string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<IPAddress, string> _addresses = [];

    public EncryptedDnsEndpoints(string version, IEnumerable<EncryptedDnsProvider> providers)
    {
        Version = version;
        Providers = [.. providers];
        foreach (EncryptedDnsProvider p in Providers)
        {
            foreach (string h in p.Hosts)
            {
                _hosts.TryAdd(h.TrimEnd('.'), p.Name);
            }

            foreach (IPAddress a in p.Addresses)
            {
                _addresses.TryAdd(Normalize(a), p.Name);
            }
        }
    }

    public static EncryptedDnsEndpoints Empty { get; } = new("none", []);

    /// <summary>The list's version (date-based, <c>YYYY.MM.N</c>), reported in summaries and evidence.</summary>
    public string Version { get; }

    public IReadOnlyList<EncryptedDnsProvider> Providers { get; }

    public int HostCount => _hosts.Count;

    public int AddressCount => _addresses.Count;

    /// <summary>The built-in list shipped with this build.</summary>
    public static EncryptedDnsEndpoints BuiltIn => s_builtIn.Value;

    private static readonly Lazy<EncryptedDnsEndpoints> s_builtIn = new(LoadBuiltIn);

    /// <summary>Exact server-name match (a DoH name is a service, not a zone: <c>x.dns.google</c> is not <c>dns.google</c>).</summary>
    public bool TryMatchHost(string? serverName, out string provider)
    {
        provider = "";
        return serverName is not null && _hosts.TryGetValue(serverName.TrimEnd('.'), out provider!);
    }

    public bool TryMatchAddress(IPAddress address, out string provider) =>
        _addresses.TryGetValue(Normalize(address), out provider!);

    /// <summary>This list with providers added and hosts/addresses removed, as a policy asks.</summary>
    public EncryptedDnsEndpoints With(IEnumerable<EncryptedDnsProvider> add, IEnumerable<string> removeHosts, IEnumerable<IPAddress> removeAddresses)
    {
        var hosts = new HashSet<string>(removeHosts.Select(h => h.TrimEnd('.')), StringComparer.OrdinalIgnoreCase);
        var addresses = new HashSet<IPAddress>(removeAddresses.Select(Normalize));
        var providers = Providers
            .Select(p => p with
            {
                Hosts = [.. p.Hosts.Where(h => !hosts.Contains(h.TrimEnd('.')))],
                Addresses = [.. p.Addresses.Where(a => !addresses.Contains(Normalize(a)))],
            })
            .Concat(add);
        return new EncryptedDnsEndpoints(Version + "+policy", providers);
    }

    /// <summary>Parses the endpoint list format (the shipped file); it throws on a malformed list, which only a broken build ships.</summary>
    public static EncryptedDnsEndpoints Parse(ReadOnlySpan<byte> utf8Json)
    {
        using JsonDocument doc = JsonDocument.Parse(utf8Json.ToArray());
        JsonElement root = doc.RootElement;
        string version = root.GetProperty("version").GetString() ?? "unknown";
        var providers = new List<EncryptedDnsProvider>();
        foreach (JsonElement p in root.GetProperty("providers").EnumerateArray())
        {
            string name = p.GetProperty("name").GetString() ?? "";
            var hosts = p.TryGetProperty("hosts", out JsonElement h) ? h.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
            var addresses = p.TryGetProperty("addresses", out JsonElement a) ? a.EnumerateArray().Select(x => IPAddress.Parse(x.GetString()!)).ToList() : [];
            providers.Add(new EncryptedDnsProvider(name, hosts, addresses));
        }

        return new EncryptedDnsEndpoints(version, providers);
    }

    private static EncryptedDnsEndpoints LoadBuiltIn()
    {
        using Stream s = Assembly.GetExecutingAssembly().GetManifestResourceStream("DnsWarden.Policy.encrypted-dns-endpoints.json")
            ?? throw new InvalidOperationException("the built-in encrypted-DNS endpoint list is missing from the build");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return Parse(ms.ToArray());
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
