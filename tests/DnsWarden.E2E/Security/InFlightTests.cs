using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Security;

/// <summary>
/// Forwarded queries in flight are capped (issue 14, item 11): a flood against a proxy whose upstream is a black hole
/// (a UDP socket that never answers the flood's names) leaves the proxy's peak memory bounded, gets SERVFAIL back at
/// once beyond the cap, and once it is over the proxy answers normal queries again. The far side is the black hole's
/// own count of the queries that reached it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class InFlightTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    /// <summary>
    /// The proxy's peak resident memory under the flood. Measured with the cap (docs/BENCHMARKS.md, "Engine under
    /// attack"): some 60–90 MB; without it the same flood took several hundred MB and grows with its length.
    /// </summary>
    private const long PeakBoundBytes = 160L * 1024 * 1024;

    private const int Port = 5441;
    private const int FloodQueries = 200_000;

    [Fact]
    public async Task AFloodAgainstASilentUpstreamKeepsMemoryBoundedGetsServFailAndLeavesTheProxyServing()
    {
        fixture.Check();
        NetnsProcess proxy = await fixture.StartProxyAsync("inflight", $$"""
            {
              "listen": ["{{SecurityNetFixture.HostV4}}:{{Port}}"],
              "upstreams": ["udp://{{SecurityNetFixture.BlackHoleV4}}"],
              "cache": { "enabled": false },
              "rate_limit": null
            }
            """, Port);
        Assert.Equal("dnsw", (await File.ReadAllTextAsync($"/proc/{proxy.Pid}/comm")).Trim());

        string queries = fixture.Net.TempPath("flood-queries.txt");
        await File.WriteAllLinesAsync(queries, Enumerable.Range(0, FloodQueries).Select(i => $"flood{i}.sec.test A"));

        // 20,000 queries a second for ten seconds, each given up on after one second: the flood of the issue.
        CommandResult flood = await fixture.Net.ExecAsync(fixture.Inet, "dnsperf",
            ["-s", SecurityNetFixture.HostV4, "-p", Port.ToString(CultureInfo.InvariantCulture), "-d", queries, "-n", "1", "-l", "10",
             "-Q", "20000", "-q", "20000", "-t", "1", "-c", "4"],
            TimeSpan.FromSeconds(120));
        Assert.True(flood.ExitCode == 0, flood.Describe());
        long peak = PeakResidentBytes(proxy.Pid);

        // Afterwards an ordinary name is forwarded and answered: the places the flood took were given back.
        CommandResult normal = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.ClientV4, SecurityNetFixture.HostV4, Port, "normal.sec.test", "+short");
        Assert.Equal("198.51.100.7", normal.EnsureSuccess().StdOut.Trim());

        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(15));
        await fixture.BlackHole.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(5));
        Assert.True(peak < PeakBoundBytes, $"peak RSS {peak / (1024 * 1024)} MB");
        long sent = Figure(flood.StdOut, @"Queries sent:\s+(\d+)");
        long reachedUpstream = Figure(fixture.BlackHole.StdOut, @"blackhole flood=(\d+)");
        Assert.True(reachedUpstream * 5 < sent, $"{reachedUpstream} of {sent} flood queries reached the upstream");
        long servfail = Figure(flood.StdOut, @"SERVFAIL (\d+)");
        long overloaded = Figure(proxy.StdErr, @"overloaded (\d+)");

        Assert.True(servfail > sent / 2, $"{servfail} SERVFAIL of {sent} sent\n{flood.StdOut}");
        Assert.True(overloaded > sent / 2, $"{overloaded} overloaded of {sent}\n{proxy.StdErr}");
    }

    private static long PeakResidentBytes(int pid)
    {
        string status = File.ReadAllText($"/proc/{pid}/status");
        return Figure(status, @"VmHWM:\s+(\d+) kB") * 1024;
    }

    private static long Figure(string text, string pattern)
    {
        Match m = Regex.Match(text, pattern);
        Assert.True(m.Success, $"no '{pattern}' in:\n{text}");
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
