using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DnsWarden.Leak.Tests.Events;

namespace DnsWarden.E2E.Proxy;

/// <summary>Builds <see cref="ProxyNet"/> once for the proxy tests.</summary>
public sealed class ProxyNetFixture : IAsyncLifetime
{
    private ProxyNet? _net;
    private Exception? _failure;

    public string? SkipReason { get; private set; }

    public ProxyNet Net => _failure is null ? _net! : throw new InvalidOperationException("proxy topology failed to build", _failure);

    public async ValueTask InitializeAsync()
    {
        SkipReason = ProxyNet.SkipReason();
        if (SkipReason is not null)
        {
            return;
        }

        try
        {
            _net = await ProxyNet.BuildAsync();
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_net is not null)
        {
            await _net.DisposeAsync();
        }
    }
}

/// <summary>
/// <c>dnsw proxy</c> end to end: real clients in one namespace, real upstreams in another, and the upstream side
/// watched (the servers' own query logs and a capture) to prove what did and did not leave the proxy.
/// </summary>
public sealed class ProxyTests(ProxyNetFixture fixture) : IClassFixture<ProxyNetFixture>
{
    private static readonly string[] s_dig = ["+time=3", "+tries=1"];
    private static int s_port = 5300;

    private ProxyNet Net
    {
        get
        {
            if (fixture.SkipReason is not null)
            {
                Assert.Skip(fixture.SkipReason);
            }

            return fixture.Net;
        }
    }

    private sealed record RunningProxy(NetnsProcess Process, int Port, string Directory, string QueryLog)
    {
        public string Server => "@127.0.0.1";

        public string PortText => Port.ToString(CultureInfo.InvariantCulture);

        public IReadOnlyList<JsonElement> LogLines() =>
            File.Exists(QueryLog)
                ? [.. File.ReadAllLines(QueryLog).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())]
                : [];
    }

    private static async Task<RunningProxy> StartProxyAsync(ProxyNet n, string label, string upstreamsJson, string? policyJson = null, string extra = "", string[]? args = null)
    {
        int port = Interlocked.Increment(ref s_port);
        string dir = n.Net.TempPath("proxy-" + label);
        Directory.CreateDirectory(dir);
        string log = Path.Combine(dir, "queries.jsonl");
        string policy = policyJson is null ? "" : $", \"policy\": {policyJson}";
        string config = $$"""
            {
              "listen": ["127.0.0.1:{{port}}", "[::1]:{{port}}"],
              "upstreams": {{upstreamsJson}},
              "query_log": { "path": "{{log}}", "privacy": "full" }{{extra}}{{policy}}
            }
            """;
        string file = Path.Combine(dir, "proxy.json");
        await File.WriteAllTextAsync(file, config);
        NetnsProcess p = n.Net.StartProcess(n.Pc, "dnsw-proxy-" + label, DnswProgram.Program, [.. DnswProgram.Prefix, "proxy", "--config", file, .. args ?? []]);
        await n.Net.WaitForListenersAsync(n.Pc, [Listener.Udp(port, "127.0.0.1"), Listener.Tcp(port, "127.0.0.1")], TimeSpan.FromSeconds(20), p);
        return new RunningProxy(p, port, dir, log);
    }

    private static async Task<string> StopAsync(RunningProxy proxy)
    {
        await proxy.Process.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
        Assert.Equal(0, proxy.Process.ExitCode);
        Assert.Contains("queries served", proxy.Process.StdErr, StringComparison.Ordinal);
        return proxy.Process.StdErr;
    }

    private async Task<CommandResult> Dig(RunningProxy proxy, params string[] args) =>
        await Net.Net.ExecAsync(Net.Pc, "dig", [proxy.Server, "-p", proxy.PortText, .. s_dig, .. args], TimeSpan.FromSeconds(15));

    private async Task<string> Short(RunningProxy proxy, params string[] args) =>
        (await Dig(proxy, [.. args, "+short"])).EnsureSuccess().StdOut.Trim();

    [Theory]
    [InlineData("udp", "\"udp://10.53.0.11\"")]
    [InlineData("tcp", "\"tcp://10.53.0.12\"")]
    [InlineData("tls", "[{ \"url\": \"tls://dns.proxy.test@10.53.0.13\", \"ca_file\": \"CA\" }]")]
    [InlineData("https", "[{ \"url\": \"https://dns.proxy.test@10.53.0.13/dns-query\", \"ca_file\": \"CA\", \"pin_sha256\": [\"PIN\"] }]")]
    public async Task ForwardsThroughEachUpstreamKind(string kind, string upstream)
    {
        ProxyNet n = Net;
        string upstreams = upstream.StartsWith('[') ? upstream : $"[{upstream}]";
        upstreams = upstreams.Replace("CA", n.CaFile, StringComparison.Ordinal).Replace("PIN", n.PinSha256, StringComparison.Ordinal);
        // The first query opens the upstream's connection (a TLS handshake and certificate check for tls and https),
        // which on a loaded machine can take longer than the 2 s default: this test is about the kinds, not that.
        RunningProxy proxy = await StartProxyAsync(n, "kind-" + kind, upstreams, extra: ", \"upstream_timeout\": \"10s\"");

        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A", "+time=12"));
        Assert.Equal(ProxyNet.WwwV6, await Short(proxy, ProxyNet.WwwName, "AAAA", "+tcp"));
        CommandResult v6 = await Net.Net.ExecAsync(n.Pc, "dig", ["@::1", "-p", proxy.PortText, .. s_dig, ProxyNet.WwwName, "A", "+short"]);
        Assert.Equal(ProxyNet.WwwV4, v6.EnsureSuccess().StdOut.Trim());
        CommandResult k = await Net.Net.ExecAsync(n.Pc, "kdig", ["@127.0.0.1", "-p", proxy.PortText, "+time=3", "+retry=0", "+tcp", ProxyNet.WwwName, "A", "+short"]);
        Assert.Equal(ProxyNet.WwwV4, k.EnsureSuccess().StdOut.Trim());

        await StopAsync(proxy);
        IReadOnlyList<JsonElement> log = proxy.LogLines();
        JsonElement first = log.First(e => e.GetProperty("verdict").GetString() == "forwarded");
        Assert.StartsWith(kind + "://", first.GetProperty("upstream").GetString(), StringComparison.Ordinal);
        Assert.Equal(ProxyNet.WwwName, first.GetProperty("qname").GetString());
        Assert.Equal(ProxyNet.WwwV4, first.GetProperty("answers")[0].GetString());
    }

    [Fact]
    public async Task WrongPinGivesServFailAndSaysWhy()
    {
        ProxyNet n = Net;
        string wrongPin = Convert.ToBase64String(new byte[32]);
        RunningProxy proxy = await StartProxyAsync(n, "pin", $"[{{ \"url\": \"tls://dns.proxy.test@10.53.0.13\", \"ca_file\": \"{n.CaFile}\", \"pin_sha256\": [\"{wrongPin}\"] }}]");
        CommandResult r = await Dig(proxy, ProxyNet.WwwName, "A");
        Assert.Contains("status: SERVFAIL", r.StdOut, StringComparison.Ordinal);
        await StopAsync(proxy);
        JsonElement e = Assert.Single(proxy.LogLines());
        Assert.Equal("servfail", e.GetProperty("verdict").GetString());
        Assert.Contains("pin", e.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailsOverWhenTheFirstUpstreamIsKilledMidRun()
    {
        ProxyNet n = Net;
        NetnsProcess spare = await ProxyNet.StartDnsmasqAsync(n.Net, n.Up, "spare", ProxyNet.SpareV4);
        RunningProxy proxy = await StartProxyAsync(n, "failover", "[\"udp://10.53.0.14\", \"udp://10.53.0.12\"]", extra: ", \"upstream_timeout\": \"400ms\", \"cache\": { \"enabled\": false }");

        int before = ProxyNet.QueriesSeen(n.Unbound, ProxyNet.WwwName);
        var answers = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            if (i == 10)
            {
                await spare.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(2));
            }

            answers.Add(await Short(proxy, ProxyNet.WwwName, "A"));
        }

        Assert.All(answers, a => Assert.Equal(ProxyNet.WwwV4, a));
        Assert.Equal(10, await ProxyNet.WaitForQueriesAsync(spare, ProxyNet.WwwName, 10, TimeSpan.FromSeconds(5)));
        Assert.True(await ProxyNet.WaitForQueriesAsync(n.Unbound, ProxyNet.WwwName, before + 20, TimeSpan.FromSeconds(5)) - before >= 20, n.Unbound.StdErr);
        await StopAsync(proxy);
        Assert.All(proxy.LogLines(), e => Assert.Equal("forwarded", e.GetProperty("verdict").GetString()));
        // Repeats of one query are folded into a line with their count.
        Assert.Equal(20, proxy.LogLines().Where(e => e.GetProperty("upstream").GetString() == "udp://10.53.0.12").Sum(e => e.TryGetProperty("count", out JsonElement c) ? c.GetInt32() : 1));
    }

    [Fact]
    public async Task EveryUpstreamDownGivesServFailNotTheSystemResolver()
    {
        ProxyNet n = Net;
        // Nothing listens on .14:53 once the failover test's dnsmasq is gone; the port below is closed everywhere.
        RunningProxy proxy = await StartProxyAsync(n, "alldown", "[\"udp://10.53.0.11:5999\", \"tcp://10.53.0.12:5999\"]", extra: ", \"upstream_timeout\": \"300ms\"");
        CommandResult r = await Dig(proxy, ProxyNet.WwwName, "A");
        Assert.Contains("status: SERVFAIL", r.StdOut, StringComparison.Ordinal);
        await StopAsync(proxy);
    }

    [Fact]
    public async Task WithTheOnlyUpstreamStopped_ACachedNameIsServedStaleAndOthersGetServFail_NothingElseIsAsked()
    {
        ProxyNet n = Net;
        NetnsProcess upstream = await ProxyNet.StartDnsmasqAsync(n.Net, n.Up, "stale", ProxyNet.StaleV4);
        RunningProxy proxy = await StartProxyAsync(n, "stale", $"[\"udp://{ProxyNet.StaleV4}\"]",
            extra: ", \"upstream_timeout\": \"300ms\", \"cache\": { \"max_ttl\": \"1s\", \"serve_stale\": \"1h\" }");
        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A"));
        await upstream.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(2));

        string capture = n.Net.TempPath("proxy-stale-upstream-side.pcapng");
        DumpcapCapture dump = await n.Net.StartCaptureAsync(n.Up, [n.UpInterface], capture);

        // Fresh from the cache for up to a second, then (the upstream silent) stale: watched, not waited for.
        string stale = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            stale = (await Dig(proxy, ProxyNet.WwwName, "A")).StdOut;
            if (stale.Contains("EDE: 3", StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.Contains("status: NOERROR", stale, StringComparison.Ordinal);
        Assert.Contains("; EDE: 3 (Stale Answer)", stale, StringComparison.Ordinal);
        Assert.Matches(@$"(?m)^www\.proxy\.test\.\s+30\s+IN\s+A\s+{ProxyNet.WwwV4.Replace(".", "\\.", StringComparison.Ordinal)}$", stale);

        string never = (await Dig(proxy, "never-cached.proxy.test", "A")).StdOut;
        Assert.Contains("status: SERVFAIL", never, StringComparison.Ordinal);
        Assert.Contains("; EDE: 22 (No Reachable Authority)", never, StringComparison.Ordinal);
        await StopAsync(proxy);
        await dump.StopAsync();

        Assert.Contains(proxy.LogLines(), e => e.GetProperty("verdict").GetString() == "stale"
            && e.GetProperty("reason").GetString()!.StartsWith("stale answer: all upstreams failed: ", StringComparison.Ordinal));
        // The far side: the stopped upstream was asked (for both names), and nothing else was (its ICMP port-unreachable
        // replies quote the queries and are left out).
        CommandResult asked = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", "dns.flags.response == 0 && !icmp", "-T", "fields", "-e", "ip.dst", "-e", "dns.qry.name"]);
        string[] lines = asked.EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l == $"{ProxyNet.StaleV4}\t{ProxyNet.WwwName}");
        Assert.Contains(lines, l => l == $"{ProxyNet.StaleV4}\tnever-cached.proxy.test");
        Assert.All(lines, l => Assert.StartsWith(ProxyNet.StaleV4 + "\t", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithPrefetch_AHitInTheLastTenthOfTheTtlRefreshesTheAnswer_AndTheNextAskerIsAnsweredFromTheCachePastTheOldExpiry()
    {
        ProxyNet n = Net;
        const string Name = "prefetch." + ProxyNet.ExfilParent;
        const string Marker = "prefetch-marker." + ProxyNet.ExfilParent;
        RunningProxy proxy = await StartProxyAsync(n, "prefetch", $"[\"udp://{ProxyNet.DnsmasqV4}\"]",
            extra: ", \"cache\": { \"max_ttl\": \"10s\", \"prefetch\": true }");
        int before = ProxyNet.QueriesSeen(n.Dnsmasq, Name);
        Assert.Equal(ProxyNet.ExfilV4, await Short(proxy, Name, "A"));

        // Counted from the answer's arrival, which is after it was stored: the hit below is then never early, however
        // long the first forward took (a clock started before it put the hit ahead of the last tenth on a busy machine).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(before + 1, await ProxyNet.WaitForQueriesAsync(n.Dnsmasq, Name, before + 1, TimeSpan.FromSeconds(10)));

        // The answer lives 10 s in the cache: a hit in its last second is answered from the cache and asks once more.
        // (Waiting here is the behaviour under test, a TTL running out, not readiness.)
        await Task.Delay(TimeSpan.FromSeconds(9.05) - clock.Elapsed, TestContext.Current.CancellationToken);
        Assert.Equal(ProxyNet.ExfilV4, await Short(proxy, Name, "A"));
        Assert.Equal(before + 2, await ProxyNet.WaitForQueriesAsync(n.Dnsmasq, Name, before + 2, TimeSpan.FromSeconds(10)));

        // Past the first answer's expiry the refreshed one is served: the upstream is not asked a third time (a later
        // marker query reaching its log proves the log has caught up).
        await Task.Delay(TimeSpan.FromSeconds(10.6) - clock.Elapsed, TestContext.Current.CancellationToken);
        Assert.Equal(ProxyNet.ExfilV4, await Short(proxy, Name, "A"));
        Assert.Equal(ProxyNet.ExfilV4, await Short(proxy, Marker, "A"));
        Assert.Equal(1, await ProxyNet.WaitForQueriesAsync(n.Dnsmasq, Marker, 1, TimeSpan.FromSeconds(10)));
        Assert.Equal(before + 2, ProxyNet.QueriesSeen(n.Dnsmasq, Name));
        await StopAsync(proxy);

        // Repeats may be folded into one line with a count.
        string[] verdicts = [.. proxy.LogLines().Where(e => e.GetProperty("qname").GetString() == Name)
            .SelectMany(e => Enumerable.Repeat(e.GetProperty("verdict").GetString()!, e.TryGetProperty("count", out JsonElement c) ? c.GetInt32() : 1))];
        Assert.Equal(["forwarded", "cached", "cached"], verdicts);
    }

    [Fact]
    public async Task TheDotListenerAnswersKdigOverTlsAndAClientThatSpeaksNoTlsIsDropped()
    {
        ProxyNet n = Net;
        int dotPort = Interlocked.Increment(ref s_port);
        string dotText = dotPort.ToString(CultureInfo.InvariantCulture);
        RunningProxy proxy = await StartProxyAsync(n, "dot", $"[\"udp://{ProxyNet.DnsmasqV4}\"]",
            args: ["--dot-listen", $"127.0.0.1:{dotText}", "--tls-cert", n.CertFile, "--tls-key", n.KeyFile]);
        await n.Net.WaitForListenersAsync(n.Pc, [Listener.Tcp(dotPort, "127.0.0.1")], TimeSpan.FromSeconds(10), proxy.Process);

        // A plain DNS-over-TCP client on the DoT port: its bytes are no ClientHello, the connection is closed, and
        // the listener goes on serving.
        CommandResult plain = await n.Net.ExecAsync(n.Pc, "dig", ["@127.0.0.1", "-p", dotText, "+tcp", "+time=3", "+tries=1", ProxyNet.WwwName, "A"], TimeSpan.FromSeconds(15));
        Assert.DoesNotContain("status: NOERROR", plain.StdOut, StringComparison.Ordinal);

        CommandResult k = await n.Net.ExecAsync(n.Pc, "kdig", ["@127.0.0.1", "-p", dotText, "+tls", $"+tls-ca={n.CaFile}", $"+tls-hostname={ProxyNet.TlsName}",
            "+time=5", "+retry=0", ProxyNet.WwwName, "A", "+short"], TimeSpan.FromSeconds(15));
        Assert.Equal(ProxyNet.WwwV4, k.EnsureSuccess().StdOut.Trim());
        // Two queries on one TLS connection (RFC 7858 §3.4: connections are reused).
        CommandResult two = await n.Net.ExecAsync(n.Pc, "kdig", ["@127.0.0.1", "-p", dotText, "+tls", $"+tls-ca={n.CaFile}", $"+tls-hostname={ProxyNet.TlsName}",
            "+time=5", "+retry=0", "+keepopen", ProxyNet.WwwName, "A", "+short", ProxyNet.WwwName, "AAAA", "+short"], TimeSpan.FromSeconds(15));
        Assert.Equal([ProxyNet.WwwV4, ProxyNet.WwwV6], two.EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        string stderr = await StopAsync(proxy);
        Assert.Contains($", DoT 127.0.0.1:{dotText} →", stderr, StringComparison.Ordinal);
        // The query log names the listener: DoT, not the plain TCP its stream runs on.
        Assert.Contains(proxy.LogLines(), e => e.GetProperty("qname").GetString() == ProxyNet.WwwName && e.GetProperty("protocol").GetString() == "tls");
    }

    [Fact]
    public async Task TheDohListenerAnswersCurlAndKdigOverHttp2_GetAndPost_AndRefusesWhatIsNotAQuery()
    {
        ProxyNet n = Net;
        int dohPort = Interlocked.Increment(ref s_port);
        string dohText = dohPort.ToString(CultureInfo.InvariantCulture);
        RunningProxy proxy = await StartProxyAsync(n, "doh", $"[\"udp://{ProxyNet.DnsmasqV4}\"]",
            args: ["--doh-listen", $"127.0.0.1:{dohText}", "--tls-cert", n.CertFile, "--tls-key", n.KeyFile]);
        await n.Net.WaitForListenersAsync(n.Pc, [Listener.Tcp(dohPort, "127.0.0.1")], TimeSpan.FromSeconds(10), proxy.Process);
        string url = $"https://{ProxyNet.TlsName}:{dohText}/dns-query";
        string[] resolve = ["--resolve", $"{ProxyNet.TlsName}:{dohText}:127.0.0.1", "--cacert", n.CaFile, "--http2", "-s", "-m", "10"];

        // kdig: POST over HTTP/2 (+https) and GET (+https-get).
        foreach (string mode in new[] { "+https", "+https-get" })
        {
            CommandResult k = await n.Net.ExecAsync(n.Pc, "kdig", ["@127.0.0.1", "-p", dohText, mode, $"+tls-ca={n.CaFile}", $"+tls-hostname={ProxyNet.TlsName}",
                "+time=5", "+retry=0", ProxyNet.WwwName, "A", "+short"], TimeSpan.FromSeconds(15));
            Assert.Equal(ProxyNet.WwwV4, k.EnsureSuccess().StdOut.Trim());
        }

        // curl as a browser uses it: --doh-url resolves the name it then fetches (the fetch itself is refused: only the
        // resolution matters here, and curl says which address it tried).
        CommandResult viaCurl = await n.Net.ExecAsync(n.Pc, "curl", [.. resolve, "--doh-url", url, "--doh-insecure", "-v", "-o", "/dev/null", $"http://{ProxyNet.WwwName}:9/"], TimeSpan.FromSeconds(20));
        Assert.Contains(ProxyNet.WwwV4, viaCurl.StdErr, StringComparison.Ordinal);

        // What is not a DoH query: the status says what was wrong.
        async Task<string> Status(params string[] args) =>
            (await n.Net.ExecAsync(n.Pc, "curl", [.. resolve, "-o", "/dev/null", "-w", "%{http_code} %{http_version}", .. args], TimeSpan.FromSeconds(15))).StdOut.Trim();
        Assert.Equal("400 2", await Status(url + "?dns=%%%"));
        Assert.Equal("400 2", await Status(url));
        Assert.Equal("415 2", await Status("-X", "POST", "-H", "content-type: text/plain", "--data-binary", "hello", url));
        Assert.Equal("405 2", await Status("-X", "PUT", url));
        Assert.Equal("404 2", await Status($"https://{ProxyNet.TlsName}:{dohText}/other"));

        string stderr = await StopAsync(proxy);
        Assert.Contains($", DoH https://127.0.0.1:{dohText}/dns-query →", stderr, StringComparison.Ordinal);
        Assert.Contains(proxy.LogLines(), e => e.GetProperty("qname").GetString() == ProxyNet.WwwName && e.GetProperty("protocol").GetString() == "https");
    }

    [Fact]
    public async Task PerDomainUpstreams_ARoutedNameReachesOnlyItsUpstreamAndTheRestOnlyTheDefault()
    {
        ProxyNet n = Net;
        // Default: dnsmasq; names under lab.proxy.test (the config file) and www.proxy.test (the flag, the longer
        // suffix of the two for www) go to unbound only.
        RunningProxy proxy = await StartProxyAsync(n, "routes", $"[\"udp://{ProxyNet.DnsmasqV4}\"]",
            extra: $", \"upstream_for\": {{ \"lab.proxy.test\": [\"udp://{ProxyNet.UnboundV4}\"] }}, \"cache\": {{ \"enabled\": false }}",
            args: ["--upstream-for", $"{ProxyNet.WwwName}=udp://{ProxyNet.UnboundV4}"]);
        string tag = Guid.NewGuid().ToString("N")[..12];
        string routed = $"r{tag}.lab.proxy.test";
        string other = $"o{tag}.proxy.test";
        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A"));
        await Dig(proxy, routed, "A");
        await Dig(proxy, other, "A");

        // Markers last through each upstream: once each server logged its marker, everything asked before it is logged.
        string viaUnbound = $"m{tag}.lab.proxy.test";
        string viaDnsmasq = $"m{tag}.proxy.test";
        await Dig(proxy, viaUnbound, "A");
        await Dig(proxy, viaDnsmasq, "A");
        await StopAsync(proxy);
        Assert.True(await ProxyNet.WaitForQueriesAsync(n.Unbound, viaUnbound, 1, TimeSpan.FromSeconds(10)) >= 1, n.Unbound.StdErr);
        Assert.True(await ProxyNet.WaitForQueriesAsync(n.Dnsmasq, viaDnsmasq, 1, TimeSpan.FromSeconds(10)) >= 1);

        Assert.True(ProxyNet.QueriesSeen(n.Unbound, routed) >= 1);
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Dnsmasq, routed));
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Dnsmasq, viaUnbound));
        Assert.True(ProxyNet.QueriesSeen(n.Dnsmasq, other) >= 1);
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Unbound, other));
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Unbound, viaDnsmasq));
        JsonElement www = proxy.LogLines().First(e => e.GetProperty("qname").GetString() == ProxyNet.WwwName);
        Assert.Equal($"udp://{ProxyNet.UnboundV4}", www.GetProperty("upstream").GetString());
        Assert.Contains($"{ProxyNet.WwwName} → udp://{ProxyNet.UnboundV4}", proxy.Process.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TruncatedUpstreamAnswerIsAskedAgainOverTcpAndMetricsSayIt()
    {
        ProxyNet n = Net;
        RunningProxy proxy = await StartProxyAsync(n, "tc", "[\"udp://10.53.0.11\"]", extra: ", \"metrics\": { \"listen\": \"127.0.0.1:9153\" }");

        // Without EDNS the client takes 512 bytes: the proxy answers TC, dig asks again over TCP and gets it all.
        string whole = await Short(proxy, ProxyNet.BigName, "TXT", "+noedns");
        foreach (string s in ProxyNet.BigStrings)
        {
            Assert.Contains(s, whole, StringComparison.Ordinal);
        }

        CommandResult truncated = await Dig(proxy, ProxyNet.BigName, "TXT", "+noedns", "+ignore");
        Assert.Matches(@"flags:[^;]*\btc\b", truncated.StdOut);

        CommandResult metrics = await Net.Net.ExecAsync(n.Pc, "curl", ["-s", "-H", "Accept: application/openmetrics-text", "http://127.0.0.1:9153/metrics"]);
        metrics.EnsureSuccess();
        Assert.Contains("dnsw_upstream_truncated_retries_total{upstream=\"udp://10.53.0.11\",protocol=\"udp\"} 1", metrics.StdOut, StringComparison.Ordinal);
        Assert.Contains("dnsw_queries_total{protocol=\"tcp\",outcome=\"cached\"}", metrics.StdOut, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", metrics.StdOut, StringComparison.Ordinal);
        await StopAsync(proxy);
    }

    [Fact]
    public async Task BlockedCanaryLocalAndSinkholedNamesNeverReachAnUpstream()
    {
        ProxyNet n = Net;
        string capture = n.Net.TempPath("proxy-upstream-side.pcapng");
        DumpcapCapture dump = await n.Net.StartCaptureAsync(n.Up, [n.UpInterface], capture);
        const string Policy = """
            {
              "default_action": "allow",
              "block": ["ads.blocktest.proxy.test"],
              "local_records": [ { "name": "svc.proxy.test", "type": "A", "value": "10.53.8.8" } ]
            }
            """;
        RunningProxy proxy = await StartProxyAsync(n, "block", "[\"udp://10.53.0.11\"]", Policy);
        string blocked = (await Dig(proxy, "ads.blocktest.proxy.test", "A")).StdOut;
        Assert.Contains("status: NXDOMAIN", blocked, StringComparison.Ordinal);
        // dig asks with EDNS: the answer says why (RFC 8914) and carries an SOA so it can be cached (RFC 2308).
        Assert.Contains("; EDE: 15 (Blocked): (on the block list)", blocked, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^ads\.blocktest\.proxy\.test\.\s+60\s+IN\s+SOA\s+localhost\. nobody\.invalid\. 1 3600 600 86400 60$", blocked);
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "deep.ads.blocktest.proxy.test", "AAAA", "+tcp")).StdOut, StringComparison.Ordinal);
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "use-application-dns.net", "A")).StdOut, StringComparison.Ordinal);
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "mask.icloud.com", "A")).StdOut, StringComparison.Ordinal);
        Assert.Equal("10.53.8.8", await Short(proxy, "svc.proxy.test", "A"));
        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A"));
        await StopAsync(proxy);

        RunningProxy sinkhole = await StartProxyAsync(n, "sinkhole", "[]", """{ "mode": "sinkhole-all" }""");
        // The proxy answers real hosts: the unspecified address, not the routable 6.6.6.6 the jail uses.
        Assert.Equal("0.0.0.0", await Short(sinkhole, "sink.proxy.test", "A"));
        Assert.Equal("::", await Short(sinkhole, "sink.proxy.test", "AAAA"));
        await StopAsync(sinkhole);

        // A name asked last through a forwarding proxy: once dnsmasq has logged it, everything asked before it that
        // reached dnsmasq is in its log too, so the absences below mean something.
        string marker = $"marker-{Guid.NewGuid():N}.{ProxyNet.Zone}";
        RunningProxy last = await StartProxyAsync(n, "block-marker", "[\"udp://10.53.0.11\"]");
        await Dig(last, marker, "A");
        await StopAsync(last);
        await n.Dnsmasq.WaitForOutputAsync(marker, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await dump.StopAsync();

        CommandResult names = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "dns.qry.name"]);
        names.EnsureSuccess();
        string[] seen = names.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(ProxyNet.WwwName, seen);
        Assert.Contains(marker, seen);
        Assert.DoesNotContain(seen, s => s.Contains("ads.blocktest.proxy.test", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(seen, s => s.Contains("svc.proxy.test", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(seen, s => s.Contains("sink.proxy.test", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(seen, s => s.Contains("icloud", StringComparison.OrdinalIgnoreCase) || s.Contains("use-application-dns", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Dnsmasq, "ads.blocktest.proxy.test"));
        Assert.Equal(0, ProxyNet.QueriesSeen(n.Dnsmasq, "sink.proxy.test"));
    }

    [Fact]
    public async Task ExfiltrationBurstIsCutOffAtTheBlockScore()
    {
        ProxyNet n = Net;
        RunningProxy proxy = await StartProxyAsync(n, "exfil", "[\"udp://10.53.0.11\"]", """{ "default_action": "allow", "exfiltration": { "block_score": 50 } }""");
        var rng = new Random(11);
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        string[] names = [.. Enumerable.Range(0, 60).Select(_ => new string([.. Enumerable.Range(0, 52).Select(_ => Alphabet[rng.Next(Alphabet.Length)])]) + "." + ProxyNet.ExfilParent)];
        string batch = Path.Combine(proxy.Directory, "burst.txt");
        await File.WriteAllLinesAsync(batch, names.Select(x => x + " A"));
        await Net.Net.ExecAsync(n.Pc, "dig", [proxy.Server, "-p", proxy.PortText, .. s_dig, "-f", batch, "+short"], TimeSpan.FromSeconds(60));
        await StopAsync(proxy);

        IReadOnlyList<JsonElement> log = proxy.LogLines();
        int forwarded = log.Count(e => e.GetProperty("verdict").GetString() == "forwarded");
        int blocked = log.Count(e => e.GetProperty("verdict").GetString() == "blocked_exfiltration");
        Assert.Equal(60, forwarded + blocked);
        Assert.InRange(forwarded, 1, 30);
        Assert.True(log.Last().GetProperty("exfiltration_score").GetInt32() >= 50);
        string lastForwarded = log.Last(e => e.GetProperty("verdict").GetString() == "forwarded").GetProperty("qname").GetString()!;
        await n.Dnsmasq.WaitForOutputAsync(lastForwarded, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        int reached = names.Count(x => ProxyNet.QueriesSeen(n.Dnsmasq, x) > 0);
        Assert.Equal(forwarded, reached);
    }

    [Fact]
    public async Task ReloadUnderLoadLosesNoQuery()
    {
        ProxyNet n = Net;
        string dir = n.Net.TempPath("proxy-reload");
        Directory.CreateDirectory(dir);
        string policy = Path.Combine(dir, "policy.json");
        const string Open = """{ "default_action": "allow" }""";
        const string Closed = """{ "default_action": "allow", "block": ["reload-ads.proxy.test"] }""";
        await File.WriteAllTextAsync(policy, Open);
        await using NetnsProcess loadUpstream = await ProxyNet.StartDnsmasqAsync(n.Net, n.Up, "load", ProxyNet.LoadV4);
        RunningProxy proxy = await StartProxyAsync(n, "reload", $"[\"udp://{ProxyNet.LoadV4}\"]", args: ["--policy", policy]);
        string queries = Path.Combine(dir, "queries.txt");
        await File.WriteAllLinesAsync(queries, [$"{ProxyNet.WwwName} A", $"{ProxyNet.WwwName} AAAA", "reload-ads.proxy.test A", $"n1.{ProxyNet.Zone} A"]);

        Task<CommandResult> load = Net.Net.ExecAsync(n.Pc, "dnsperf", ["-s", "127.0.0.1", "-p", proxy.PortText, "-d", queries, "-l", "4", "-Q", "2000", "-c", "4"], TimeSpan.FromSeconds(30));
        for (int i = 0; i < 6; i++)
        {
            // Reloads spread over the 4 s of load; each one is seen done before the next.
            await Task.Delay(500, TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(policy, i % 2 == 0 ? Closed : Open, TestContext.Current.CancellationToken);
            Assert.True(proxy.Process.Signal(ProcessSignal.Hangup));
            await proxy.Process.WaitForLinesAsync("reloaded policy", i + 1, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        }

        CommandResult perf = await load;
        perf.EnsureSuccess();
        Assert.Matches(@"Queries lost:\s+0 \(", perf.StdOut);
        Assert.Matches(@"Queries completed:\s+[1-9]\d{3,}", perf.StdOut);

        // The last write was Open: ads resolves (NOERROR, no record: dnsmasq's --local zone has none).
        await File.WriteAllTextAsync(policy, Closed, TestContext.Current.CancellationToken);
        proxy.Process.Signal(ProcessSignal.Hangup);
        await proxy.Process.WaitForLinesAsync("reloaded policy", 7, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "reload-ads.proxy.test", "A")).StdOut, StringComparison.Ordinal);

        // A broken file on reload keeps the policy in force and says where the file is wrong.
        await File.WriteAllTextAsync(policy, "{ \"block\": [\"reload-ads.proxy.test\", ] , \"blok\": 1 }", TestContext.Current.CancellationToken);
        proxy.Process.Signal(ProcessSignal.Hangup);
        await proxy.Process.WaitForOutputAsync("reload failed", TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "reload-ads.proxy.test", "A")).StdOut, StringComparison.Ordinal);

        string stderr = await StopAsync(proxy);
        Assert.Contains("policy.json:1:", stderr, StringComparison.Ordinal);
        Assert.True(stderr.Split("reloaded policy").Length - 1 >= 7, stderr);
    }
    [Fact]
    public async Task AsAService_SaysReady_FeedsTheWatchdog_ReopensTheQueryLogOnSighup_AndSaysStopping()
    {
        ProxyNet n = Net;
        string dir = n.Net.TempPath("proxy-service");
        Directory.CreateDirectory(dir);

        // The service manager's end of sd_notify: a unix datagram socket (a path, so the namespace does not matter).
        string socketPath = Path.Combine(dir, "notify.sock");
        using var manager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        manager.Bind(new UnixDomainSocketEndPoint(socketPath));
        int port = Interlocked.Increment(ref s_port);
        string log = Path.Combine(dir, "queries.jsonl");
        NetnsProcess p = n.Net.StartProcess(n.Pc, "dnsw-proxy-service", "env",
            [$"NOTIFY_SOCKET={socketPath}", "WATCHDOG_USEC=400000", DnswProgram.Program, .. DnswProgram.Prefix,
             "proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "udp://10.53.0.11", "--query-log", log, "--privacy", "full"]);
        var proxy = new RunningProxy(p, port, dir, log);

        // READY=1 only once the listeners are bound: a query sent right after it is answered.
        string ready = await NextAsync(manager, "READY=1");
        Assert.Contains($"STATUS=dnsw proxy: serving udp+tcp 127.0.0.1:{port}", ready, StringComparison.Ordinal);
        Assert.Contains("\nMAINPID=", ready, StringComparison.Ordinal);
        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A"));
        await NextAsync(manager, "WATCHDOG=1");
        await NextAsync(manager, "WATCHDOG=1");

        // logrotate's way: rename the file, then SIGHUP; the next line goes to a new file of the old name.
        await WaitForLogAsync(log, ProxyNet.WwwName);
        string rotated = log + ".1";
        File.Move(log, rotated);
        Assert.True(proxy.Process.Signal(ProcessSignal.Hangup));
        await NextAsync(manager, "RELOADING=1");
        await proxy.Process.WaitForOutputAsync($"reopened the query log {log}", TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await NextAsync(manager, "READY=1");
        string after = $"n1.{ProxyNet.Zone}";
        await Dig(proxy, after, "A");
        await WaitForLogAsync(log, after);
        Assert.DoesNotContain(after, await File.ReadAllTextAsync(rotated), StringComparison.Ordinal);
        Assert.DoesNotContain(ProxyNet.WwwName, await File.ReadAllTextAsync(log), StringComparison.Ordinal);

        Assert.True(proxy.Process.Signal(ProcessSignal.Terminate));
        await NextAsync(manager, "STOPPING=1");
        await StopAsync(proxy);
    }

    [Fact]
    public async Task LogFormatEcs_WritesEachAnsweredQueryAsAnEcsLine()
    {
        ProxyNet n = Net;
        // The flag over a configuration that says json: the flag wins, as every flag does.
        RunningProxy proxy = await StartProxyAsync(n, "ecs", "[\"udp://10.53.0.11\"]", args: ["--log-format", "ecs"]);
        Assert.Equal(ProxyNet.WwwV4, await Short(proxy, ProxyNet.WwwName, "A"));
        Assert.Contains("status: NXDOMAIN", (await Dig(proxy, "nothing." + ProxyNet.Zone, "A", "+tcp")).StdOut, StringComparison.Ordinal);
        await StopAsync(proxy);

        IReadOnlyList<JsonElement> log = proxy.LogLines();
        Assert.Equal(2, log.Count);
        JsonElement e = log[0];
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", e.GetProperty("@timestamp").GetString());
        Assert.Equal("8.11.0", e.GetProperty("ecs").GetProperty("version").GetString());
        JsonElement ev = e.GetProperty("event");
        Assert.Equal("event", ev.GetProperty("kind").GetString());
        Assert.Equal("dnsw.query", ev.GetProperty("dataset").GetString());
        Assert.Equal("forwarded", ev.GetProperty("action").GetString());
        Assert.Equal(["protocol", "allowed"], ev.GetProperty("type").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("127.0.0.1", e.GetProperty("source").GetProperty("ip").GetString());
        Assert.InRange(e.GetProperty("source").GetProperty("port").GetInt32(), 1, 65535);
        Assert.Equal("udp", e.GetProperty("network").GetProperty("transport").GetString());
        JsonElement dns = e.GetProperty("dns");
        Assert.Equal(ProxyNet.WwwName, dns.GetProperty("question").GetProperty("name").GetString());
        Assert.Equal("A", dns.GetProperty("question").GetProperty("type").GetString());
        Assert.Equal("proxy.test", dns.GetProperty("question").GetProperty("registered_domain").GetString());
        Assert.Equal("NOERROR", dns.GetProperty("response_code").GetString());
        Assert.Equal(ProxyNet.WwwV4, dns.GetProperty("answers")[0].GetProperty("data").GetString());
        Assert.Equal("udp://10.53.0.11", e.GetProperty("dnsw").GetProperty("upstream").GetString());

        JsonElement nx = log[1];
        Assert.Equal("tcp", nx.GetProperty("network").GetProperty("transport").GetString());
        Assert.Equal("NXDOMAIN", nx.GetProperty("dns").GetProperty("response_code").GetString());
        Assert.False(nx.GetProperty("dns").TryGetProperty("answers", out _));

        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        Assert.All(log, line => Assert.Empty(schema.Problems(line)));
    }

    [Fact]
    public async Task Check_SaysWhatWouldRun_OrWhereTheFileIsWrong()
    {
        ProxyNet n = Net;
        string dir = n.Net.TempPath("proxy-check");
        Directory.CreateDirectory(dir);
        string good = Path.Combine(dir, "good.json");
        await File.WriteAllTextAsync(good, """{ "listen": ["127.0.0.1:5399"], "upstreams": ["udp://10.53.0.11"] }""");
        string bad = Path.Combine(dir, "bad.json");
        await File.WriteAllTextAsync(bad, "{ \"listen\": [\"127.0.0.1:5399\"],\n  \"upstreams\": [\"10.53.0.11\"] }");

        CommandResult ok = await ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, "proxy", "--check", "--config", good]);
        CommandResult wrong = await ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, "proxy", "--check", "--config", bad]);

        Assert.True(ok.ExitCode == 0, ok.Describe());
        Assert.Equal($"dnsw proxy: {good}: configuration is valid; would serve udp+tcp 127.0.0.1:5399 → udp://10.53.0.11 (failover); cache 10000 entries; policy default; no query log", ok.StdOut.Trim());
        Assert.True(wrong.ExitCode == 3, wrong.Describe());
        Assert.StartsWith($"dnsw proxy: {bad}:2:", wrong.StdErr, StringComparison.Ordinal);
    }

    /// <summary>The next datagram from dnsw that starts with <paramref name="prefix"/> (others, such as WATCHDOG=1, are passed over).</summary>
    private static async Task<string> NextAsync(Socket manager, string prefix)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var buffer = new byte[4096];
        while (true)
        {
            int n = await manager.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            string message = Encoding.UTF8.GetString(buffer, 0, n);
            if (message.StartsWith(prefix, StringComparison.Ordinal))
            {
                return message;
            }
        }
    }

    /// <summary>Until the query log file holds a line naming <paramref name="name"/> (the writer flushes each batch).</summary>
    private static async Task WaitForLogAsync(string path, string name)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!(File.Exists(path) && (await File.ReadAllTextAsync(path)).Contains(name, StringComparison.Ordinal)))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"{path} never named {name}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
