using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>The harness that reads <c>dnsw leak watch</c> JSON lines, on output shaped like the contract.</summary>
public sealed class LeakRunTests
{
    private const string Event =
        """{"ts":"2026-11-24T19:55:01.590283Z","event":"leak","leak_type":"A","severity":"P1","transport":"udp53","confidence":"high","qname":"a1.leak.test","qtype":"A","iface":"eth0","route_class":"physical","src":"198.51.100.2","sport":40000,"dst":"198.51.100.53","dport":53,"process":null,"attribution":{"confidence":"none","reason":"capture file"},"evidence":["plain DNS on eth0"],"file":"a.pcapng","frame":1,"server_name":null,"provider":null,"geoip":null,"correlation_id":"c1","connection":null,"exfiltration":null}""";

    private const string Summary =
        """{"event":"summary","frames":10,"dns_messages":2,"events":1,"by_type":{"A":1,"B":0,"C":0,"D":0,"exfiltration":0},"malformed":{"dns:Truncated":1}}""";

    [Fact]
    public void EventsThenSummary_AreSplit()
    {
        LeakRun run = LeakRun.FromResult(Result(Event + "\n" + Summary + "\n", exitCode: 2));
        JsonElement e = Assert.Single(run.Events);
        Assert.Equal("a1.leak.test", e.GetProperty("qname").GetString());
        Assert.Equal(1, run.Summary.GetProperty("events").GetInt32());
        Assert.Equal(1, run.Summary.GetProperty("malformed").GetProperty("dns:Truncated").GetInt32());
        run.AssertExit(LeakRun.ExitEvents);
    }

    [Fact]
    public void NoSummaryLast_IsReported_NotGuessed()
    {
        LeakRun run = LeakRun.FromResult(Result(Summary + "\n" + Event + "\n", exitCode: 2));
        Assert.Equal(2, run.Events.Count);
        Assert.Null(run.SummaryOrNull);
        Xunit.Sdk.XunitException ex = Assert.Throws<Xunit.Sdk.XunitException>(() => run.Summary);
        Assert.Contains("No summary line", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonJsonLines_AreSkipped_BrokenJsonFails()
    {
        LeakRun run = LeakRun.FromResult(Result("reading file\n" + Summary + "\n", exitCode: 0));
        Assert.Empty(run.Events);
        Assert.Throws<Xunit.Sdk.XunitException>(() => LeakRun.FromResult(Result("{\"event\":\n", exitCode: 0)));
    }

    [Theory]
    [InlineData("""{"events":3,"by_type":{"A":3}}""")]
    [InlineData("""{"event":"leak"}""" + "\n" + """{"event":"summary","by_type":{"A":3}}""")]
    public void ReportByType_IsFound_InOneDocumentOrTheLastLine(string stdout)
    {
        JsonElement? byType = LeakRun.FindByType(stdout);
        Assert.NotNull(byType);
        Assert.Equal(3, byType.Value.GetProperty("A").GetInt32());
    }

    [Fact]
    public void ExfilNames_AreFortyDistinctFiftyCharLabels()
    {
        Assert.Equal(LeakScenario.ExfilQueryCount, LeakScenario.ExfilNames.Distinct(StringComparer.Ordinal).Count());
        Assert.All(LeakScenario.ExfilNames, n =>
        {
            Assert.EndsWith("." + LeakNet.ExfilParent, n, StringComparison.Ordinal);
            string label = n[..n.IndexOf('.', StringComparison.Ordinal)];
            Assert.Equal(LeakScenario.ExfilLabelLength, label.Length);
            Assert.All(label, c => Assert.True(c is >= 'a' and <= 'z' or >= '2' and <= '7', label));
        });
    }

    private static CommandResult Result(string stdout, int exitCode) =>
        new("dnsw leak watch", exitCode, stdout, string.Empty, TimedOut: false, TimeSpan.Zero);
}
