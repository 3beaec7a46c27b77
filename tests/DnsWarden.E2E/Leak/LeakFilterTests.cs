using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// <c>--filter EXPR</c> on capture files: libpcap's own compiler and matcher decide which frames are read, per link type
/// (the scenario's files hold Ethernet <c>eth0</c> and raw-IP <c>tun0</c>); a bad expression is one line and exit 1.
/// </summary>
[Collection(LeakScenarioCollection.Name)]
public sealed class LeakFilterTests(LeakScenarioFixture fixture)
{
    [Fact]
    public async Task UdpPort53_OnFilesWithDotDohAndTcp_LeavesOnlyTheUdpEvents()
    {
        string[] files = [fixture.Capture(LeakScenario.LeakA).PcapngPath, fixture.Capture(LeakScenario.LeakC).PcapngPath];
        LeakRun all = await LeakRun.WatchAsync(files[0], ["--pcap", files[1], "--profile", "full-tunnel"]);
        LeakRun udp = await LeakRun.WatchAsync(files[0], ["--pcap", files[1], "--profile", "full-tunnel", "--filter", "udp port 53"]);

        // Without the filter the files give UDP, TCP, DoT and DoH events; with it, exactly the UDP ones, unchanged.
        Assert.Contains(all.Events, e => e.GetProperty("transport").GetString() == "dot");
        Assert.Contains(all.Events, e => e.GetProperty("transport").GetString() == "tcp53");
        udp.AssertExit(LeakRun.ExitEvents);
        Assert.All(udp.Events, e => Assert.Equal("udp53", e.GetProperty("transport").GetString()));
        Assert.Equal(
            all.Events.Where(e => e.GetProperty("transport").GetString() == "udp53").Select(Key),
            udp.Events.Select(Key));

        // Dropped frames are not malformed: nothing the filter left out reaches the dissector.
        Assert.Equal(all.Summary.GetProperty("malformed_total").GetInt64(), udp.Summary.GetProperty("malformed_total").GetInt64());
        Assert.True(udp.Summary.GetProperty("frames").GetInt64() < all.Summary.GetProperty("frames").GetInt64(), udp.Describe());
    }

    [Fact]
    public async Task TheTrafficTable_SaysWhatTheFilterKeptAndDropped()
    {
        string file = fixture.Capture(LeakScenario.LeakA).PcapngPath;
        CommandResult run = await LeakRun.DnswAsync(["leak", "watch", "--pcap", file, "--filter", "udp port 53"]);
        CommandResult count = await ProcessRunner.RunAsync("tshark", ["-r", file, "-Y", "udp.port == 53", "-T", "fields", "-e", "frame.number"], TimeSpan.FromSeconds(60));
        int kept = count.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        CommandResult total = await ProcessRunner.RunAsync("tshark", ["-r", file, "-T", "fields", "-e", "frame.number"], TimeSpan.FromSeconds(60));
        int frames = total.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

        Assert.Matches($@"filter udp port 53: kept\s*│\s*{kept}\s", run.StdOut);
        Assert.Matches($@"dropped by the filter\s*│\s*{frames - kept}\s", run.StdOut);
    }

    [Theory]
    [InlineData("udp prt 53", "can't parse filter expression: syntax error")]
    [InlineData("port 99999", "illegal port number 99999 > 65535")]
    public async Task ABadExpression_IsOneLine_Exit1_BeforeAnyInputIsRead(string expression, string message)
    {
        CommandResult run = await LeakRun.DnswAsync(["leak", "watch", "--pcap", "/nonexistent/never-opened.pcapng", "--filter", expression]);

        Assert.True(run.ExitCode == 1, run.Describe());
        Assert.Equal($"dnsw: --filter '{expression}': {message}", run.StdErr.TrimEnd('\n'));
        Assert.Equal("", run.StdOut);
    }

    private static string Key(JsonElement e) =>
        string.Join('|', e.GetProperty("leak_type").GetString(), e.GetProperty("iface").GetString(), EventFields.Dst(e),
            e.GetProperty("qname").GetString(), e.GetProperty("frame").GetInt64());
}
