using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// <c>dnsw leak watch --pcap PHASE.pcapng --format json --privacy full</c> on each phase's capture finds exactly the
/// leaks the phase made, with the event fields of the contract, and nothing else.
/// </summary>
[Collection(LeakScenarioCollection.Name)]
public sealed class LeakWatchTests(LeakScenarioFixture fixture)
{
    private const string Eth0 = LeakNet.PhysicalInterface;
    private const string Tun0 = LeakNet.TunnelInterface;
    private const string FullTunnel = "full-tunnel";

    [Fact]
    public async Task CleanTunnel_NoEvents_Exit0()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.CleanTunnel).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitNoEvents);
        Assert.Empty(run.Events);
        Assert.Equal(0, run.Summary.GetProperty("events").GetInt32());
        Assert.True(run.Summary.GetProperty("dns_messages").GetInt32() >= 6, run.Describe());
    }

    [Fact]
    public async Task LeakA_ThreePlainQueriesOnEth0()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakA).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitEvents);
        Assert.Equal(3, run.Events.Count);
        Assert.All(run.Events, e =>
        {
            AssertLeak(e, "A");
            Assert.Equal(Eth0, Str(e, "iface"));
            Assert.Equal("physical", Str(e, "route_class"));
            Assert.Equal(JsonValueKind.Null, e.GetProperty("process").ValueKind);
            Assert.NotEmpty(e.GetProperty("evidence").EnumerateArray());
            Assert.True(e.GetProperty("frame").GetInt64() > 0);
        });

        AssertA(Single(run, "a1.leak.test"), "udp53", $"{LeakNet.IspResolverV4}:53", "A", LeakNet.ClientPhysicalV4 + ":");
        AssertA(Single(run, "a2.leak.test"), "tcp53", $"{LeakNet.IspResolverV4}:53", "A", LeakNet.ClientPhysicalV4 + ":");
        AssertA(Single(run, "a3.leak.test"), "udp53", $"[{LeakNet.IspResolverV6}]:53", "AAAA", $"[{LeakNet.ClientPhysicalV6}]:");
        AssertByType(run, a: 3);
    }

    [Fact]
    public async Task LeakA_PrivacyMinimal_HidesEveryQname()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakA).PcapngPath, ["--profile", FullTunnel], privacy: "minimal");
        run.AssertExit(LeakRun.ExitEvents);
        Assert.Equal(3, run.Events.Count);
        Assert.All(run.Events, e => Assert.Equal(JsonValueKind.Null, e.GetProperty("qname").ValueKind));
    }

    [Fact]
    public async Task LeakB_OnlyTheProxyDomainOnEth0()
    {
        LeakRun run = await LeakRun.WatchAsync(
            fixture.Capture(LeakScenario.LeakB).PcapngPath, ["--profile", "split", "--proxy-domain", LeakNet.BlockedName]);
        run.AssertExit(LeakRun.ExitEvents);
        JsonElement e = Assert.Single(run.Events);
        AssertLeak(e, "B");
        Assert.Equal("P0", Str(e, "severity"));
        Assert.Equal(LeakNet.BlockedName, Str(e, "qname"));
        Assert.Equal(Eth0, Str(e, "iface"));
        Assert.Equal("physical", Str(e, "route_class"));
        Assert.Equal($"{LeakNet.IspResolverV4}:53", EventFields.Dst(e));
        Assert.Equal("udp53", Str(e, "transport"));
        AssertByType(run, b: 1);
    }

    [Fact]
    public async Task LeakC_DotAndListedDoh_NothingForTheWebFetch()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakC).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitEvents);
        Assert.Equal(2, run.Events.Count);
        Assert.All(run.Events, e =>
        {
            AssertLeak(e, "C");
            Assert.Equal(Eth0, Str(e, "iface"));
            Assert.Equal("physical", Str(e, "route_class"));
            Assert.Equal("high", Str(e, "confidence"));
        });

        JsonElement dot = Assert.Single(run.Events, e => Str(e, "transport") == "dot");
        Assert.Equal($"{LeakNet.PublicResolverV4}:{LeakNet.DotPort}", EventFields.Dst(dot));

        JsonElement doh = Assert.Single(run.Events, e => Str(e, "transport") == "doh");
        Assert.Equal($"{LeakNet.PublicResolverV4}:{LeakNet.DohPort}", EventFields.Dst(doh));
        Assert.Equal(LeakScenario.ListedDohServerName, Str(doh, "server_name"));
        Assert.Equal(LeakScenario.ListedDohProvider, Str(doh, "provider"));

        Assert.DoesNotContain(run.Events, e => EventFields.Dst(e) == $"{LeakNet.WebV4}:{LeakNet.WebPort}");
        AssertByType(run, c: 2);
    }

    [Fact]
    public async Task LeakC_UnlistedDoh_IsALowConfidenceDohLeak()
    {
        // TODO: the expectation for DoH to an unlisted server name is not settled yet; this encodes the current
        // proposal (one Leak-C, transport doh, confidence low). The capture is kept either way.
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakCUnlistedDoh).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitEvents);
        JsonElement e = Assert.Single(run.Events);
        AssertLeak(e, "C");
        Assert.Equal("doh", Str(e, "transport"));
        Assert.Equal("low", Str(e, "confidence"));
        Assert.Equal(LeakScenario.UnlistedDohServerName, Str(e, "server_name"));
        Assert.Equal($"{LeakNet.PublicResolverV4}:{LeakNet.DohPort}", EventFields.Dst(e));
        Assert.Equal(Eth0, Str(e, "iface"));
    }

    [Fact]
    public async Task LeakD_DnsThroughTun0_ConnectionAroundIt()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakD).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitEvents);
        JsonElement e = Assert.Single(run.Events);
        AssertLeak(e, "D");
        Assert.Equal(Tun0, Str(e, "iface"));
        Assert.Equal("tunnel", Str(e, "route_class"));
        Assert.Equal(LeakNet.WebName, Str(e, "qname"));
        Assert.Equal("A", Str(e, "qtype"));
        Assert.Equal($"{LeakNet.TunnelResolverV4}:53", EventFields.Dst(e));
        Assert.False(string.IsNullOrEmpty(Str(e, "correlation_id")), run.Describe());

        JsonElement connection = e.GetProperty("connection");
        Assert.Equal(Eth0, Str(connection, "iface"));
        Assert.Equal("physical", Str(connection, "route_class"));
        Assert.Equal($"{LeakNet.WebV4}:{LeakNet.WebPort}", EventFields.Dst(connection));
        Assert.True(connection.GetProperty("frame").GetInt64() > 0, run.Describe());
        AssertByType(run, d: 1);
    }

    [Fact]
    public async Task Exfiltration_OneEvent_ForTheBaseDomain()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.Exfiltration).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitEvents);
        JsonElement e = Assert.Single(run.Events);
        Assert.Equal("exfiltration", Str(e, "event"));
        Assert.Equal(JsonValueKind.Null, e.GetProperty("leak_type").ValueKind);
        JsonElement figures = e.GetProperty("exfiltration");
        Assert.Equal(LeakNet.Zone, Str(figures, "base_domain"));
        // The indicator fires at the query that crosses the threshold, with the figures of the window so far.
        int queries = figures.GetProperty("queries").GetInt32();
        Assert.InRange(queries, 10, LeakScenario.ExfilQueryCount);
        Assert.Equal(queries, figures.GetProperty("unique_subdomains").GetInt32());
        Assert.InRange(figures.GetProperty("score").GetInt32(), 60, 100);
        Assert.Contains(Str(e, "qname")!, LeakScenario.ExfilNames, StringComparer.OrdinalIgnoreCase);
        Assert.Equal(Tun0, Str(e, "iface"));
        AssertByType(run, exfiltration: 1);
    }

    [Fact]
    public async Task Mixed_NoEvents_OneMalformedDnsDatagram()
    {
        LeakRun run = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.Mixed).PcapngPath, ["--profile", FullTunnel]);
        run.AssertExit(LeakRun.ExitNoEvents);
        Assert.Empty(run.Events);
        KeyValuePair<string, int>[] dns = run.Summary.GetProperty("malformed").EnumerateObject()
            .Where(p => p.Name.StartsWith("dns:", StringComparison.Ordinal))
            .Select(p => KeyValuePair.Create(p.Name, p.Value.GetInt32()))
            .ToArray();
        KeyValuePair<string, int> junk = Assert.Single(dns);
        Assert.True(junk.Value == 1, run.Describe());
    }

    [Theory]
    [InlineData(LeakScenario.LeakA, FullTunnel, null)]
    [InlineData(LeakScenario.LeakB, "split", LeakNet.BlockedName)]
    [InlineData(LeakScenario.LeakC, FullTunnel, null)]
    [InlineData(LeakScenario.LeakD, FullTunnel, null)]
    [InlineData(LeakScenario.Exfiltration, FullTunnel, null)]
    public async Task Report_OnSavedEvents_GivesTheSameCounts(string phase, string profile, string? proxyDomain)
    {
        string outFile = Path.Combine(fixture.ArtifactDirectory, phase + ".events.jsonl");
        string[] flags = proxyDomain is null
            ? ["--profile", profile, "--out", outFile]
            : ["--profile", profile, "--proxy-domain", proxyDomain, "--out", outFile];
        LeakRun watch = await LeakRun.WatchAsync(fixture.Capture(phase).PcapngPath, flags);
        watch.AssertExit(LeakRun.ExitEvents);
        Assert.True(File.Exists(outFile), watch.Describe());

        CommandResult report = await LeakRun.DnswAsync(["leak", "report", outFile, "--format", "json"]);
        Assert.True(report.Succeeded || report.ExitCode == LeakRun.ExitEvents, report.Describe());
        JsonElement reportByType = LeakRun.FindByType(report.StdOut)
            ?? throw new Xunit.Sdk.XunitException("No by_type in the report.\n" + report.Describe());
        Assert.Equal(ByType(watch.Summary.GetProperty("by_type")), ByType(reportByType));
    }

    private static void AssertLeak(JsonElement e, string type)
    {
        Assert.Equal("leak", Str(e, "event"));
        Assert.Equal(type, Str(e, "leak_type"));
        Assert.True(e.TryGetProperty("ts", out _));
        Assert.True(e.TryGetProperty("attribution", out JsonElement attribution) && attribution.TryGetProperty("confidence", out _));
    }

    private static void AssertA(JsonElement e, string transport, string dst, string qtype, string srcPrefix)
    {
        Assert.Equal(transport, Str(e, "transport"));
        Assert.Equal(dst, EventFields.Dst(e));
        Assert.Equal(qtype, Str(e, "qtype"));
        Assert.StartsWith(srcPrefix, EventFields.Src(e), StringComparison.Ordinal);
    }

    private static void AssertByType(LeakRun run, int a = 0, int b = 0, int c = 0, int d = 0, int exfiltration = 0)
    {
        Dictionary<string, int> expected = new(StringComparer.Ordinal) { ["A"] = a, ["B"] = b, ["C"] = c, ["D"] = d, ["exfiltration"] = exfiltration };
        Assert.Equal(expected, ByType(run.Summary.GetProperty("by_type")));
        Assert.Equal(run.Events.Count, run.Summary.GetProperty("events").GetInt32());
    }

    private static Dictionary<string, int> ByType(JsonElement byType)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal) { ["A"] = 0, ["B"] = 0, ["C"] = 0, ["D"] = 0, ["exfiltration"] = 0 };
        foreach (JsonProperty p in byType.EnumerateObject())
        {
            counts[p.Name] = p.Value.GetInt32();
        }

        return counts;
    }

    private static JsonElement Single(LeakRun run, string qname) => Assert.Single(run.Events, e => Str(e, "qname") == qname);

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
