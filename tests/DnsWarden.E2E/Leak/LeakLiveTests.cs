using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// The same phases watched live: <c>dnsw leak watch --iface eth0 --iface tun0 --iface lo</c> ran in the client
/// namespace while the clients ran, and was stopped with Ctrl-C. It must find exactly what the capture file shows,
/// and name the process behind each connection it can still see.
/// </summary>
[Collection(LeakScenarioCollection.Name)]
public sealed class LeakLiveTests(LeakScenarioFixture fixture)
{
    [Fact]
    public void CleanTunnel_NoEvents()
    {
        (List<JsonElement> events, JsonElement summary) = Live(LeakScenario.CleanTunnel);
        Assert.Empty(events);
        Assert.True(summary.GetProperty("dns_messages").GetInt32() >= 6, summary.ToString());
    }

    [Fact]
    public async Task LeakA_TheSameEventsAsTheCapture_EachWithAnAttribution()
    {
        (List<JsonElement> live, _) = Live(LeakScenario.LeakA);
        LeakRun file = await LeakRun.WatchAsync(fixture.Capture(LeakScenario.LeakA).PcapngPath, ["--profile", "full-tunnel"]);

        Assert.Equal(3, live.Count);
        Assert.Equal(Keys(file.Events), Keys(live));
        Assert.All(live, e =>
        {
            // dig closes its socket within a millisecond of its answer: the lookup may find it or say it is gone.
            JsonElement a = e.GetProperty("attribution");
            string confidence = a.GetProperty("confidence").GetString()!;
            Assert.True(confidence == "high" || a.GetProperty("reason").GetString() is { Length: > 0 }, e.ToString());
            if (confidence == "high")
            {
                Assert.Equal("dig", e.GetProperty("process").GetProperty("name").GetString());
            }
        });
    }

    [Fact]
    public void LeakC_DotAndDoh_SameAsTheCapture_AttributedOrSayingWhyNot()
    {
        (List<JsonElement> live, _) = Live(LeakScenario.LeakC);

        Assert.Equal(2, live.Count);
        JsonElement dot = Assert.Single(live, e => e.GetProperty("transport").GetString() == "dot");
        JsonElement doh = Assert.Single(live, e => e.GetProperty("transport").GetString() == "doh");
        foreach ((JsonElement e, string client) in new[] { (dot, "kdig"), (doh, "curl") })
        {
            Assert.Equal("C", e.GetProperty("leak_type").GetString());
            Assert.Equal(LeakNet.PhysicalInterface, e.GetProperty("iface").GetString());

            // kdig and curl finish a TLS exchange with a server next door in a few milliseconds; the lookup runs at
            // packet time and either finds the socket (then it must name that very client) or says why not.
            JsonElement a = e.GetProperty("attribution");
            if (a.GetProperty("confidence").GetString() == "high")
            {
                JsonElement process = e.GetProperty("process");
                Assert.Equal(client, process.GetProperty("name").GetString());
                Assert.True(process.GetProperty("pid").GetInt32() > 1, e.ToString());
                Assert.Equal(0, process.GetProperty("uid").GetInt32());
                Assert.Contains(client, process.GetProperty("cmdline").GetString(), StringComparison.Ordinal);
                Assert.NotEmpty(process.GetProperty("parents").EnumerateArray());
            }
            else
            {
                Assert.False(string.IsNullOrEmpty(a.GetProperty("reason").GetString()), e.ToString());
            }
        }

        Assert.Equal(LeakScenario.ListedDohServerName, doh.GetProperty("server_name").GetString());
    }

    [Fact]
    public void LeakD_DnsThroughTun0_ConnectionAroundIt()
    {
        (List<JsonElement> live, _) = Live(LeakScenario.LeakD);

        JsonElement d = Assert.Single(live);
        Assert.Equal("D", d.GetProperty("leak_type").GetString());
        Assert.Equal(LeakNet.TunnelInterface, d.GetProperty("iface").GetString());
        Assert.Equal(LeakNet.WebName, d.GetProperty("qname").GetString());
        JsonElement connection = d.GetProperty("connection");
        Assert.Equal(LeakNet.PhysicalInterface, connection.GetProperty("iface").GetString());
        Assert.Equal($"{LeakNet.WebV4}:{LeakNet.WebPort}", EventFields.Dst(connection));
        Assert.False(string.IsNullOrEmpty(d.GetProperty("correlation_id").GetString()));
    }

    private (List<JsonElement> Events, JsonElement Summary) Live(string phase)
    {
        string path = fixture.Capture(phase).LiveEventsPath ?? throw new InvalidOperationException($"phase {phase} was not watched live");
        List<JsonElement> lines = [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.True(lines.Count > 0 && lines[^1].GetProperty("event").GetString() == "summary", $"no summary line in {path}");
        return (lines[..^1], lines[^1]);
    }

    private static List<string> Keys(IEnumerable<JsonElement> events) =>
        [.. events.Select(e => string.Join('|', e.GetProperty("leak_type").GetString(), e.GetProperty("transport").GetString(),
            e.GetProperty("iface").GetString(), EventFields.Dst(e), e.GetProperty("qname").GetString())).Order(StringComparer.Ordinal)];
}
