using System.Text.Json;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E;

/// <summary>
/// <c>dnsw leak status</c> reads the kill switch from the ruleset of the namespace it runs in: a namespace with a
/// tunnel (wg0) and a plain interface (eth0), with no firewall, with a VPN-style kill switch, and with one that drops
/// UDP/53 only.
/// </summary>
public sealed class CliKillSwitchTests
{
    private const string FullKillSwitch = """
        table inet killswitch {
            chain out {
                type filter hook output priority 0; policy accept;
                ct state established,related accept
                oifname { "lo", "wg0" } accept
                meta l4proto { tcp, udp } th dport { 53, 853 } counter drop
            }
        }
        """;

    private const string UdpOnly = """
        table ip half {
            chain out {
                type filter hook output priority 0; policy accept;
                oifname "eth0" udp dport 53 drop
            }
        }
        """;

    [Theory]
    [InlineData(null, "none", true)]
    [InlineData(FullKillSwitch, "on", false)]
    [InlineData(UdpOnly, "partial", true)]
    public async Task TheStatusSaysWhetherDnsOffTheTunnelIsDropped(string? ruleset, string state, bool leakPossible)
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "nft");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("ks");
        string peer = await net.AddNamespaceAsync("peer");
        await net.AddVethAsync(peer, ns, interfaceB: "eth0");
        await net.AddVethAsync(peer, ns, interfaceB: "wg0");
        if (ruleset is not null)
        {
            string file = net.TempPath("ruleset.nft");
            await File.WriteAllTextAsync(file, ruleset);
            (await net.ExecAsync(ns, "nft", ["-f", file])).EnsureSuccess();
        }

        string[] dnsw = [.. DnswProgram.Prefix, "leak", "status", "--profile", "full-tunnel"];
        CommandResult json = await net.ExecAsync(ns, DnswProgram.Program, [.. dnsw, "--format", "json"], TimeSpan.FromSeconds(60));
        CommandResult human = await net.ExecAsync(ns, DnswProgram.Program, dnsw, TimeSpan.FromSeconds(60));
        Assert.True(json.Succeeded, json.Describe());
        Assert.True(human.Succeeded, human.Describe());

        using JsonDocument doc = JsonDocument.Parse(json.StdOut);
        JsonElement ks = doc.RootElement.GetProperty("kill_switch");
        Assert.Equal(state, ks.GetProperty("state").GetString());
        Assert.Equal(leakPossible, ks.GetProperty("leak_a_possible").GetBoolean());
        string line = ks.GetProperty("line").GetString()!;
        // The human form has the same line (wrapped, perhaps, on a narrow output).
        Assert.Contains(Regex.Replace(line, @"\s+", " "), Regex.Replace(human.StdOut, @"\s+", " "), StringComparison.Ordinal);
        switch (state)
        {
            case "on":
                Assert.Equal(["inet killswitch out"], ks.GetProperty("dropped_by").EnumerateArray().Select(e => e.GetString()));
                Assert.EndsWith("Leak-A cannot happen from here", line, StringComparison.Ordinal);
                break;
            case "partial":
                Assert.Equal(["ip half out"], ks.GetProperty("dropped_by").EnumerateArray().Select(e => e.GetString()));
                string[] gaps = [.. ks.GetProperty("not_dropped").EnumerateArray().Select(e => e.GetString()!)];
                Assert.Contains("tcp/53 IPv4 on eth0", gaps);
                Assert.Contains("udp/53 IPv6 on eth0", gaps);
                Assert.DoesNotContain("udp/53 IPv4 on eth0", gaps);
                break;
            default:
                Assert.Equal("kill switch: none (no nftables rule drops DNS 53/853 off loopback and tunnels): Leak-A can happen", line);
                break;
        }
    }
}
