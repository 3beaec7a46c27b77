using System.Net;
using System.Text.Json;
using DnsWarden.Leak.Tests.Events;

namespace DnsWarden.E2E;

/// <summary>
/// <c>--format ecs</c> on a real capture (docs/ECS.md): the same events as <c>--format json</c>, under Elastic Common
/// Schema names, in stdout, <c>--out</c>, <c>--observations</c> and <c>leak report</c>; every key an ECS field or
/// under <c>dnsw.</c>.
/// </summary>
[Collection(DnsTrafficCollection.Name)]
public sealed class CliEcsTests(DnsTrafficScenarioFixture fixture)
{
    [Fact]
    public async Task Pcapng_EcsLines_AreTheJsonEvents_UnderEcsNames()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-ecs-").FullName;
        try
        {
            string outFile = Path.Combine(dir, "events.ecs.jsonl");
            string observations = Path.Combine(dir, "obs.ecs.jsonl");
            string jsonObservations = Path.Combine(dir, "obs.jsonl");
            CommandResult json = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--format", "json", "--profile", "full-tunnel", "--privacy", "full", "--observations", jsonObservations]);
            CommandResult ecs = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--format", "ecs", "--profile", "full-tunnel", "--privacy", "full", "--out", outFile, "--observations", observations]);
            Assert.True(json.ExitCode == 2, json.Describe());
            Assert.True(ecs.ExitCode == 2, ecs.Describe());

            List<JsonElement> jsonLines = ParseLines(json.StdOut);
            List<JsonElement> ecsLines = ParseLines(ecs.StdOut);
            Assert.Equal(jsonLines.Count, ecsLines.Count);
            Assert.True(jsonLines.Count > 2, json.StdOut);

            // The events, in the same order: the same time, source and question.
            for (int i = 0; i < jsonLines.Count - 1; i++)
            {
                JsonElement j = jsonLines[i];
                JsonElement e = ecsLines[i];
                Assert.Equal(Time(j), e.GetProperty("@timestamp").GetString());
                Assert.EndsWith("Z", e.GetProperty("@timestamp").GetString(), StringComparison.Ordinal);
                (string? ip, int? port) = Source(j);
                Assert.Equal(ip, Field(e, "source.ip")?.GetString());
                Assert.Equal(port, Field(e, "source.port")?.GetInt32());
                Assert.Equal(Str(j, "qname"), Field(e, "dns.question.name")?.GetString());
                Assert.Equal(Str(j, "qtype"), Field(e, "dns.question.type")?.GetString());
                Assert.Equal(Str(j, "iface"), Field(e, "observer.ingress.interface.name")?.GetString());
                Assert.Equal(Str(j, "file"), Field(e, "log.file.path")?.GetString());
                Assert.Equal(j.GetProperty("frame").GetInt64(), Field(e, "dnsw.frame")?.GetInt64());
                Assert.Equal("alert", Field(e, "event.kind")?.GetString());
                Assert.Equal("dnsw.leak", Field(e, "event.dataset")?.GetString());
                Assert.Equal(Str(j, "leak_type") is { } t ? "Leak-" + t : Str(j, "event") ?? Str(j, "kind"), Field(e, "rule.name")?.GetString());
                Assert.Equal(Str(j, "severity"), Field(e, "dnsw.severity")?.GetString());
            }

            JsonElement udpLeak = Assert.Single(ecsLines, e => Field(e, "rule.name")?.GetString() == "Leak-A"
                && Field(e, "dnsw.transport")?.GetString() == "udp53" && Field(e, "dns.question.name")?.GetString() == DnsTrafficScenario.HostName);
            Assert.Equal(DnsTrafficScenario.ServerV4, Field(udpLeak, "destination.ip")!.Value.GetString());
            Assert.Equal(53, Field(udpLeak, "destination.port")!.Value.GetInt32());
            Assert.Equal("udp", Field(udpLeak, "network.transport")!.Value.GetString());
            Assert.Equal(result.VethInterface, Field(udpLeak, "observer.ingress.interface.name")!.Value.GetString());
            Assert.Contains(ecsLines, e => Field(e, "rule.name")?.GetString() == "Leak-C" && Field(e, "tls.client.server_name")?.GetString() == DnsTrafficScenario.DotServerName);

            JsonElement summary = ecsLines[^1];
            Assert.Equal("metric", Field(summary, "event.kind")?.GetString());
            Assert.Equal(jsonLines[^1].GetProperty("events").GetInt32(), Field(summary, "dnsw.summary.events")?.GetInt32());

            // --out: the same lines as stdout, the summary's time included.
            List<JsonElement> fileLines = ParseLines(await File.ReadAllTextAsync(outFile));
            Assert.Equal(ecsLines.Count, fileLines.Count);
            for (int i = 0; i < ecsLines.Count; i++)
            {
                Assert.Equal(ecsLines[i].GetRawText(), fileLines[i].GetRawText());
            }

            // --observations: one ECS line per JSON observation, for the same frames.
            List<JsonElement> obsJson = ParseLines(await File.ReadAllTextAsync(jsonObservations));
            List<JsonElement> obsEcs = ParseLines(await File.ReadAllTextAsync(observations));
            Assert.Equal(obsJson.Count, obsEcs.Count);
            for (int i = 0; i < obsJson.Count; i++)
            {
                Assert.Equal(obsJson[i].GetProperty("frame").GetInt64(), Field(obsEcs[i], "dnsw.frame")?.GetInt64());
                Assert.Equal(Str(obsJson[i], "file"), Field(obsEcs[i], "log.file.path")?.GetString());
                Assert.Equal(Time(obsJson[i]), Field(obsEcs[i], "@timestamp")?.GetString());
                Assert.Equal("dnsw.observation", Field(obsEcs[i], "event.dataset")?.GetString());
                Assert.Equal(Str(obsJson[i], "iface"), Field(obsEcs[i], "observer.ingress.interface.name")?.GetString());
            }

            JsonElement query = Assert.Single(obsEcs, e => Field(e, "event.action")?.GetString() == "dns-query"
                && Field(e, "dnsw.transport")?.GetString() == "udp53"
                && Field(e, "destination.ip")?.GetString() == DnsTrafficScenario.ServerV4
                && Field(e, "dns.question.name")?.GetString() == DnsTrafficScenario.HostName);
            Assert.Equal("A", Field(query, "dns.question.type")?.GetString());
            Assert.Contains(obsEcs, e => Field(e, "event.action")?.GetString() == "dns-response"
                && Field(e, "dns.response_code")?.GetString() == "NOERROR"
                && Field(e, "dns.question.name")?.GetString() == DnsTrafficScenario.HostName
                && Field(e, "dns.answers") is { } a && a.GetArrayLength() > 0);

            EcsSchema? schema = EcsSchema.TryGet(out string? missing);
            if (schema is null)
            {
                Assert.Skip(missing!);
            }

            foreach (JsonElement line in ecsLines.Concat(obsEcs))
            {
                Assert.Empty(schema.Problems(line));
                EcsAssert.Clean(line, "");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Report_FormatEcs_ListsTheEventsAndTheSummaryInEcs_AndNamesAnEcsFileItCannotRead()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-ecs-").FullName;
        try
        {
            string jsonOut = Path.Combine(dir, "events.jsonl");
            string ecsOut = Path.Combine(dir, "events.ecs.jsonl");
            Assert.Equal(2, (await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--profile", "full-tunnel", "--out", jsonOut])).ExitCode);
            Assert.Equal(2, (await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--profile", "full-tunnel", "--format", "ecs", "--out", ecsOut])).ExitCode);

            CommandResult report = await Dnsw(["leak", "report", jsonOut, "--list", "--format", "ecs"]);
            Assert.True(report.ExitCode == 2, report.Describe());
            List<JsonElement> lines = ParseLines(report.StdOut);
            List<JsonElement> written = ParseLines(await File.ReadAllTextAsync(ecsOut));
            Assert.Equal(written.Count, lines.Count);
            for (int i = 0; i < lines.Count - 1; i++)
            {
                Assert.Equal(written[i].GetRawText(), lines[i].GetRawText());
            }

            Assert.Equal("metric", Field(lines[^1], "event.kind")?.GetString());

            CommandResult wrong = await Dnsw(["leak", "report", ecsOut]);
            Assert.Equal(3, wrong.ExitCode);
            Assert.Contains($"{ecsOut}:1: an Elastic Common Schema line (leak watch --format ecs)", wrong.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The JSON event's time, under either name the JSON vocabulary has used for it.</summary>
    private static string? Time(JsonElement j) => Str(j, "ts") ?? Str(j, "timestamp");

    /// <summary>The JSON event's source as ECS splits it: <c>src</c> as <c>ip:port</c>, or <c>src</c> and <c>sport</c>.</summary>
    private static (string? Ip, int? Port) Source(JsonElement j)
    {
        string? src = Str(j, "src");
        if (src is null)
        {
            return (null, null);
        }

        if (j.TryGetProperty("sport", out JsonElement sport) && sport.ValueKind == JsonValueKind.Number)
        {
            return (src, sport.GetInt32());
        }

        return IPEndPoint.TryParse(src, out IPEndPoint? ep) ? (ep.Address.ToString(), ep.Port) : (null, null);
    }

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonElement? Field(JsonElement root, string dotted)
    {
        JsonElement e = root;
        foreach (string part in dotted.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e))
            {
                return null;
            }
        }

        return e;
    }

    private static Task<CommandResult> Dnsw(string[] args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));

    private static List<JsonElement> ParseLines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())];
}
