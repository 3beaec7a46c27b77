using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Security;

/// <summary>
/// The exfiltration block cannot be flooded away (issue 14, item 9): 90 tunnel queries, each after 4,096 base domains
/// never seen before, through <c>dnsw proxy</c> with a block score. Before, the flood evicted the tunnel's score and
/// all 90 reached the upstream; dnsmasq's own log now shows only the first few.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ExfiltrationFloodTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private const int Port = 5451;
    private const int Rounds = 90;
    private const int JunkPerRound = 4096;

    [Fact]
    public async Task TunnelQueriesInterleavedWithJunkBaseDomainsAreStillBlockedAfterTheFirstFew()
    {
        fixture.Check();
        // A local client (exempt from the rate limit, so the whole flood meets the indicator).
        NetnsProcess proxy = await fixture.StartProxyAsync("exfil-flood", $$"""
            {
              "listen": ["127.0.0.1:{{Port}}"],
              "upstreams": ["udp://{{SecurityNetFixture.DnsmasqV4}}"],
              "cache": { "enabled": false },
              "policy": { "exfiltration": { "block_score": 60 } }
            }
            """, Port, "127.0.0.1");

        var random = new Random(14);
        var lines = new List<string>(Rounds * (JunkPerRound + 1));
        for (int round = 0; round < Rounds; round++)
        {
            for (int i = 0; i < JunkPerRound; i++)
            {
                lines.Add($"www.j{round}x{i}.test A");
            }

            byte[] data = new byte[26];
            random.NextBytes(data);
            lines.Add(Convert.ToHexStringLower(data) + ".t.tunnel.test TXT");
        }

        string queries = fixture.Net.TempPath("exfil-flood.txt");
        await File.WriteAllLinesAsync(queries, lines);

        // One client, few queries outstanding: the order of the file is the order the proxy sees.
        CommandResult flood = await fixture.Net.ExecAsync(fixture.Host, "dnsperf",
            ["-s", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-d", queries, "-n", "1", "-c", "1", "-q", "32", "-t", "5"],
            TimeSpan.FromMinutes(5));
        Assert.True(flood.ExitCode == 0, flood.Describe());
        long completed = long.Parse(Regex.Match(flood.StdOut, @"Queries completed:\s+(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(completed > lines.Count * 0.99, flood.StdOut);
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(15));

        await fixture.WaitForDnsmasqLogAsync("exfil-flood");
        int tunnelSeen = fixture.QueriesSeen("t.tunnel.test");
        Assert.True(tunnelSeen <= 9, $"{tunnelSeen} of {Rounds} tunnel queries reached the upstream");
        Assert.True(fixture.QueriesSeen(".test") < Rounds * JunkPerRound / 10, "the junk flood itself kept reaching the upstream");
        Assert.Contains("blocked_exfiltration", proxy.StdErr, StringComparison.Ordinal);
    }
}
