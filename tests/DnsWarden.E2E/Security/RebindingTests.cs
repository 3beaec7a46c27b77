using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// DNS rebinding through the real jail and proxy (issue 14, item 7): an allowed name whose answer holds loopback, a
/// private, link-local or unique-local address, the metadata service or the host's own address is answered without
/// those records, so the jailed command cannot reach listeners on them in the jail's host namespace — unless the
/// policy's <c>private_answers</c> names it. The far side is the listeners' own log of accepted connections, and
/// dnsmasq's log shows each name was really asked upstream.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RebindingTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private static readonly (string Name, string Type, string Target)[] s_names =
    [
        ("private", "A", SecurityNetFixture.PrivateTarget),
        ("own", "A", SecurityNetFixture.OwnTarget),
        ("meta", "A", SecurityNetFixture.MetadataTarget),
        ("ula", "AAAA", SecurityNetFixture.UlaTarget),
        ("lo4", "A", "127.0.0.1"),
        ("lo6", "AAAA", "::1"),
        ("chain", "A", SecurityNetFixture.PrivateTarget),
    ];

    /// <summary>Names whose targets live in the host namespace (loopback is the jail's own, out of reach either way).</summary>
    private static readonly string[] s_hostTargets = ["private", "own", "meta", "ula"];

    private async Task<(CommandResult Run, string[] Accepted)> JailAsync(string label, string policyJson)
    {
        string policy = fixture.Net.TempPath($"rebind-{label}.json");
        await File.WriteAllTextAsync(policy, policyJson);
        string script = string.Join("\n", s_names.Select(n =>
            $"echo \"dig {n.Name}=$(dig @{SecurityNetFixture.DnsmasqV4} {n.Name}.rebind.test {n.Type} +short +time=3 +tries=1 | tr '\\n' ' ')\"\n" +
            $"curl -s -m 3 -g http://{n.Name}.rebind.test:{SecurityNetFixture.TargetPort}/ >/dev/null && echo \"curl {n.Name}=reached\" || echo \"curl {n.Name}=blocked\"")
            .Append($"curl -s -m 3 http://public.rebind.test:{SecurityNetFixture.TargetPort}/ && echo \"curl public=reached\""));
        int before = fixture.Accepted().Length;
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--mode", "policy", "--policy", policy, "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--", "bash", "-c", script],
            TimeSpan.FromSeconds(120));
        return (r, fixture.Accepted()[before..]);
    }

    [Fact]
    public async Task AJailedCommandCannotReachPrivateLoopbackMetadataOrHostAddressesThroughAnAllowedName()
    {
        fixture.Check();
        (CommandResult r, string[] accepted) = await JailAsync("strip", """{ "allow": ["rebind.test"], "default_action": "block" }""");
        Assert.True(r.ExitCode == 0, r.Describe());

        // The far side: not one connection from the jail reached a listener on the host's addresses.
        Assert.DoesNotContain(accepted, a => s_hostTargets.Select(Target).Any(t => a.StartsWith($"accepted {t} ", StringComparison.Ordinal)));

        // The control: an allowed public answer opens as always.
        Assert.Contains("curl public=reached", r.StdOut, StringComparison.Ordinal);
        foreach ((string name, _, string target) in s_names)
        {
            string dig = Line(r.StdOut, "dig " + name + "=");
            Assert.DoesNotContain(target, dig, StringComparison.Ordinal);
            Assert.Contains($"curl {name}=blocked", r.StdOut, StringComparison.Ordinal);
            Assert.True(fixture.QueriesSeen(name + ".rebind.test") > 0, $"{name}.rebind.test never reached dnsmasq");
        }

        // The CNAME stays (it names nothing reachable), its private target's address does not.
        Assert.Contains("private.rebind.test.", Line(r.StdOut, "dig chain="), StringComparison.Ordinal);

    }

    [Fact]
    public async Task WithPrivateAnswersForTheNameTheJailedCommandReachesThem()
    {
        fixture.Check();
        (CommandResult r, string[] accepted) = await JailAsync("allow", """{ "allow": ["rebind.test"], "default_action": "block", "private_answers": ["rebind.test"] }""");
        Assert.True(r.ExitCode == 0, r.Describe());
        foreach ((string name, _, string target) in s_names)
        {
            Assert.Contains(target, Line(r.StdOut, "dig " + name + "="), StringComparison.Ordinal);
        }

        foreach (string name in s_hostTargets)
        {
            Assert.Contains($"curl {name}=reached", r.StdOut, StringComparison.Ordinal);
            Assert.Contains(accepted, a => a.StartsWith($"accepted {Target(name)} ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task TheProxyStripsWhenTheConfigurationTurnsItOnAndNotByDefault()
    {
        fixture.Check();
        const int Port = 5401;
        string config(string extra) => $$"""
            { "listen": ["{{SecurityNetFixture.HostV4}}:{{Port}}"], "upstreams": ["udp://{{SecurityNetFixture.DnsmasqV4}}"], "cache": { "enabled": false }{{extra}} }
            """;

        NetnsProcess off = await fixture.StartProxyAsync("rebind-off", config(""), Port);
        Assert.Equal(SecurityNetFixture.PrivateTarget, (await Short("private.rebind.test", Port)).Trim());
        await off.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));

        NetnsProcess on = await fixture.StartProxyAsync("rebind-on", config(", \"rebind_protection\": true, \"policy\": { \"private_answers\": [\"=own.rebind.test\"] }"), Port);
        Assert.Equal("", await Short("private.rebind.test", Port));
        Assert.Equal("", await Short("meta.rebind.test", Port));
        Assert.Equal("", await Short("lo4.rebind.test", Port));
        Assert.Equal(SecurityNetFixture.WebV4, (await Short("public.rebind.test", Port)).Trim());
        Assert.Equal(SecurityNetFixture.OwnTarget, (await Short("own.rebind.test", Port)).Trim()); // private_answers
        CommandResult full = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.ClientV4, SecurityNetFixture.HostV4, Port, "ula.rebind.test", "AAAA");
        Assert.Contains("status: NOERROR", full.StdOut, StringComparison.Ordinal);
        Assert.Contains("ANSWER: 0", full.StdOut, StringComparison.Ordinal);
        Assert.Contains("EDE: 15 (Blocked)", full.StdOut, StringComparison.Ordinal);
        await on.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
        Assert.True(fixture.QueriesSeen("ula.rebind.test") > 0);
    }

    private async Task<string> Short(string name, int port) =>
        (await fixture.DigAsync(fixture.Inet, SecurityNetFixture.ClientV4, SecurityNetFixture.HostV4, port, name, "+short")).EnsureSuccess().StdOut;

    private static string Target(string name) => s_names.First(n => n.Name == name).Target;

    private static string Line(string output, string prefix) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"no line '{prefix}' in:\n{output}");
}
