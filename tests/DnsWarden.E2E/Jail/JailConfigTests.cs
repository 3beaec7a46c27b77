using System.Runtime.Versioning;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// <c>dnsw jail --config FILE</c> reads the proxy's configuration file for its stub's engine: the upstreams, the
/// strategy and the upstream timeout written there are what the stub does, seen from the upstream servers' own logs
/// and from what the jailed command gets.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailConfigTests(JailNetFixture fixture) : IClassFixture<JailNetFixture>
{
    private async Task<CommandResult> JailWithConfigAsync(string json, string script)
    {
        string config = fixture.Net.TempPath($"jail-config-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(config, json);
        return await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--mode", "policy", "--config", config, "--", "bash", "-c", script], TimeSpan.FromSeconds(90));
    }

    /// <summary>race asks the two upstreams at once; failover asks the first while it answers.</summary>
    [Theory]
    [InlineData("race", true)]
    [InlineData("failover", false)]
    public async Task TheStrategyInTheFileDecidesWhichUpstreamsAreAsked(string strategy, bool both)
    {
        fixture.Check();
        string name = $"s{Guid.NewGuid():N}.jail.test";
        string json = $$"""
            {
              "upstreams": ["udp://{{JailNetFixture.ResolverV4}}", "udp://{{JailNetFixture.ResolverV4}}:5353"],
              "strategy": "{{strategy}}",
              "policy": { "allow": ["jail.test"], "default_action": "block", "block_action": "nxdomain" }
            }
            """;
        CommandResult r = await JailWithConfigAsync(json, $"dig {name} +time=5 +tries=1 | grep -o 'status: [A-Z]*'; exit 0");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("status: ", r.StdOut, StringComparison.Ordinal);
        Assert.Contains(name, fixture.Dnsmasq.StdErr, StringComparison.Ordinal);
        Assert.Equal(both, fixture.Dnsmasq5353.StdErr.Contains(name, StringComparison.Ordinal));
    }

    /// <summary>
    /// The first upstream never answers. With the file's 300 ms per attempt the stub moves on to the second well
    /// within the client's 4 s; with 20 s per attempt the client gives up first.
    /// </summary>
    [Theory]
    [InlineData("300ms", true)]
    [InlineData("20s", false)]
    public async Task TheUpstreamTimeoutInTheFileDecidesWhenTheNextUpstreamIsAsked(string timeout, bool answered)
    {
        fixture.Check();
        string json = $$"""
            {
              "upstreams": ["udp://{{JailNetFixture.ResolverV4}}:{{JailNetFixture.SilentPort}}", "udp://{{JailNetFixture.ResolverV4}}"],
              "strategy": "failover",
              "upstream_timeout": "{{timeout}}",
              "policy": { "allow": ["web.jail.test"], "default_action": "block", "block_action": "nxdomain" }
            }
            """;
        CommandResult r = await JailWithConfigAsync(json, $"echo answer=$(dig +short {JailNetFixture.WebName} A +time=4 +tries=1 | head -1); exit 0");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains(answered ? $"answer={JailNetFixture.WebV4}\n" : "answer=;;", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABrokenConfigFileIsOneLineNamingItsPlace()
    {
        fixture.Check();
        CommandResult r = await JailWithConfigAsync("{ \"upstreams\": [\"udp://10.0.0.1\"], \"strategy\": \"fastest\" }", "exit 0");
        Assert.Equal(3, r.ExitCode);
        string line = Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("dnsw jail: ", line, StringComparison.Ordinal);
        Assert.Contains(".json:1:", line, StringComparison.Ordinal);
    }
}
