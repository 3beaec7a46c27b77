using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Export;

/// <summary>
/// dnsw writing into a real ClickHouse 18.16 (Debian's) inside a test namespace: two leak sensors replaying capture
/// files and a proxy answering dnsperf export, and the rows are counted with clickhouse-client; the server is killed
/// with SIGKILL mid-export and restarted; servers that refuse; the report across hosts.
/// </summary>
public sealed partial class ExportTests(ExportNet fixture) : IClassFixture<ExportNet>
{
    private static readonly DateTimeOffset s_start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    private TestNet Net => fixture.Net;

    private static void SkipUnlessReady() => Assert.SkipWhen(ExportNet.SkipReason() is not null, ExportNet.SkipReason() ?? "");

    private Task<CommandResult> Dnsw(string ns, params string[] args) =>
        Net.ExecAsync(ns, DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(120));

    private string Spool(string name) => Net.TempPath("spool-" + name);

    private static int EventsIn(string eventsFile) =>
        File.ReadLines(eventsFile).Count(l => l.Contains("\"event\":\"leak\"", StringComparison.Ordinal) || l.Contains("\"event\":\"exfiltration\"", StringComparison.Ordinal));

    private async Task<CommandResult> WatchAsync(string ns, int sensor, string database, string host, string pcap, string outFile, params string[] extra) =>
        await Dnsw(ns, [
            "leak", "watch", "--pcap", pcap, "--iface", "eth0", "--format", "json", "--out", outFile,
            "--export", ExportNet.Url(sensor, database), "--export-host", host, "--export-spool", Spool(host), "--export-create-schema",
            "--export-batch", "100", .. extra]);

    [Fact]
    public async Task TwoSensorsAndAProxy_StoreOneRowPerEventAndQuery_AndTheFleetReportIsTheUnionOfTheLocalOnes()
    {
        SkipUnlessReady();
        const string Db = "fleet";
        string a = Net.TempPath("a.pcap");
        string b = Net.TempPath("b.pcap");
        ExportCaptures.Write(a, 700, s_start, seed: 0);
        ExportCaptures.Write(b, 450, s_start.AddMinutes(3), seed: 5000);
        string aOut = Net.TempPath("a.jsonl");
        string bOut = Net.TempPath("b.jsonl");

        Task<CommandResult> watchA = WatchAsync(fixture.SensorA, 1, Db, "sensor-a", a, aOut);
        Task<CommandResult> watchB = WatchAsync(fixture.SensorB, 2, Db, "sensor-b", b, bOut);
        (int served, long sent) = await ProxyUnderDnsperfAsync(Db, "proxy-host", queries: 1500);
        CommandResult ra = await watchA;
        CommandResult rb = await watchB;
        Assert.True(ra.ExitCode == 2, ra.Describe());
        Assert.True(rb.ExitCode == 2, rb.Describe());

        int eventsA = EventsIn(aOut);
        int eventsB = EventsIn(bOut);
        Assert.Equal(700, eventsA);
        Assert.Equal(450, eventsB);
        Assert.Equal(eventsA, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.leak_events FINAL WHERE host = 'sensor-a'"));
        Assert.Equal(eventsB, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.leak_events FINAL WHERE host = 'sensor-b'"));
        Assert.Equal(sent, served);
        Assert.Equal(served, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.dns_queries FINAL WHERE host = 'proxy-host' AND source = 'proxy'"));
        Assert.Equal("leak-watch", await fixture.Store.QueryAsync($"SELECT DISTINCT sensor FROM {Db}.leak_events"));
        Assert.Empty(Directory.GetFiles(Spool("sensor-a")));

        // The fleet report equals the report of both events files put together, and each host's its own.
        string merged = Net.TempPath("merged.jsonl");
        await File.WriteAllLinesAsync(merged, File.ReadLines(aOut).Concat(File.ReadLines(bOut)).Where(l => !l.Contains("\"event\":\"summary\"", StringComparison.Ordinal)));
        string url = $"clickhouse://127.0.0.1:{ClickHouseStore.HttpPort}/{Db}";
        Assert.Equal(await LocalReportAsync(merged), await StoreReportAsync(url));
        Assert.Equal(await LocalReportAsync(aOut), await StoreReportAsync(url, "--host", "sensor-a"));
        Assert.Equal(await LocalReportAsync(bOut), await StoreReportAsync(url, "--host", "sensor-b", "--since", "2026-12-01T09:03:00Z", "--until", "2026-12-01T10:00:00Z"));
        JsonNode none = JsonNode.Parse(await StoreReportAsync(url, "--host", "sensor-a", "--since", "2026-12-01T09:03:00Z"))!;
        Assert.Equal(0, none["events"]!.GetValue<int>());

        // The documented example queries run on this server, over these rows.
        foreach (string query in ExampleQueries())
        {
            await fixture.Store.QueryAsync(query.Replace("dnsw.", Db + ".", StringComparison.Ordinal));
        }

        string resolvers = await fixture.Store.QueryAsync(ExampleQueries()[1].Replace("dnsw.", Db + ".", StringComparison.Ordinal).Replace("now() - 86400", "toDateTime('2026-01-01 00:00:00')", StringComparison.Ordinal));
        Assert.Contains("sensor-a\t198.51.100.53:53\tudp53", resolvers, StringComparison.Ordinal);
    }

    /// <summary>The statements of docs/clickhouse/queries.sql.</summary>
    private static string[] ExampleQueries([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        string file = Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "..", "docs", "clickhouse", "queries.sql");
        string text = string.Join('\n', File.ReadLines(file).Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)));
        return [.. text.Split(';').Select(q => q.Trim()).Where(q => q.Length > 0)];
    }

    [Fact]
    public async Task ClickHouseKilledMidExport_AndRestarted_HoldsEveryQueryExactlyOnce()
    {
        SkipUnlessReady();
        const string Db = "crash";
        await using NetnsProcess proxy = await StartProxyAsync(Db, "crash-host", "--export-interval", "100ms", "--export-batch", "50");
        string queries = WriteQueries("crash", 6000);
        Task<CommandResult> load = Net.ExecAsync(fixture.Proxy, "dnsperf", ["-s", "127.0.0.1", "-d", queries, "-n", "1", "-Q", "1000", "-c", "4"], TimeSpan.FromSeconds(60));

        // Rows are arriving: the export is under way when the server dies.
        await WaitUntilAsync(async () => await CountOrZeroAsync($"SELECT count() FROM {Db}.dns_queries") > 0, "the first rows to arrive");
        Assert.False(load.IsCompleted, "dnsperf finished before the server was killed; the kill would not be mid-export");
        await fixture.Store.KillAsync();
        await proxy.WaitForOutputAsync("unreachable", TimeSpan.FromSeconds(30));
        CommandResult perf = await load;
        perf.EnsureSuccess();

        await fixture.Store.RestartAsync();
        await proxy.WaitForOutputAsync("delivering again", TimeSpan.FromSeconds(60));
        int served = await StopProxyAsync(proxy);

        Assert.Equal(SentBy(perf), served);
        Assert.Equal(served, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.dns_queries FINAL"));
        Assert.Equal(served, await fixture.Store.CountAsync($"SELECT count() FROM (SELECT event_id FROM {Db}.dns_queries GROUP BY event_id)"));
        Assert.Equal(0, await fixture.Store.CountAsync($"SELECT count() FROM (SELECT event_id FROM {Db}.dns_queries FINAL GROUP BY event_id HAVING count() > 1)"));
    }

    [Fact]
    public async Task AServerThatRefuses_IsOneClearLine_TheEventsStayInTheSpool_AndGoOnceItAccepts()
    {
        SkipUnlessReady();
        const string Db = "refuse";
        string pcap = Net.TempPath("refuse.pcap");
        ExportCaptures.Write(pcap, 40, s_start, seed: 9000);
        string spool = Spool("refuse-host");

        // No such table (and no --export-create-schema, so none is made).
        CommandResult wrongTable = await Dnsw(fixture.SensorA, "leak", "watch", "--pcap", pcap, "--iface", "eth0", "--format", "json",
            "--export", ExportNet.Url(1, "default"), "--export-table", "leak=no_such_table", "--export-host", "refuse-host", "--export-spool", spool);
        Assert.Equal(2, wrongTable.ExitCode);
        string line = Assert.Single(wrongTable.StdErr.Split('\n'), l => l.StartsWith("dnsw: export: clickhouse://", StringComparison.Ordinal));
        Assert.Contains("refused the rows: code 60: Table default.no_such_table doesn't exist.", line, StringComparison.Ordinal);
        Assert.Contains("40 rows kept in the spool " + spool, line, StringComparison.Ordinal);
        Assert.Equal(40, SpooledRows(spool));

        // Wrong password: the server's own words, and the spool keeps growing, nothing lost.
        string password = Net.TempPath("password");
        await File.WriteAllTextAsync(password, "not-the-password\n");
        CommandResult badCredentials = await Dnsw(fixture.SensorA, "leak", "watch", "--pcap", pcap, "--iface", "eth0", "--format", "json",
            "--export", ExportNet.Url(1, "default"), "--export-user", ClickHouseStore.WriterUser, "--export-password-file", password,
            "--export-host", "refuse-host", "--export-spool", spool);
        line = Assert.Single(badCredentials.StdErr.Split('\n'), l => l.StartsWith("dnsw: export: clickhouse://", StringComparison.Ordinal));
        Assert.Contains($"code 193: Wrong password for user {ClickHouseStore.WriterUser}", line, StringComparison.Ordinal);
        Assert.Equal(80, SpooledRows(spool));

        // Right table, right password: the 80 spooled go first, then this run's 40.
        await File.WriteAllTextAsync(password, ClickHouseStore.WriterPassword + "\n");
        CommandResult right = await Dnsw(fixture.SensorA, "leak", "watch", "--pcap", pcap, "--iface", "eth0", "--format", "json",
            "--export", ExportNet.Url(1, Db), "--export-create-schema", "--export-user", ClickHouseStore.WriterUser, "--export-password-file", password,
            "--export-host", "refuse-host", "--export-spool", spool);
        Assert.Equal(2, right.ExitCode);
        Assert.Contains("120 rows sent", right.StdErr, StringComparison.Ordinal);
        Assert.Equal(0, SpooledRows(spool));
        Assert.Equal(120, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.leak_events FINAL"));
        Assert.Equal(40, await fixture.Store.CountAsync($"SELECT uniqExact(frame) FROM {Db}.leak_events"));
    }

    [Fact]
    public async Task AJail_ExportsItsQueriesAndRefusals_OneRowEach()
    {
        SkipUnlessReady();
        string? missing = HostTools.MissingToolsReason("nft", "setpriv", "dig", "curl");
        Assert.SkipWhen(missing is not null, missing ?? "");
        const string Db = "jail";
        string outFile = Net.TempPath("jail.jsonl");

        // Inside the jail every name is sinkholed and the sinkhole address never opens the firewall: the queries are
        // served by the stub, the connection is refused (NFLOG), and both are exported.
        CommandResult jail = await Dnsw(fixture.SensorB,
            "jail", "--out", outFile, "--export", ExportNet.Url(2, Db), "--export-create-schema", "--export-host", "jail-host",
            "--export-spool", Spool("jail-host"), "--", "sh", "-c",
            "dig +short +tries=1 +time=2 a.jail.test @198.51.100.1; dig +short +tries=1 +time=2 b.jail.test AAAA @198.51.100.1; curl -s -m 2 http://6.6.6.6/; true");
        Assert.True(jail.ExitCode == 0, jail.Describe());
        string[] lines = [.. File.ReadLines(outFile)];
        int queries = lines.Count(l => l.Contains("\"verdict\":", StringComparison.Ordinal));
        // The connection's refusals (the jail also refuses, and logs, what its kernel sends on its own: MLD reports).
        int refused = lines.Count(l => l.Contains("\"event\":\"blocked_connection\"", StringComparison.Ordinal)
            && l.Contains("\"kind\":\"unresolved\"", StringComparison.Ordinal) && l.Contains("\"dst\":\"6.6.6.6\"", StringComparison.Ordinal));
        Assert.True(queries >= 2, jail.Describe());
        Assert.True(refused >= 1, jail.Describe());
        Assert.Equal(queries, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.dns_queries FINAL WHERE host = 'jail-host' AND source = 'jail'"));
        Assert.Equal(refused, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.guard_decisions FINAL WHERE host = 'jail-host' AND source = 'jail' AND kind = 'unresolved' AND dst = '6.6.6.6' AND port = 80"));
        Assert.Equal("sinkholed", await fixture.Store.QueryAsync($"SELECT DISTINCT verdict FROM {Db}.dns_queries WHERE host = 'jail-host'"));

        // The run dropped to nobody before it read from the jail, so it spooled in a directory of its own, nobody's and
        // 0700, beneath the shared one (root's 0700, which nobody cannot enter): every batch was sent, none is left.
        string shared = Spool("jail-host");
        Assert.Equal("0 700", await StatAsync(shared));
        string run = Assert.Single(Directory.GetDirectories(shared, "run-*"));
        Assert.Equal("65534 700", await StatAsync(run));
        Assert.Empty(Directory.GetFiles(shared, "*.batch", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task WhatAJailCouldNotSend_IsTakenBackAndSentByTheNextRun()
    {
        SkipUnlessReady();
        string? missing = HostTools.MissingToolsReason("nft", "setpriv", "dig");
        Assert.SkipWhen(missing is not null, missing ?? "");
        const string Db = "jailtakeback";
        string spool = Spool("takeback-host");
        string[] Jail(string table, string outFile, bool createSchema) =>
        [
            "jail", "--out", outFile, "--export", ExportNet.Url(2, Db), .. createSchema ? new[] { "--export-create-schema" } : [],
            "--export-host", "takeback-host", "--export-table", "query=" + table, "--export-spool", spool, "--", "sh", "-c",
            "dig +short +tries=1 +time=2 a.jail.test @198.51.100.1; dig +short +tries=1 +time=2 b.jail.test @198.51.100.1; true",
        ];

        // The server refuses the first jail's rows (no such database or table): they stay in that run's own directory.
        CommandResult first = await Dnsw(fixture.SensorB, Jail("no_such_table", Net.TempPath("takeback-1.jsonl"), createSchema: false));
        Assert.True(first.ExitCode == 0, first.Describe());
        Assert.Contains("refused the rows", first.StdErr, StringComparison.Ordinal);
        string firstRun = Assert.Single(Directory.GetDirectories(spool, "run-*"));
        int kept = SpooledRows(firstRun);
        Assert.True(kept >= 2, first.Describe());

        // The next jail takes them back (its run ended, its lock is free), gives them to its own nobody run, and sends
        // them before its own.
        CommandResult second = await Dnsw(fixture.SensorB, Jail("dns_queries", Net.TempPath("takeback-2.jsonl"), createSchema: true));
        Assert.True(second.ExitCode == 0, second.Describe());
        Assert.False(Directory.Exists(firstRun));
        Assert.Single(Directory.GetDirectories(spool, "run-*"));
        Assert.Empty(Directory.GetFiles(spool, "*.batch", SearchOption.AllDirectories));
        int ownRows = File.ReadLines(Net.TempPath("takeback-2.jsonl")).Count(l => l.Contains("\"verdict\":", StringComparison.Ordinal));
        Assert.Equal(kept + ownRows, await fixture.Store.CountAsync($"SELECT count() FROM {Db}.dns_queries FINAL WHERE host = 'takeback-host'"));
    }

    private static async Task<string> StatAsync(string path) =>
        (await ProcessRunner.RunAsync("stat", ["-c", "%u %a", path])).EnsureSuccess().StdOut.Trim();

    /// <summary>Rows the spool's batch files announce (their header lines).</summary>
    private static int SpooledRows(string spool) =>
        Directory.GetFiles(spool, "*.batch").Sum(f => int.Parse(File.ReadLines(f).First().Split(' ')[3], CultureInfo.InvariantCulture));

    private async Task<(int Served, long Sent)> ProxyUnderDnsperfAsync(string db, string host, int queries)
    {
        await using NetnsProcess proxy = await StartProxyAsync(db, host, "--export-interval", "200ms");
        string file = WriteQueries(host, queries);
        CommandResult perf = await Net.ExecAsync(fixture.Proxy, "dnsperf", ["-s", "127.0.0.1", "-d", file, "-n", "1", "-c", "4"], TimeSpan.FromSeconds(60));
        perf.EnsureSuccess();
        int served = await StopProxyAsync(proxy);
        return (served, SentBy(perf));
    }

    private string WriteQueries(string label, int n)
    {
        string file = Net.TempPath(label + ".queries");
        File.WriteAllLines(file, Enumerable.Range(0, n).Select(i => string.Create(CultureInfo.InvariantCulture, $"q{i}.export.test A")));
        return file;
    }

    private async Task<NetnsProcess> StartProxyAsync(string db, string host, params string[] extra)
    {
        NetnsProcess proxy = Net.StartProcess(fixture.Proxy, "dnsw-proxy", DnswProgram.Program,
        [
            .. DnswProgram.Prefix, "proxy", "--listen", "127.0.0.1:53", "--upstream", "udp://127.0.0.2", "--no-cache",
            "--export", ExportNet.Url(3, db), "--export-create-schema", "--export-host", host, "--export-spool", Spool(host), .. extra,
        ]);
        await proxy.WaitForOutputAsync("dnsw proxy: serving", TimeSpan.FromSeconds(30));
        return proxy;
    }

    /// <summary>SIGTERM, the exit, and the count from the proxy's last line ("dnsw proxy: N queries served").</summary>
    private static async Task<int> StopProxyAsync(NetnsProcess proxy)
    {
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(30));
        Match m = Served().Match(proxy.StdErr);
        Assert.True(m.Success, proxy.Describe());
        Assert.Contains(" rows sent in ", proxy.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("EXPORT DROPPED", proxy.StdErr, StringComparison.Ordinal);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static long SentBy(CommandResult perf)
    {
        Match m = QueriesSent().Match(perf.StdOut);
        Assert.True(m.Success, perf.Describe());
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private async Task<long> CountOrZeroAsync(string sql)
    {
        CommandResult r = await Net.ExecAsync(fixture.Store.Namespace, "clickhouse-client",
            ["--host", "127.0.0.1", "--port", ClickHouseStore.NativePort.ToString(CultureInfo.InvariantCulture), "--query", sql], TimeSpan.FromSeconds(30));
        return r.Succeeded && long.TryParse(r.StdOut.Trim(), CultureInfo.InvariantCulture, out long n) ? n : 0;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    private async Task<string> LocalReportAsync(string events)
    {
        CommandResult r = await Dnsw(fixture.SensorA, "leak", "report", events, "--format", "json");
        Assert.True(r.ExitCode == 2, r.Describe());
        return WithoutLabels(r.StdOut);
    }

    private async Task<string> StoreReportAsync(string url, params string[] filters)
    {
        CommandResult r = await Dnsw(fixture.Store.Namespace, ["leak", "report", "--from", url, "--format", "json", .. filters]);
        Assert.True(r.ExitCode is 0 or 2, r.Describe());
        return WithoutLabels(r.StdOut);
    }

    /// <summary>The policy and privacy labels come from an events file's summary line, not from events: not compared.</summary>
    private static string WithoutLabels(string json)
    {
        JsonObject o = JsonNode.Parse(json)!.AsObject();
        o.Remove("policy");
        o.Remove("privacy");
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    [GeneratedRegex(@"dnsw proxy: (\d+) queries served")]
    private static partial Regex Served();

    [GeneratedRegex(@"Queries sent:\s+(\d+)")]
    private static partial Regex QueriesSent();
}
