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
    /// The proxy's peak resident memory under the flood. Measured (docs/BENCHMARKS.md, "The engine under attack"):
    /// 33–51 MB with the cap; 363 MB without it, growing with the flood's length.
    /// </summary>
    private const long PeakBoundBytes = 100L * 1024 * 1024;

    private const int Port = 5441;
    private const int FloodQueries = 200_000;

    [Fact]
    public async Task AFloodAgainstASilentUpstreamKeepsMemoryBoundedGetsServFailAndLeavesTheProxyServing()
    {
        fixture.Check();
        // The flooder is a local process: loopback clients are exempt from the rate limit, so every query meets the
        // in-flight cap (and the configuration is one the proxy before the cap reads too).
        NetnsProcess proxy = await fixture.StartProxyAsync("inflight", $$"""
            {
              "listen": ["127.0.0.1:{{Port}}"],
              "upstreams": ["udp://{{SecurityNetFixture.BlackHoleV4}}"],
              "cache": { "enabled": false },
              "metrics": { "listen": "127.0.0.1:9441" }
            }
            """, Port, "127.0.0.1");
        Assert.Equal("dnsw", (await File.ReadAllTextAsync($"/proc/{proxy.Pid}/comm")).Trim());

        // 200,000 queries for distinct names as fast as one sender can, never waiting for answers: the issue's flood.
        NetnsProcess flooder = fixture.Net.StartProcess(fixture.Host, "flood", "python3",
            ["-u", fixture.Script("flood.py"), "127.0.0.1", Port.ToString(CultureInfo.InvariantCulture), FloodQueries.ToString(CultureInfo.InvariantCulture)]);
        await flooder.WaitForOutputAsync("sent ", TimeSpan.FromSeconds(120));

        // Once the flood's forwarded queries have timed out, an ordinary name is forwarded and answered: the places
        // they took were given back.
        long peak = PeakResidentBytes(proxy.Pid);
        await WaitForNothingInFlightAsync();
        CommandResult normal = await fixture.DigAsync(fixture.Host, "127.0.0.1", "127.0.0.1", Port, "normal.sec.test", "+short");
        await flooder.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(15));
        await fixture.BlackHole.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(5));
        TestContext.Current.TestOutputHelper?.WriteLine($"peak RSS {peak / (1024 * 1024)} MB; {fixture.BlackHole.StdOut.Trim()}; {flooder.StdOut.Trim()}\n{proxy.StdErr}");

        Assert.True(peak < PeakBoundBytes, $"peak RSS {peak / (1024 * 1024)} MB");
        long reachedUpstream = Figure(fixture.BlackHole.StdOut, @"blackhole flood=(\d+)");
        Assert.True(reachedUpstream * 5 < FloodQueries, $"{reachedUpstream} of {FloodQueries} flood queries reached the upstream");
        Assert.Equal("198.51.100.7", normal.EnsureSuccess().StdOut.Trim());
        long servfail = Figure(flooder.StdOut, @"servfail=(\d+)");
        long overloaded = Figure(proxy.StdErr, @"overloaded (\d+)");
        Assert.True(servfail > FloodQueries / 4, $"{servfail} SERVFAIL came back for {FloodQueries} sent");
        Assert.True(overloaded > FloodQueries / 4, $"{overloaded} overloaded of {FloodQueries}\n{proxy.StdErr}");
    }

    /// <summary>Polls the proxy's <c>dnsw_queries_in_flight</c> until it is 0.</summary>
    private async Task WaitForNothingInFlightAsync()
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            CommandResult m = await fixture.Net.ExecAsync(fixture.Host, "curl", ["-s", "http://127.0.0.1:9441/metrics"], TimeSpan.FromSeconds(10));
            if (Regex.IsMatch(m.StdOut, @"(?m)^dnsw_queries_in_flight 0$"))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "queries still in flight:\n" + m.StdOut);
            await Task.Delay(100);
        }
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
