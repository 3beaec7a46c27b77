using System.Text.Json;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;

namespace DnsWarden.E2E;

/// <summary><c>dnsw leak watch</c> as a user runs it: on capture files (good, truncated, garbage) and live inside a namespace.</summary>
[Collection(DnsTrafficCollection.Name)]
public sealed class CliWatchTests(DnsTrafficScenarioFixture fixture)
{

    [Fact]
    public async Task Pcapng_ObservationsFile_CarriesEveryObservation()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string observations = Path.Combine(Directory.CreateTempSubdirectory("dnsw-cli-").FullName, "obs.jsonl");
        try
        {
            CommandResult run = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--observations", observations, "--profile", "full-tunnel"]);
            Assert.True(run.ExitCode == 2, run.Describe());

            List<JsonElement> events = ParseLines(await File.ReadAllTextAsync(observations));
            Assert.Equal(Dissect(result.PcapngPath).Count, events.Count);
            JsonElement query = Assert.Single(events, e => e.GetProperty("kind").GetString() == "dns"
                && e.GetProperty("transport").GetString() == "udp53"
                && e.GetProperty("dst").GetString() == DnsTrafficScenario.ServerV4
                && e.GetProperty("dns").GetProperty("qname").GetString() == DnsTrafficScenario.HostName
                && !e.GetProperty("dns").GetProperty("qr").GetBoolean());
            Assert.Equal(result.VethInterface, query.GetProperty("iface").GetString());
            Assert.Equal(53, query.GetProperty("dport").GetInt32());
            Assert.Equal(["ts", "event"], query.EnumerateObject().Take(2).Select(p => p.Name));
            Assert.Equal(result.PcapngPath, query.GetProperty("file").GetString());
            Assert.Equal("A", query.GetProperty("dns").GetProperty("qtype_name").GetString());
            Assert.Contains(events, e => e.GetProperty("transport").GetString() == "dot" && e.GetProperty("sni").GetString() == DnsTrafficScenario.DotServerName);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(observations)!, recursive: true);
        }
    }

    [Fact]
    public async Task Pcapng_JsonLines_AreLeakEvents_ThenTheSummary()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        CommandResult run = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--format", "json", "--profile", "full-tunnel", "--privacy", "full"]);
        Assert.True(run.ExitCode == 2, run.Describe());

        List<JsonElement> lines = ParseLines(run.StdOut);
        JsonElement summary = lines[^1];
        Assert.Equal("summary", summary.GetProperty("event").GetString());
        List<JsonElement> events = lines[..^1];
        Assert.Equal(summary.GetProperty("events").GetInt32(), events.Count);
        JsonElement leak = Assert.Single(events, e => e.GetProperty("leak_type").GetString() == "A"
            && e.GetProperty("transport").GetString() == "udp53"
            && e.GetProperty("qname").GetString() == DnsTrafficScenario.HostName
            && e.GetProperty("qtype").GetString() == "A");
        Assert.Equal(result.VethInterface, leak.GetProperty("iface").GetString());
        Assert.Equal("physical", leak.GetProperty("route_class").GetString());
        Assert.Equal(DnsTrafficScenario.ServerV4 + ":53", EventFields.Dst(leak));
        Assert.Equal("none", leak.GetProperty("attribution").GetProperty("confidence").GetString());
        Assert.Contains(events, e => e.GetProperty("leak_type").GetString() == "C" && e.GetProperty("transport").GetString() == "dot"
            && e.GetProperty("server_name").GetString() == DnsTrafficScenario.DotServerName && e.GetProperty("confidence").GetString() == "high");

        // Loopback DNS (the client's own stub) is the safe path in every profile.
        Assert.DoesNotContain(events, e => e.GetProperty("iface").GetString() == "lo");
    }

    [Fact]
    public async Task TruncatedPcapng_ExitsWithOffset_AndKeepsEveryEventBeforeIt()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-cli-").FullName;
        try
        {
            byte[] whole = await File.ReadAllBytesAsync(result.PcapngPath);
            string cut = Path.Combine(dir, "cut.pcapng");
            // pcapng blocks start on 4-byte boundaries, so an offset that is not a multiple of 4 always cuts one in two
            // (a cut that happens to fall between two blocks is a whole file, not a truncated one).
            int cutAt = whole.Length * 2 / 3;
            cutAt += cutAt % 4 == 0 ? 2 : 0;
            await File.WriteAllBytesAsync(cut, whole.AsSpan(0, cutAt).ToArray());
            string events = Path.Combine(dir, "events.jsonl");

            CommandResult run = await Dnsw(["leak", "watch", "--pcap", cut, "--observations", events]);

            Assert.True(run.ExitCode == 3, run.Describe());
            Assert.Contains("at byte", run.StdOut, StringComparison.Ordinal);
            Assert.Contains(cut, run.StdOut, StringComparison.Ordinal);
            List<JsonElement> written = ParseLines(await File.ReadAllTextAsync(events));
            List<Observation> expected = Dissect(cut);
            Assert.NotEmpty(expected);
            Assert.Equal(expected.Select(o => o.FrameNumber), written.Select(e => e.GetProperty("frame").GetInt64()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task GarbageFile_GetsAPreciseError_NotACrash()
    {
        string path = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(path, "this is not a capture file at all\n"u8.ToArray());
            CommandResult run = await Dnsw(["leak", "watch", "--pcap", path]);
            Assert.True(run.ExitCode == 3, run.Describe());
            Assert.Contains(path, run.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", run.StdOut + run.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task StandardInput_APipe_AndGzip_GiveTheSameEventsAsTheFile()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-cli-").FullName;
        try
        {
            string gz = await GzipAsync(result.PcapngPath, dir);
            string[] argv = [DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--format", "json", "--profile", "full-tunnel", "--privacy", "full"];
            string watch = string.Join(' ', argv.Select(a => $"'{a}'"));
            CommandResult file = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--format", "json", "--profile", "full-tunnel", "--privacy", "full"]);
            Assert.True(file.ExitCode == 2, file.Describe());
            List<string> expected = EventLines(file.StdOut);
            Assert.NotEmpty(expected);
            // Each event names the file its frame is in, as the file was given.
            Assert.All(ParseLines(file.StdOut).Where(e => e.GetProperty("event").GetString() == "leak"),
                e => Assert.Equal(result.PcapngPath, e.GetProperty("file").GetString()));

            // tcpdump -w - | dnsw leak watch --pcap -, a process substitution (a pipe that cannot seek), and gzip read through.
            foreach (string how in new[] { $"cat '{result.PcapngPath}' | {watch} --pcap -", $"{watch} --pcap <(cat '{result.PcapngPath}')", $"{watch} --pcap '{gz}'", $"{watch} --pcap <(cat '{gz}')" })
            {
                CommandResult r = await ProcessRunner.RunAsync("bash", ["-c", how], TimeSpan.FromSeconds(60));
                Assert.True(r.ExitCode == 2, how + "\n" + r.Describe());
                Assert.Equal(Unfiled(expected), Unfiled(EventLines(r.StdOut)));
                if (how.StartsWith("cat", StringComparison.Ordinal))
                {
                    Assert.Contains("\"file\":\"-\",", EventLines(r.StdOut)[0], StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SeveralFilesAfterOnePcap_OneBadAmongThem_IsNamed_AndTheRestAreRead()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-cli-").FullName;
        try
        {
            string bad = Path.Combine(dir, "bad.pcap");
            await File.WriteAllBytesAsync(bad, "not a capture\n"u8.ToArray());
            string[] common = ["--format", "json", "--profile", "full-tunnel", "--privacy", "full"];
            CommandResult repeated = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, "--pcap", result.PcapngPath, .. common]);
            Assert.True(repeated.ExitCode == 2, repeated.Describe());

            // Names after one --pcap are the same files as --pcap repeated; the bad one between them changes nothing else.
            CommandResult r = await Dnsw(["leak", "watch", "--pcap", result.PcapngPath, bad, result.PcapngPath, .. common]);
            Assert.True(r.ExitCode == 3, r.Describe());
            Assert.Equal(EventLines(repeated.StdOut), EventLines(r.StdOut));
            Assert.Single((r.StdOut + r.StdErr).Split('\n'), l => l.Contains(bad, StringComparison.Ordinal));

            // Frames are each file's own (tshark's numbering); the file is beside them, and a correlation id says which
            // file (its place among the files read) where two files have the same frame numbers.
            List<JsonElement> events = [.. ParseLines(r.StdOut).Where(e => e.GetProperty("event").GetString() == "leak")];
            long frames = (await ProcessRunner.RunAsync("tshark", ["-r", result.PcapngPath, "-T", "fields", "-e", "frame.number"])).StdOut
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            Assert.All(events, e => Assert.Equal(result.PcapngPath, e.GetProperty("file").GetString()));
            Assert.All(events, e => Assert.InRange(e.GetProperty("frame").GetInt64(), 1, frames));
            Assert.Contains(events, e => e.GetProperty("correlation_id").GetString() is { } id && id.EndsWith("@1", StringComparison.Ordinal));
            Assert.Contains(events, e => e.GetProperty("correlation_id").GetString() is { } id && id.EndsWith("@2", StringComparison.Ordinal));
            Assert.DoesNotContain("Exception", r.StdOut + r.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AClassicPcapWithoutIface_GetsOneHint_AndWithIfaceNone()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-cli-").FullName;
        try
        {
            // A classic pcap keeps no interface names: the kind of capture tcpdump -w writes by default.
            string classic = Path.Combine(dir, "classic.pcap");
            (await ProcessRunner.RunAsync("tshark", ["-r", result.PcapngPath, "-F", "pcap", "-w", classic])).EnsureSuccess();
            CommandResult bare = await Dnsw(["leak", "watch", "--pcap", classic]);
            Assert.Single(bare.StdErr.Split('\n'), l => l.Contains("does not name its interface", StringComparison.Ordinal) && l.Contains(classic, StringComparison.Ordinal) && l.Contains("--iface", StringComparison.Ordinal));
            CommandResult named = await Dnsw(["leak", "watch", "--pcap", classic, "--iface", "eth0"]);
            Assert.DoesNotContain("does not name its interface", named.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ABarePcap_IsAUsageError_NotALiveCapture()
    {
        CommandResult run = await Dnsw(["leak", "watch", "--pcap"]);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--pcap", run.StdErr + run.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("watching", run.StdErr + run.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACorruptGzip_IsOneLineWithTheOffset()
    {
        (DnsTrafficScenarioResult result, _) = fixture.Get();
        string dir = Directory.CreateTempSubdirectory("dnsw-cli-").FullName;
        try
        {
            string gz = await GzipAsync(result.PcapngPath, dir);
            byte[] bytes = await File.ReadAllBytesAsync(gz);
            for (int i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++)
            {
                bytes[i] ^= 0x5a;
            }

            await File.WriteAllBytesAsync(gz, bytes);
            CommandResult r = await Dnsw(["leak", "watch", "--pcap", gz]);
            Assert.True(r.ExitCode == 3, r.Describe());
            // Depending on where the damage falls, gzip notices it or the capture reader does: one line with the offset either way.
            Assert.Single((r.StdOut + r.StdErr).Split('\n'), l => l.Contains(gz, StringComparison.Ordinal) && l.Contains("at byte", StringComparison.Ordinal));
            Assert.DoesNotContain("Exception", r.StdOut + r.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The capture compressed by gzip itself, as a user's .pcapng.gz is.</summary>
    private static async Task<string> GzipAsync(string capture, string dir)
    {
        string gz = Path.Combine(dir, "capture.pcapng.gz");
        (await ProcessRunner.RunAsync("sh", ["-c", $"gzip -c '{capture}' > '{gz}'"])).EnsureSuccess();
        return gz;
    }

    /// <summary>The leak events of a JSON-lines run (the summary and its counts of files left out).</summary>
    private static List<string> EventLines(string stdout) =>
        [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("\"event\":\"leak\"", StringComparison.Ordinal))];

    /// <summary>The event lines with the file each names left out (a pipe is "-", a process substitution /dev/fd/N).</summary>
    private static List<string> Unfiled(List<string> lines) =>
        [.. lines.Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"file\":(null|\"[^\"]*\"),", ""))];

    [Fact]
    public async Task BadDuration_IsAUsageError()
    {
        CommandResult run = await Dnsw(["leak", "watch", "--duration", "soon"]);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--duration", run.StdErr + run.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LiveWatch_InANamespace_SeesTheQuery_AndCtrlCKeepsEveryEvent()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig");
        await using TestNet net = await TestNet.CreateAsync();
        string serverNs = await net.AddNamespaceAsync("lsrv");
        string clientNs = await net.AddNamespaceAsync("lcli");
        VethPair veth = await net.AddVethAsync(serverNs, clientNs);
        await net.AddAddressAsync(serverNs, veth.InterfaceA, "203.0.113.1/24");
        await net.AddAddressAsync(clientNs, veth.InterfaceB, "203.0.113.2/24");
        await net.StartServerAsync(
            serverNs,
            "dnsmasq",
            "dnsmasq",
            ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=203.0.113.1",
             "--bind-interfaces", "--user=root", "--group=root", "--pid-file=" + net.TempPath("dnsmasq.pid"),
             "--log-facility=-", "--host-record=live.dnsw.test,10.9.9.9"],
            [Listener.Udp(53, "203.0.113.1"), Listener.Tcp(53, "203.0.113.1")]);

        string events = net.TempPath("live.jsonl");
        NetnsProcess watch = net.StartProcess(clientNs, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", veth.InterfaceB, "--duration", "0", "--format", "json", "--privacy", "full",
             "--out", net.TempPath("leaks.jsonl"), "--observations", events]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(20));

        CommandResult dig = await net.ExecAsync(clientNs, "dig", ["@203.0.113.1", "live.dnsw.test", "A", "+short", "+time=2", "+tries=1"]);
        Assert.Equal("10.9.9.9", dig.EnsureSuccess().StdOut.Trim());
        CommandResult digTcp = await net.ExecAsync(clientNs, "dig", ["@203.0.113.1", "live.dnsw.test", "A", "+tcp", "+short", "+time=2", "+tries=1"]);
        Assert.Equal("10.9.9.9", digTcp.EnsureSuccess().StdOut.Trim());
        // The answers came back, so the packets passed the capture; on Ctrl-C the watch reads its buffers to the end.

        watch.Signal(ProcessSignal.Interrupt);
        Task finished = await Task.WhenAny(watch.Exited, Task.Delay(TimeSpan.FromSeconds(15)));
        Assert.True(finished == watch.Exited, "dnsw did not stop on Ctrl-C: " + watch.Describe());
        Assert.True(watch.ExitCode == 2, watch.Describe());

        // Every leak event printed is in the --out file, with the summary last in both.
        List<JsonElement> printed = ParseLines(watch.StdOut);
        List<JsonElement> saved = ParseLines(await File.ReadAllTextAsync(net.TempPath("leaks.jsonl")));
        Assert.Equal(printed.Count, saved.Count);
        Assert.Equal("summary", saved[^1].GetProperty("event").GetString());
        foreach (string transport in new[] { "udp53", "tcp53" })
        {
            Assert.Single(saved, e => e.GetProperty("event").GetString() == "leak" && e.GetProperty("leak_type").GetString() == "A"
                && e.GetProperty("transport").GetString() == transport && e.GetProperty("qname").GetString() == "live.dnsw.test"
                && EventFields.Dst(e) == "203.0.113.1:53");
        }

        List<JsonElement> seen = ParseLines(await File.ReadAllTextAsync(events));
        foreach (string transport in new[] { "udp53", "tcp53" })
        {
            JsonElement q = Assert.Single(seen, e => e.GetProperty("transport").GetString() == transport
                && !e.GetProperty("dns").GetProperty("qr").GetBoolean()
                && e.GetProperty("dns").GetProperty("qname").GetString() == "live.dnsw.test");
            Assert.Equal(veth.InterfaceB, q.GetProperty("iface").GetString());
            Assert.Equal("203.0.113.2", q.GetProperty("src").GetString());
            Assert.Equal("203.0.113.1", q.GetProperty("dst").GetString());
            Assert.Contains(seen, e => e.GetProperty("transport").GetString() == transport
                && e.GetProperty("dns").GetProperty("qr").GetBoolean()
                && e.GetProperty("dns").GetProperty("answers")[0].GetProperty("data").GetString() == "10.9.9.9");
        }
    }

    private static Task<CommandResult> Dnsw(string[] args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));

    private static List<JsonElement> ParseLines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToList();

    private static List<Observation> Dissect(string path)
    {
        var seen = new List<Observation>();
        var dissector = new FrameDissector(seen.Add);
        using ICaptureFileReader reader = CaptureFileReader.Open(path);
        while (reader.TryReadNext(out CapturedPacket p))
        {
            var origin = new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? "", p.LinkType, p.OriginalLength);
            dissector.Process(in origin, p.Data);
        }

        dissector.Complete();
        return seen;
    }
}
