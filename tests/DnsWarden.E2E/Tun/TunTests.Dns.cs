namespace DnsWarden.E2E.Tun;

/// <summary>
/// DNS the way the engine sees all of it: port 53 to any address answered from that address and never on the wire,
/// 853 refused and counted, a TTL of 0 from dnsmasq's <c>address=</c> kept for the floor, the virtual DNS addresses
/// the ones configured.
/// </summary>
public sealed partial class TunTests
{
    private const string ArbitraryV4 = "198.51.100.7";
    private const string ArbitraryV6 = "2001:db8::99";

    /// <summary>Port 53 or 853 on a capture's frames.</summary>
    private const string AnyDns = "udp.port == 53 or tcp.port == 53 or udp.port == 853 or tcp.port == 853";

    [Fact]
    public async Task DnsToAnyAddressIsAnsweredByTheEngineAndNothingReachesTheFarSide()
    {
        fixture.Check();
        string far = fixture.Net.TempPath("tun-anydns-inet.pcapng");
        string outer = fixture.Net.TempPath("tun-anydns-veth.pcapng");
        DumpcapCapture farDump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], far);
        DumpcapCapture outerDump = await fixture.Net.StartCaptureAsync(fixture.Host, [fixture.HostClientInterface], outer);
        NetnsProcess tun = await StartTunAsync();
        CommandResult r;
        try
        {
            string name = TunNetFixture.WebName;
            r = await InClientAsync(string.Join("\n",
                $"echo udp4=$(dig +short +time=3 +tries=1 @{ArbitraryV4} {name} A)",
                $"echo tcp6=$(dig +short +tcp +time=3 +tries=1 @{ArbitraryV6} {name} AAAA)",
                $"echo tcp4=$(dig +short +tcp +time=3 +tries=1 @{ArbitraryV4} {name} A)",
                $"echo udp6=$(dig +short +time=3 +tries=1 @{ArbitraryV6} {name} AAAA)",

                // An address DNS handed out is no way past the engine either.
                $"echo handed=$(dig +short +time=3 +tries=1 @{TunNetFixture.WebV4} {name} A)",
                $"kdig +tls +time=3 +retry=0 @{ArbitraryV4} {name} >/dev/null 2>&1; echo dot4=$?",
                $"kdig +tls +time=3 +retry=0 @{ArbitraryV6} {name} >/dev/null 2>&1; echo dot6=$?",
                $"kdig +tls +time=3 +retry=0 @{TunNetFixture.ResolverV4} {name} >/dev/null 2>&1; echo dotupstream=$?"));
        }
        finally
        {
            await StopAsync(tun);
            await farDump.StopAsync();
            await outerDump.StopAsync();
        }

        // dig takes an answer only from the address and port it asked.
        Assert.True(r.Succeeded, r.Describe());
        Assert.Contains($"udp4={TunNetFixture.WebV4}\n", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"tcp4={TunNetFixture.WebV4}\n", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"udp6={TunNetFixture.WebV6}\n", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"tcp6={TunNetFixture.WebV6}\n", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"handed={TunNetFixture.WebV4}\n", r.StdOut, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"dot(4|6|upstream)=0\b", r.StdOut);

        // The far side saw only the engine asking its upstream; the client's own interface sent no DNS at all.
        Assert.Empty(await CapturedAsync(far, $"({AnyDns}) and not (ip.addr == {TunNetFixture.ResolverV4} and udp.port == 53)"));
        Assert.Empty(await CapturedAsync(far, $"ip.addr == {ArbitraryV4} or ipv6.addr == {ArbitraryV6}"));
        Assert.Empty(await CapturedAsync(outer, AnyDns));

        Assert.Matches(@"DoT/DoQ [3-9]", tun.StdErr);
        Assert.Contains($"dnsw tun: refused dot tcp {ArbitraryV4}:853", tun.StdErr, StringComparison.Ordinal);
        Assert.Contains($"dnsw tun: refused dot tcp [{ArbitraryV6}]:853", tun.StdErr, StringComparison.Ordinal);
        Assert.Contains($"dnsw tun: refused dot tcp {TunNetFixture.ResolverV4}:853", tun.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSameQueryOutsideTheFilterIsSeenOnTheFarSide()
    {
        // The control for the test above: the captures do see a query to an arbitrary address when nothing stops it.
        fixture.Check();
        string far = fixture.Net.TempPath("tun-anydns-control.pcapng");
        NetnsProcess tun = await StartTunAsync("--mode", "dns-only");
        DumpcapCapture farDump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], far);
        CommandResult r;
        try
        {
            r = await InClientAsync($"dig +short +time=1 +tries=1 @{ArbitraryV4} {TunNetFixture.WebName} A; true");
        }
        finally
        {
            await farDump.StopAsync();
            await StopAsync(tun);
        }

        Assert.DoesNotContain(TunNetFixture.WebV4, r.StdOut, StringComparison.Ordinal);
        Assert.NotEmpty(await CapturedAsync(far, $"ip.dst == {ArbitraryV4} and udp.dstport == 53"));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("0", false)]
    public async Task ATtlOfZeroFromDnsmasqAddressStaysOpenForTheFloor(string? minTtl, bool reachable)
    {
        fixture.Check();
        NetnsProcess tun = await StartTunWithAsync(TunNetFixture.ZeroTtlResolverV4, minTtl is null ? [] : ["--min-ttl", minTtl]);
        CommandResult r;
        try
        {
            string name = TunNetFixture.ZeroTtlName;
            r = await InClientAsync(string.Join("\n",
                $"echo ttl=$(dig +noall +answer @{TunNetFixture.VirtualDnsV4} {name} A | awk '{{print $2}}')",
                $"p=$(curl -s -m 5 -4 http://{name}/); echo rc=$? page=$p",
                $"p=$(curl -s -m 5 -6 http://{name}/); echo rc6=$? page6=$p"));
        }
        finally
        {
            await StopAsync(tun);
        }

        Assert.Contains("ttl=0\n", r.StdOut, StringComparison.Ordinal);
        if (reachable)
        {
            Assert.Contains("rc=0 page=tun web\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains("rc6=0 page6=tun web\n", r.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("dnsw tun: refused unresolved", tun.StdErr, StringComparison.Ordinal);
        }
        else
        {
            // No floor: the address expired the moment it was handed out, and the connection is refused (curl's 7).
            Assert.Contains("rc=7 page=\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains("rc6=7 page6=\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains($"dnsw tun: refused unresolved tcp {TunNetFixture.OtherV4}:80", tun.StdErr, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// <c>--config</c> is the proxy's file: its upstream and its <c>ip_tracker.min_ttl</c> make the engine. A floor of 0
    /// in the file closes a TTL-0 address at once, as <c>--min-ttl 0</c> does; a floor of 5m keeps it open.
    /// </summary>
    [Theory]
    [InlineData("0", false)]
    [InlineData("5m", true)]
    public async Task TheConfigFilesUpstreamAndTtlFloorMakeTheEngine(string minTtl, bool reachable)
    {
        fixture.Check();
        string config = fixture.Net.TempPath($"tun-config-{minTtl}.json");
        await File.WriteAllTextAsync(config, $$"""
            { "upstreams": ["udp://{{TunNetFixture.ZeroTtlResolverV4}}"], "strategy": "failover", "upstream_timeout": "3s", "ip_tracker": { "min_ttl": "{{minTtl}}", "max_ttl": "1h" } }
            """);
        NetnsProcess tun = fixture.Net.StartProcess(fixture.Host, "dnsw-tun-config", DnswProgram.Program,
            [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, "--config", config]);
        await tun.WaitForOutputAsync("dnsw tun: ready", TimeSpan.FromSeconds(60));
        CommandResult r;
        try
        {
            string name = TunNetFixture.ZeroTtlName;
            r = await InClientAsync(string.Join("\n",
                $"echo ttl=$(dig +noall +answer @{TunNetFixture.VirtualDnsV4} {name} A | awk '{{print $2}}')",
                $"p=$(curl -s -m 5 -4 http://{name}/); echo rc=$? page=$p"));
        }
        finally
        {
            await StopAsync(tun);
        }

        // The answer came from the file's upstream (the only one: no --upstream was given).
        Assert.Contains("ttl=0\n", r.StdOut, StringComparison.Ordinal);
        Assert.Contains(reachable ? "rc=0 page=tun web\n" : "rc=7 page=\n", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfiguredVirtualDnsAddressesAnswerAndTheOldDefaultDoesNot()
    {
        fixture.Check();
        const string v4 = "100.96.128.1";
        const string v6 = "fd00:64::1";
        NetnsProcess tun = await StartTunAsync("--mode", "dns-only", "--virtual-dns", v4, "--virtual-dns", v6);
        CommandResult dnsOnly, firewall, toFirewall;
        try
        {
            string name = TunNetFixture.WebName;
            string script = string.Join("\n",
                $"echo udp4=$(dig +short +time=3 +tries=1 @{v4} {name} A)",
                $"echo tcp4=$(dig +short +tcp +time=3 +tries=1 @{v4} {name} A)",
                $"echo udp6=$(dig +short +time=3 +tries=1 @{v6} {name} AAAA)",
                $"echo tcp6=$(dig +short +tcp +time=3 +tries=1 @{v6} {name} AAAA)",
                $"echo old4=$(dig +short +time=2 +tries=1 @{TunNetFixture.VirtualDnsV4} {name} A | grep -v '^;')",
                $"echo old6=$(dig +short +tcp +time=2 +tries=1 @{TunNetFixture.VirtualDnsV6} {name} A | grep -v '^;')");
            dnsOnly = await InClientAsync(script);
            toFirewall = await DnswAsync("--set-mode", "firewall");
            firewall = await InClientAsync(script);
        }
        finally
        {
            await StopAsync(tun);
        }

        Assert.Contains($"virtual DNS {v4} and {v6}", tun.StdErr, StringComparison.Ordinal);
        foreach (CommandResult r in new[] { dnsOnly, firewall })
        {
            Assert.Contains($"udp4={TunNetFixture.WebV4}\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains($"tcp4={TunNetFixture.WebV4}\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains($"udp6={TunNetFixture.WebV6}\n", r.StdOut, StringComparison.Ordinal);
            Assert.Contains($"tcp6={TunNetFixture.WebV6}\n", r.StdOut, StringComparison.Ordinal);
        }

        // dns-only mode routes only the configured addresses to the filter: the old ones are nobody's.
        Assert.Contains("old4=\n", dnsOnly.StdOut, StringComparison.Ordinal);
        Assert.Contains("old6=\n", dnsOnly.StdOut, StringComparison.Ordinal);
        Assert.Equal(0, toFirewall.ExitCode);

        // Firewall mode answers DNS to every address, the old ones included.
        Assert.Contains($"old4={TunNetFixture.WebV4}\n", firewall.StdOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--virtual-dns", "127.0.0.1", "--virtual-dns '127.0.0.1': loopback stays inside the namespace and never reaches the TUN")]
    [InlineData("--virtual-dns", "dns.test", "--virtual-dns 'dns.test': not an IPv4 or IPv6 address")]
    [InlineData("--min-ttl", "2h", "--min-ttl: expected a duration from 0 to 1h such as 30s or 5m, got '2h'")]
    public async Task ABadValueIsOneLineAndAUsageError(string option, string value, string expected)
    {
        CommandResult r = await ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, "tun", "--netns", "nowhere", option, value]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.StdErr, StringComparison.Ordinal);
    }
}
