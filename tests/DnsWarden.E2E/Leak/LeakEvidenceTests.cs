using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// The leak scenario's evidence and picture: one <c>dnsw leak watch</c> over the phases with every kind of event
/// (Leak-A over UDP, TCP and IPv6, Leak-C DoT and DoH, Leak-D, exfiltration), merged into one capture, writes the
/// events, the evidence pcapng and the HTML report. tshark reads the pcapng back; headless Chromium renders the
/// page in a namespace with nothing but <c>lo</c>.
/// </summary>
[Collection(LeakScenarioCollection.Name)]
public sealed partial class LeakEvidenceTests(LeakScenarioFixture fixture)
{
    private const int FramesPerFlow = 10;

    private static readonly ConcurrentDictionary<LeakScenarioFixture, Lazy<Task<EvidenceRun>>> s_runs = new();

    private static readonly string[] s_phases = [LeakScenario.LeakA, LeakScenario.LeakC, LeakScenario.LeakD, LeakScenario.Exfiltration];

    [Fact]
    public async Task EvidencePcapng_TsharkFindsExactlyEachEventsPackets_WithItsComment()
    {
        EvidenceRun run = await RunAsync();
        Assert.Equal(3, run.Events.Count(e => Str(e, "leak_type") == "A"));
        Assert.Equal(2, run.Events.Count(e => Str(e, "leak_type") == "C"));
        Assert.Single(run.Events, e => Str(e, "leak_type") == "D");
        Assert.Single(run.Events, e => Str(e, "event") == "exfiltration");

        IReadOnlyList<TsharkRow> source = await ReadAsync(run.InputPath);
        IReadOnlyList<TsharkRow> evidence = await ReadAsync(run.EvidencePath);
        Dictionary<long, TsharkRow> byFrame = source.ToDictionary(r => r.Frame);

        // What tshark says each event's packets are: the first packets of the conversation of the event's frame (for
        // UDP DNS, of its transaction: the same ID) and, for a Leak-D, of the DNS transaction its correlation id names.
        var expected = new Dictionary<int, SortedSet<long>>();
        for (int i = 0; i < run.Events.Count; i++)
        {
            JsonElement e = run.Events[i];
            var frames = new SortedSet<long>(FirstOfConversation(source, byFrame[e.GetProperty("frame").GetInt64()]));
            if (Str(e, "leak_type") == "D")
            {
                long dnsFrame = long.Parse(Str(e, "correlation_id")!.AsSpan(1), CultureInfo.InvariantCulture);
                frames.UnionWith(FirstOfConversation(source, byFrame[dnsFrame]));
            }

            expected[i + 1] = frames;
        }

        // What the evidence file holds: every packet carries comments naming its events and its frame in the capture.
        var found = new Dictionary<int, SortedSet<long>>();
        foreach (TsharkRow packet in evidence)
        {
            Assert.NotEmpty(packet.Comments);
            foreach (string comment in packet.Comments)
            {
                Match m = CommentRegex().Match(comment);
                Assert.True(m.Success, "comment not in the documented shape: " + comment);
                int number = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
                long frame = long.Parse(m.Groups["frame"].Value, CultureInfo.InvariantCulture);
                JsonElement e = run.Events[number - 1];
                string type = Str(e, "event") == "exfiltration" ? "exfiltration" : "Leak-" + Str(e, "leak_type");
                Assert.Equal(type, m.Groups["type"].Value);
                Assert.Equal(Str(e, "severity"), m.Groups["severity"].Value);
                Assert.Equal(Str(e, "correlation_id") ?? "", m.Groups["correlation"].Value);

                // The packet is the capture's own: same interface, same time to the nanosecond, same length.
                TsharkRow original = byFrame[frame];
                Assert.Equal(original.Interface, packet.Interface);
                Assert.Equal(original.TimeEpoch, packet.TimeEpoch);
                Assert.Equal(original.Length, packet.Length);
                (found.TryGetValue(number, out SortedSet<long>? set) ? set : found[number] = []).Add(frame);
            }
        }

        Assert.Equal(expected.Keys.Order(), found.Keys.Order());
        foreach ((int number, SortedSet<long> frames) in expected)
        {
            Assert.True(frames.SetEquals(found[number]), $"event {number}: expected frames {string.Join(',', frames)}, the pcapng has {string.Join(',', found[number])}");
        }

        // One interface block per interface seen: the evidence crossed eth0 and tun0.
        Assert.Equal(["eth0", "tun0"], evidence.Select(p => p.Interface).Distinct().Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(LeakScenario.LeakA)]
    [InlineData(LeakScenario.LeakD)]
    public async Task LiveWatch_WritesEachEventsQueryAnswerAndConnection_WithItsComment(string phase)
    {
        LeakPhaseCapture capture = fixture.Capture(phase);
        List<JsonElement> events = [.. File.ReadAllLines(capture.LiveEventsPath!).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        events.RemoveAt(events.Count - 1); // the summary
        Assert.NotEmpty(events);
        CommandResult r = await ProcessRunner.RunAsync("tshark",
        [
            "-n", "-r", capture.LiveEvidencePath!, "-T", "fields", "-E", "separator=/t", "-E", "aggregator=|", "-E", "occurrence=a",
            "-e", "frame.interface_name", "-e", "dns.flags.response", "-e", "dns.qry.name", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "frame.comment",
        ], TimeSpan.FromSeconds(60));
        r.EnsureSuccess();
        string[][] packets = [.. r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))];
        Assert.All(packets, p => Assert.Matches(CommentRegex(), p[5].Split('|')[0]));
        for (int i = 0; i < events.Count; i++)
        {
            JsonElement e = events[i];
            string prefix = $"dnsw event {(i + 1).ToString(CultureInfo.InvariantCulture)}:";
            string[][] mine = [.. packets.Where(p => p[5].Split('|').Any(c => c.StartsWith(prefix, StringComparison.Ordinal)))];
            string qname = Str(e, "qname")!;
            string dnsIface = Str(e, "iface")!;
            Assert.Contains(mine, p => p[0] == dnsIface && p[1] == "0" && string.Equals(p[2], qname, StringComparison.OrdinalIgnoreCase));
            Assert.Contains(mine, p => p[0] == dnsIface && p[1] == "1" && string.Equals(p[2], qname, StringComparison.OrdinalIgnoreCase));
            if (Str(e, "leak_type") == "D")
            {
                string connectionIface = Str(e.GetProperty("connection"), "iface")!;
                Assert.Contains(mine, p => p[0] == connectionIface && p[3] == "1" && p[4] == "0"); // its SYN
            }
        }
    }

    [Fact]
    public async Task HtmlReport_RenderedOffline_CardsAreTheSummary_EveryEventARow_FiltersChangeTheRows()
    {
        string? skip = HeadlessChromium.SkipReason();
        if (skip is not null)
        {
            Assert.Skip(skip);
        }

        EvidenceRun run = await RunAsync();
        await using TestNet net = await TestNet.CreateAsync();
        HeadlessChromium browser = await HeadlessChromium.StartAsync(net);
        string url = new Uri(run.HtmlPath).AbsoluteUri;

        CommandResult page = await browser.DumpDomAsync(url);
        string dom = page.StdOut;
        Assert.DoesNotContain("Content Security Policy", page.StdErr, StringComparison.Ordinal);
        JsonElement summary = run.Summary;
        Assert.Equal(summary.GetProperty("events").GetInt32(), Card(dom, "events"));
        foreach (JsonProperty p in summary.GetProperty("by_type").EnumerateObject())
        {
            Assert.Equal(p.Value.GetInt32(), Card(dom, "type-" + p.Name));
        }

        foreach (JsonProperty p in summary.GetProperty("by_severity").EnumerateObject())
        {
            Assert.Equal(p.Value.GetInt32(), Card(dom, "severity-" + p.Name));
        }

        List<Row> rows = Rows(dom);
        Assert.Equal(run.Events.Count, rows.Count);
        Assert.All(rows, r => Assert.False(r.Hidden));
        for (int i = 0; i < rows.Count; i++)
        {
            JsonElement e = run.Events[i];
            Assert.Equal(Str(e, "event") == "exfiltration" ? "exfiltration" : Str(e, "leak_type"), rows[i].Type);
            Assert.Equal(Str(e, "iface"), rows[i].Interface);
        }

        // Every part of the page was drawn: the timeline's columns, the bars, the flow's nodes.
        Assert.Contains("data-chart=\"timeline\"", dom, StringComparison.Ordinal);
        Assert.Equal(summary.GetProperty("events").GetInt32(), Regex.Matches(dom, "data-series=\"[^\"]+\" data-value=\"(\\d+)\"").Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        Assert.Contains("data-chart=\"resolvers\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-node=\"tun0\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-node=\"eth0\"", dom, StringComparison.Ordinal);

        // The filters, preset from the address as a reader's link would: the page's script hides the other rows.
        foreach ((string fragment, Func<JsonElement, bool> keep) in new (string, Func<JsonElement, bool>)[]
        {
            ("type=C", e => Str(e, "leak_type") == "C"),
            ("iface=tun0", e => Str(e, "iface") == "tun0"),
            ("type=A&severity=P1&iface=eth0", e => Str(e, "leak_type") == "A" && Str(e, "severity") == "P1" && Str(e, "iface") == "eth0"),
            ("type=exfiltration", e => Str(e, "event") == "exfiltration"),
        })
        {
            string filtered = (await browser.DumpDomAsync(url + "#" + fragment)).StdOut;
            List<Row> shown = [.. Rows(filtered).Where(r => !r.Hidden)];
            int[] expected = [.. run.Events.Select((e, i) => (e, i)).Where(x => keep(x.e)).Select(x => x.i + 1)];
            Assert.NotEmpty(expected);
            Assert.True(expected.Length < run.Events.Count, fragment);
            Assert.Equal(expected, shown.Select(r => r.Number));
            Assert.Contains($"<span id=\"shown\">{expected.Length.ToString(CultureInfo.InvariantCulture)}</span>", filtered, StringComparison.Ordinal);
        }

        string png = Path.Combine(fixture.ArtifactDirectory, "leak-report.png");
        await browser.ScreenshotAsync(url, png, 1400, 2600);
        Keep(png, run.HtmlPath, run.EvidencePath, run.EventsPath);

        // The same page from the saved events file: the same cards.
        string fromFile = Path.Combine(fixture.ArtifactDirectory, "leak-report-from-events.html");
        CommandResult report = await LeakRun.DnswAsync(["leak", "report", run.EventsPath, "--html", fromFile]);
        Assert.True(report.ExitCode == LeakRun.ExitEvents, report.Describe());
        string fromFileDom = (await browser.DumpDomAsync(new Uri(fromFile).AbsoluteUri)).StdOut;
        foreach (string card in new[] { "events", "type-A", "type-C", "type-D", "type-exfiltration", "severity-P1", "severity-P2" })
        {
            Assert.Equal(Card(dom, card), Card(fromFileDom, card));
        }

        Assert.Equal(rows.Count, Rows(fromFileDom).Count);
    }

    private async Task<EvidenceRun> RunAsync()
    {
        fixture.Get();
        return await s_runs.GetOrAdd(fixture, f => new Lazy<Task<EvidenceRun>>(() => WatchAsync(f))).Value;
    }

    private static async Task<EvidenceRun> WatchAsync(LeakScenarioFixture fixture)
    {
        HostTools.RequireTools("mergecap", "tshark");
        string dir = fixture.ArtifactDirectory;
        string input = Path.Combine(dir, "evidence-input.pcapng");
        CommandResult merge = await ProcessRunner.RunAsync("mergecap", ["-w", input, .. s_phases.Select(p => fixture.Capture(p).PcapngPath)]);
        merge.EnsureSuccess();
        string events = Path.Combine(dir, "leak-events.jsonl"), evidence = Path.Combine(dir, "leak-evidence.pcapng"), html = Path.Combine(dir, "leak-report.html");
        CommandResult result = await LeakRun.DnswAsync(
        [
            "leak", "watch", "--pcap", input, "--profile", "full-tunnel", "--privacy", "full", "--format", "json",
            "--out", events, "--write-pcap", evidence, "--html", html,
        ]);
        LeakRun watch = LeakRun.FromResult(result);
        watch.AssertExit(LeakRun.ExitEvents);
        Assert.True(File.Exists(evidence) && File.Exists(html), watch.Describe());
        return new EvidenceRun(input, events, evidence, html, watch.Events, watch.Summary);
    }

    /// <summary>Copies the outputs under <c>$DNSW_E2E_ARTIFACTS/leak</c> when that is set (the fixture's own copies go with the run).</summary>
    private static void Keep(params string[] paths)
    {
        string? keep = Environment.GetEnvironmentVariable("DNSW_E2E_ARTIFACTS");
        if (string.IsNullOrEmpty(keep))
        {
            return;
        }

        string dir = Path.Combine(keep, "leak");
        Directory.CreateDirectory(dir);
        foreach (string p in paths)
        {
            File.Copy(p, Path.Combine(dir, Path.GetFileName(p)), overwrite: true);
        }
    }

    /// <summary>The first packets of the frame's conversation (tshark's stream index; for UDP DNS, the same transaction ID too).</summary>
    private static IEnumerable<long> FirstOfConversation(IReadOnlyList<TsharkRow> source, TsharkRow frame) =>
        source.Where(r => r.Stream == frame.Stream && (frame.DnsId is null || !frame.Stream.StartsWith('u') || r.DnsId == frame.DnsId))
            .OrderBy(r => r.Frame).Take(FramesPerFlow).Select(r => r.Frame);

    private static async Task<IReadOnlyList<TsharkRow>> ReadAsync(string path)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark",
        [
            "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "aggregator=|", "-E", "occurrence=a",
            "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.interface_name",
            "-e", "tcp.stream", "-e", "udp.stream", "-e", "dns.id", "-e", "frame.comment",
        ], TimeSpan.FromSeconds(60));
        r.EnsureSuccess();
        var rows = new List<TsharkRow>();
        foreach (string line in r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('\t');
            string stream = f[4].Length > 0 ? "t" + f[4] : f[5].Length > 0 ? "u" + f[5] : "-" + f[0];
            rows.Add(new TsharkRow(
                long.Parse(f[0], CultureInfo.InvariantCulture), decimal.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture),
                f[3], stream, f[6].Length > 0 ? f[6].Split('|')[0] : null, f.Length > 7 && f[7].Length > 0 ? f[7].Split('|') : []));
        }

        return rows;
    }

    private static int Card(string dom, string id)
    {
        Match m = Regex.Match(dom, $"data-card=\"{Regex.Escape(id)}\" data-value=\"\\d+\"><span class=\"n\">(\\d+)</span>");
        Assert.True(m.Success, "no card " + id);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static List<Row> Rows(string dom) =>
        [
            .. RowRegex().Matches(dom).Select(m => new Row(
                int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture), m.Groups["type"].Value, m.Groups["iface"].Value, m.Groups["rest"].Value.Contains("hidden", StringComparison.Ordinal))),
        ];

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    [GeneratedRegex(@"^dnsw event (?<n>\d+): (?<type>Leak-[ABCD]|exfiltration) (?<severity>P[0-3])(?: correlation (?<correlation>[qr]\d+))?; (?<role>query|answer|connection|packet), capture frame (?<frame>\d+)$")]
    private static partial Regex CommentRegex();

    [GeneratedRegex("<tr class=\"ev\" id=\"event-(?<n>\\d+)\" data-type=\"(?<type>[^\"]*)\" data-severity=\"[^\"]*\" data-process=\"[^\"]*\" data-iface=\"(?<iface>[^\"]*)\"(?<rest>[^>]*)>")]
    private static partial Regex RowRegex();

    private sealed record EvidenceRun(string InputPath, string EventsPath, string EvidencePath, string HtmlPath, IReadOnlyList<JsonElement> Events, JsonElement Summary);

    private sealed record TsharkRow(long Frame, decimal TimeEpoch, int Length, string Interface, string Stream, string? DnsId, string[] Comments);

    private sealed record Row(int Number, string Type, string Interface, bool Hidden);
}
