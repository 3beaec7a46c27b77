using System.Runtime.Versioning;

namespace DnsWarden.Platform.Enforcement;

/// <summary>The firewall of the network namespace this process runs in, as text to be judged elsewhere.</summary>
[SupportedOSPlatform("linux")]
public static class FirewallListing
{
    /// <summary>
    /// <c>nft -j list ruleset</c> through libnftables: every nftables table, iptables-nft's included (iptables-nft
    /// writes its rules as nftables tables). False with the reason when it cannot be listed (not root, no library).
    /// </summary>
    public static bool TryReadRuleset(out string json, out string? error)
    {
        json = "";
        error = null;
        try
        {
            using var nft = new NftContext(json: true);
            NftResult r = nft.Run("list ruleset");
            if (!r.Ok)
            {
                error = "cannot list the nftables ruleset: " + r.Error.Trim().Split('\n')[0];
                return false;
            }

            json = r.Output;
            return true;
        }
        catch (Exception e) when (e is PlatformNotSupportedException or IOException or InvalidOperationException)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// The iptables-legacy tables loaded in this namespace (<c>/proc/net/ip_tables_names</c>, <c>ip6_tables_names</c>,
    /// which list only the legacy x_tables), as "iptables filter", "ip6tables mangle". Their rules are not in the
    /// nftables listing.
    /// </summary>
    public static IReadOnlyList<string> LegacyTables()
    {
        var tables = new List<string>();
        foreach ((string file, string tool) in new[] { ("/proc/net/ip_tables_names", "iptables"), ("/proc/net/ip6_tables_names", "ip6tables") })
        {
            try
            {
                tables.AddRange(File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => tool + " " + l.Trim()));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No legacy x_tables module loaded: no file, no tables.
            }
        }

        return tables;
    }
}
