using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Leak.Tests.Events;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// "host" runs <c>dnsw jail</c>; "inet" plays the internet behind it: dnsmasq on 203.0.113.53 (port 53 and 5353),
/// knot-resolver DoT/DoH on the same address, a web server on 203.0.113.80 and .81. A capture on the internet side
/// proves what left the jail. Nothing is joined to the root namespace.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailNetFixture : TopologyFixture
{
    public const string ResolverV4 = "203.0.113.53";
    public const string ResolverV6 = "2001:db8:53::53";
    public const string WebV4 = "203.0.113.80";
    public const string OtherWebV4 = "203.0.113.81";
    public const string OtherWebV6 = "2001:db8:80::81";
    public const string HostV4 = "10.60.0.1";
    public const string HostV6 = "fd00:60::1";
    public const string WebName = "web.jail.test";

    /// <summary>The port of a UDP upstream on <see cref="ResolverV4"/> that never answers.</summary>
    public const int SilentPort = 5399;

    public string Host { get; private set; } = "";

    public string Inet { get; private set; } = "";

    public string InetInterface { get; private set; } = "";

    public NetnsProcess Dnsmasq { get; private set; } = null!;

    /// <summary>The second dnsmasq, on port 5353, logging its queries.</summary>
    public NetnsProcess Dnsmasq5353 { get; private set; } = null!;

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "setpriv", "dnsmasq", "kresd", "dig", "kdig", "curl", "dumpcap", "tshark", "python3", "gtlsclient");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        Inet = await net.AddNamespaceAsync("inet");
        VethPair veth = await net.AddVethAsync(Host, Inet, "eth0", "eth0");
        InetInterface = veth.InterfaceB;
        await net.AddAddressAsync(Host, "eth0", HostV4 + "/24");
        await net.AddAddressAsync(Host, "eth0", HostV6 + "/64");
        await net.AddAddressAsync(Inet, "eth0", "10.60.0.2/24");
        await net.AddAddressAsync(Inet, "eth0", "fd00:60::2/64");
        foreach (string a in new[] { ResolverV4 + "/32", WebV4 + "/32", OtherWebV4 + "/32" })
        {
            await net.AddAddressAsync(Inet, "eth0", a);
        }

        await net.AddAddressAsync(Inet, "eth0", ResolverV6 + "/128");
        await net.AddAddressAsync(Inet, "eth0", OtherWebV6 + "/128");
        await net.AddRouteAsync(Host, "default", via: "10.60.0.2");
        await net.AddRouteAsync(Host, "default", via: "fd00:60::2");
        Dnsmasq = await net.StartServerAsync(Inet, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53", "--local-ttl=300",
            $"--listen-address={ResolverV4},{ResolverV6}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("dnsmasq.pid"), "--log-facility=-", "--log-queries", "--local=/jail.test/",
            $"--host-record={WebName},{WebV4}", $"--host-record=other.jail.test,{OtherWebV4}",
        ],
        [Listener.Udp(53, ResolverV4), Listener.Tcp(53, ResolverV4)]);
        Dnsmasq5353 = await net.StartServerAsync(Inet, "dnsmasq-5353", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=5353",
            $"--listen-address={ResolverV4}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("dnsmasq-5353.pid"), "--log-facility=-", "--log-queries", $"--host-record={WebName},{WebV4}",
        ],
        [Listener.Udp(5353, ResolverV4)]);

        // An upstream that reads every query and never answers: only a timeout moves a resolver past it.
        await net.StartServerAsync(Inet, "silent-udp", "python3",
            ["-c", $"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('{ResolverV4}', {SilentPort}))\nwhile True: s.recv(4096)"],
            [Listener.Udp(SilentPort, ResolverV4)]);
        await KresdServer.StartAsync(net, Inet, "kresd",
            [
                $"net.listen('{ResolverV4}', 853, {{ kind = 'tls' }})", $"net.listen('{ResolverV4}', 443, {{ kind = 'doh2' }})",
                $"net.listen('{ResolverV6}', 853, {{ kind = 'tls' }})", $"net.listen('{ResolverV6}', 443, {{ kind = 'doh2' }})",
                $"policy.add(policy.all(policy.FORWARD('{ResolverV4}@53')))",
            ],
            [Listener.Tcp(853, ResolverV4), Listener.Tcp(443, ResolverV4), Listener.Tcp(853, ResolverV6), Listener.Tcp(443, ResolverV6)]);
        string www = net.TempPath("www");
        Directory.CreateDirectory(www);
        await File.WriteAllTextAsync(Path.Combine(www, "index.html"), "jail web\n");
        foreach (string a in new[] { WebV4, OtherWebV4, OtherWebV6 })
        {
            await net.StartServerAsync(Inet, "web-" + a, "python3", ["-m", "http.server", "80", "--bind", a, "--directory", www], [Listener.Tcp(80, a)]);
        }
    }
}

/// <summary>
/// The escape suite: from inside <c>dnsw jail</c> every way out for DNS fails, and the capture on the internet side
/// shows zero packets for it; the positive cases work.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailTests(JailNetFixture fixture) : IClassFixture<JailNetFixture>
{
    private Task<CommandResult> JailAsync(string[] jailArgs, string script, TimeSpan? timeout = null) =>
        fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", .. jailArgs, "--", "bash", "-c", script], timeout ?? TimeSpan.FromSeconds(90));

    private async Task<string[]> SentFromHostAsync(string capture, string filter)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", $"(ip.src == {JailNetFixture.HostV4} or ipv6.src == {JailNetFixture.HostV6}) and ({filter})", "-T", "fields", "-e", "frame.number"]);
        r.EnsureSuccess();
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task LogFormatEcs_WritesTheQueriesAndTheRefusalsInEcs()
    {
        fixture.Check();
        string outFile = fixture.Net.TempPath("jail-ecs.jsonl");
        string script = string.Join("\n",
            $"echo udp=$(dig @{JailNetFixture.ResolverV4} anything.example A +short +time=2 +tries=1)",
            $"kdig @{JailNetFixture.ResolverV4} +tls {JailNetFixture.WebName} +time=1 +retry=0 >/dev/null 2>&1 && echo dot=escaped || echo dot=blocked");
        CommandResult r = await JailAsync(["--query-log", outFile, "--privacy", "full", "--log-format", "ecs"], script);
        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Contains("udp=6.6.6.6", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("dot=blocked", r.StdOut, StringComparison.Ordinal);

        JsonElement[] lines = [.. File.ReadAllLines(outFile).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement query = Assert.Single(lines, e => e.GetProperty("event").GetProperty("dataset").GetString() == "dnsw.query"
            && e.GetProperty("dns").GetProperty("question").GetProperty("name").GetString() == "anything.example");
        Assert.Equal("sinkholed", query.GetProperty("event").GetProperty("action").GetString());
        Assert.Equal(["protocol", "denied"], query.GetProperty("event").GetProperty("type").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("6.6.6.6", query.GetProperty("dns").GetProperty("answers")[0].GetProperty("data").GetString());
        // One line per refused packet: a SYN the kernel sends again while kdig waits (a slow machine) is a second line.
        JsonElement[] dots = [.. lines.Where(e => e.GetProperty("event").GetProperty("dataset").GetString() == "dnsw.refusal"
            && e.GetProperty("event").GetProperty("reason").GetString() == "dot"
            && e.GetProperty("destination").GetProperty("ip").GetString() == JailNetFixture.ResolverV4)];
        JsonElement dot = Assert.Single(dots.DistinctBy(e => e.GetProperty("destination").GetProperty("port").GetInt32()));
        Assert.Equal(853, dot.GetProperty("destination").GetProperty("port").GetInt32());
        Assert.Equal("tcp", dot.GetProperty("network").GetProperty("transport").GetString());

        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        Assert.All(lines, l => Assert.Empty(schema.Problems(l)));
    }

    [Fact]
    public async Task SinkholeModeAnswersEverythingLocallyAndNothingEscapes()
    {
        fixture.Check();
        string capture = fixture.Net.TempPath("jail-sinkhole.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        string outFile = fixture.Net.TempPath("jail-sinkhole.jsonl");
        string burst = string.Join("; ", Enumerable.Range(0, 40).Select(i => $"dig @{JailNetFixture.ResolverV4} $(head -c 30 /dev/urandom | base32 | tr -d '=' | tr A-Z a-z | cut -c1-48).tunnel.jail.test +short +time=1 +tries=1 >/dev/null"));
        string script = string.Join("\n",
            $"echo udp=$(dig @{JailNetFixture.ResolverV4} anything.example A +short +time=2 +tries=1)",
            $"echo tcp=$(dig @{JailNetFixture.ResolverV4} anything.example A +short +tcp +time=2 +tries=1)",
            $"echo v6=$(dig @{JailNetFixture.ResolverV6} anything.example AAAA +short +time=2 +tries=1)",
            $"echo v6tcp=$(dig @{JailNetFixture.ResolverV6} anything.example A +short +tcp +time=2 +tries=1)",
            $"dig @{JailNetFixture.ResolverV4} -p 5353 {JailNetFixture.WebName} +short +time=1 +tries=1 >/dev/null && echo port5353=escaped || echo port5353=blocked",
            $"kdig @{JailNetFixture.ResolverV4} +tls {JailNetFixture.WebName} +time=1 +retry=0 >/dev/null 2>&1 && echo dot=escaped || echo dot=blocked",
            $"curl -s -m 3 --doh-url https://{JailNetFixture.ResolverV4}/dns-query -k --resolve x:443:{JailNetFixture.ResolverV4} https://{JailNetFixture.WebName}/ >/dev/null && echo doh=escaped || echo doh=blocked",
            $"echo quic > /dev/udp/{JailNetFixture.ResolverV4}/443 && echo quic=sent",
            $"curl -s -m 3 http://{JailNetFixture.OtherWebV4}/ >/dev/null && echo unresolved=escaped || echo unresolved=blocked",
            $"dig @{JailNetFixture.ResolverV6} -p 5353 {JailNetFixture.WebName} +short +time=1 +tries=1 >/dev/null && echo port5353v6=escaped || echo port5353v6=blocked",
            $"kdig @{JailNetFixture.ResolverV6} +tls {JailNetFixture.WebName} +time=1 +retry=0 >/dev/null 2>&1 && echo dotv6=escaped || echo dotv6=blocked",
            $"curl -s -m 3 -g --doh-url https://[{JailNetFixture.ResolverV6}]/dns-query -k https://{JailNetFixture.WebName}/ >/dev/null && echo dohv6=escaped || echo dohv6=blocked",
            $"echo quic > /dev/udp/{JailNetFixture.ResolverV6}/443 && echo quicv6=sent",
            $"curl -s -m 3 -g http://[{JailNetFixture.OtherWebV6}]/ >/dev/null && echo unresolvedv6=escaped || echo unresolvedv6=blocked",

            // Real QUIC clients: a full-size Initial (≥ 1,200 bytes) is refused, and named in the log from its headers.
            $"timeout 5 gtlsclient --handshake-timeout=1s --timeout=1s --exit-on-first-stream-close {JailNetFixture.OtherWebV4} 443 >/dev/null 2>&1; echo quic-client=done",
            $"timeout 5 gtlsclient --handshake-timeout=1s --timeout=1s --exit-on-first-stream-close {JailNetFixture.OtherWebV6} 443 >/dev/null 2>&1; echo quic-client6=done",
            $"kdig @{JailNetFixture.ResolverV4} +quic {JailNetFixture.WebName} +time=1 +retry=0 >/dev/null 2>&1 && echo doq=escaped || echo doq=blocked",
            burst,
            "exit 5");
        CommandResult r = await JailAsync(["--query-log", outFile, "--privacy", "full"], script);
        await dump.StopAsync();

        Assert.Equal(5, r.ExitCode);
        Assert.Contains("udp=6.6.6.6", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("tcp=6.6.6.6", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("v6=::", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("v6tcp=6.6.6.6", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("port5353=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("dot=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("doh=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("unresolved=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("port5353v6=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("dotv6=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("dohv6=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("unresolvedv6=blocked", r.StdOut, StringComparison.Ordinal);

        // The far side saw nothing at all from the jail: no DNS, no DoT, no DoH, no QUIC, no TCP.
        Assert.Empty(await SentFromHostAsync(capture, "ip or ipv6"));
        Assert.DoesNotContain("tunnel.jail.test", fixture.Dnsmasq.StdErr, StringComparison.Ordinal);

        // The summary and the log: sinkholed queries, refused packets, and the burst scored as exfiltration.
        Assert.Matches(@"sinkholed [1-9]\d*", r.StdErr);
        Assert.Matches(@"DoT [1-9]", r.StdErr);
        Assert.Matches(@"QUIC [1-9]", r.StdErr);
        JsonElement[] lines = [.. File.ReadAllLines(outFile).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement[] log = [.. lines.Where(e => EventFields.Event(e) == "query")];
        Assert.All(log, e => Assert.Equal("sinkholed", e.GetProperty("verdict").GetString()));

        // Every refused attempt is in the log with its destination, port and protocol.
        string[] blocked = [.. lines.Where(e => e.TryGetProperty("event", out JsonElement ev) && ev.GetString() == "blocked_connection")
            .Select(e => $"{e.GetProperty("kind").GetString()} {e.GetProperty("protocol").GetString()} {e.GetProperty("dst").GetString()} {e.GetProperty("dport").GetInt32()}")];
        Assert.Contains($"dot tcp {JailNetFixture.ResolverV4} 853", blocked);
        Assert.Contains($"dot tcp {JailNetFixture.ResolverV6} 853", blocked);
        Assert.Contains($"quic udp {JailNetFixture.ResolverV4} 443", blocked);
        Assert.Contains($"quic udp {JailNetFixture.ResolverV6} 443", blocked);
        Assert.Contains($"unresolved udp {JailNetFixture.ResolverV4} 5353", blocked);
        Assert.Contains($"unresolved tcp {JailNetFixture.ResolverV4} 443", blocked);
        Assert.Contains($"unresolved tcp {JailNetFixture.OtherWebV4} 80", blocked);
        Assert.Contains($"unresolved tcp {JailNetFixture.OtherWebV6} 80", blocked);
        Assert.Contains("doq=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"quic udp {JailNetFixture.OtherWebV4} 443", blocked);
        Assert.Contains($"quic udp {JailNetFixture.OtherWebV6} 443", blocked);
        Assert.Contains($"dot udp {JailNetFixture.ResolverV4} 853", blocked);
        Assert.Contains($"dnsw jail: refused dot tcp {JailNetFixture.ResolverV4}:853", r.StdErr, StringComparison.Ordinal);
        int maxScore = log.Where(e => e.GetProperty("qname").GetString()!.EndsWith("tunnel.jail.test", StringComparison.Ordinal))
            .Max(e => e.GetProperty("exfiltration_score").GetInt32());
        Assert.True(maxScore >= 60, maxScore.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task TheQueryLogIsAppendedToAsTheProxysAndTheFiltersAre_AndOutIsItsOtherName()
    {
        string log = fixture.Net.TempPath("jail-append.jsonl");
        Assert.Equal(0, (await JailAsync(["--query-log", log, "--privacy", "full"], "dig +short +time=2 +tries=1 first.jail.test")).ExitCode);
        Assert.Equal(0, (await JailAsync(["--out", log, "--privacy", "full"], "dig +short +time=2 +tries=1 second.jail.test")).ExitCode);
        string[] lines = await File.ReadAllLinesAsync(log);
        Assert.Contains(lines, l => l.Contains("\"qname\":\"first.jail.test\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"qname\":\"second.jail.test\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PolicyModeResolvesAllowedNamesAndOpensOnlyTheirAddresses()
    {
        fixture.Check();
        string policy = fixture.Net.TempPath("jail-policy.json");
        await File.WriteAllTextAsync(policy, """{ "allow": ["web.jail.test"], "default_action": "block", "block_action": "nxdomain" }""");
        string capture = fixture.Net.TempPath("jail-policy.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        string script = string.Join("\n",
            $"echo page=$(curl -s -m 5 http://{JailNetFixture.WebName}/)",
            $"echo other=$(dig @{JailNetFixture.ResolverV4} other.jail.test +time=2 +tries=1 | grep -o 'status: [A-Z]*')",
            $"curl -s -m 3 http://{JailNetFixture.OtherWebV4}/ >/dev/null && echo unresolved=escaped || echo unresolved=blocked",
            "exit 0");
        CommandResult r = await JailAsync(["--mode", "policy", "--policy", policy, "--upstream", "udp://" + JailNetFixture.ResolverV4], script);
        await dump.StopAsync();

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("page=jail web", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("other=status: NXDOMAIN", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("unresolved=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.NotEmpty(await SentFromHostAsync(capture, $"ip.dst == {JailNetFixture.WebV4} and tcp.dstport == 80"));
        Assert.Empty(await SentFromHostAsync(capture, $"ip.dst == {JailNetFixture.OtherWebV4}"));
        Assert.DoesNotContain("other.jail.test", fixture.Dnsmasq.StdErr, StringComparison.Ordinal);
    }

    /// <summary>Starts a jail of a sleep, waits for its namespace, and kills the whole run (keeper too): what is left is the cleanup's.</summary>
    private async Task<(string Namespace, string Sleep)> StartAndKillAJailAsync()
    {
        // A duration no other process on the machine uses, so the check below sees only this jail's command.
        string sleep = "60." + Random.Shared.Next(1000, 9999).ToString(CultureInfo.InvariantCulture);
        NetnsProcess jail = fixture.Net.StartProcess(fixture.Host, "dnsw-jail", DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--", "sleep", sleep]);
        string ns = "dnsw-jail-";
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        string? made = null;
        while (made is null && DateTime.UtcNow < deadline)
        {
            made = Directory.GetFiles("/run/netns", ns + "*").Select(Path.GetFileName).FirstOrDefault(n => jail.Pid > 0 && IsOwnedBy(n!, fixture.Host));
            await Task.Delay(100);
        }

        Assert.NotNull(made);
        await jail.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(5));
        Assert.True(File.Exists(Path.Combine("/run/netns", made)));
        return (made, sleep);
    }

    [Fact]
    public async Task AKilledJailIsCleanedUpByTheNextRun()
    {
        fixture.Check();
        (string made, string sleep) = await StartAndKillAJailAsync();

        CommandResult cleanup = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--cleanup"]);
        cleanup.EnsureSuccess();
        Assert.False(File.Exists(Path.Combine("/run/netns", made)));
        CommandResult tables = await fixture.Net.ExecAsync(fixture.Host, "nft", ["list", "tables"]);
        Assert.DoesNotContain("dnsw_jail_", tables.StdOut, StringComparison.Ordinal);
        CommandResult links = await fixture.Net.ExecAsync(fixture.Host, "ip", ["-o", "link"]);
        Assert.DoesNotContain("dnswj", links.StdOut, StringComparison.Ordinal);

        // The sleep died with its jail (PR_SET_PDEATHSIG): no process of it is left.
        CommandResult ps = await ProcessRunner.RunAsync("pgrep", ["-f", $"^sleep {sleep}$"]);
        Assert.NotEqual(0, ps.ExitCode);
    }

    [Fact]
    public async Task AKilledJailWhoseNamespaceIsAlreadyGoneIsStillCleanedUp()
    {
        fixture.Check();
        (string made, _) = await StartAndKillAJailAsync();
        string id = made["dnsw-jail-".Length..];

        // The namespace goes first (by hand, or a run that died half-way through its teardown): the NAT table, the
        // host's veth end and the owner record are here still, and only the record says whose they were.
        (await fixture.Net.ExecAsync(fixture.Host, "ip", ["netns", "delete", made])).EnsureSuccess();
        Assert.Contains("dnsw_jail_" + id, (await fixture.Net.ExecAsync(fixture.Host, "nft", ["list", "tables"])).StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists($"/run/dnsw/jail-{id}.pid"));

        CommandResult cleanup = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--cleanup"]);
        cleanup.EnsureSuccess();
        Assert.Contains(id, cleanup.StdOut + cleanup.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw_jail_", (await fixture.Net.ExecAsync(fixture.Host, "nft", ["list", "tables"])).StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("dnswj", (await fixture.Net.ExecAsync(fixture.Host, "ip", ["-o", "link"])).StdOut, StringComparison.Ordinal);
        Assert.False(File.Exists($"/run/dnsw/jail-{id}.pid"));
    }

    [Fact]
    public async Task TheCommandInheritsNoSocketOfDnsw()
    {
        fixture.Check();

        // libnftables opens its netlink sockets without close-on-exec: the command once held three of them, root's.
        CommandResult r = await JailAsync([], "n=0; for f in /proc/$$/fd/*; do case \"$(readlink $f)\" in socket:*) n=$((n+1));; esac; done; echo inherited sockets $n");
        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Contains("inherited sockets 0", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALongCommandOutlivesIdleThreadsAndItsStatusComesBack()
    {
        fixture.Check();

        // PR_SET_PDEATHSIG follows the thread that started the command: started from a pool thread, the command was
        // killed when that thread retired (~20 s idle). 25 s must pass untouched, with the exit status passed on.
        CommandResult r = await JailAsync([], "sleep 25; exit 4", TimeSpan.FromSeconds(90));
        Assert.Equal(4, r.ExitCode);
    }

    // A jail's veth peer lives in the host namespace that made it: that tells this fixture's jails from any other.
    private static bool IsOwnedBy(string jailNamespace, string hostNamespace)
    {
        string id = jailNamespace["dnsw-jail-".Length..];
        CommandResult r = ProcessRunner.RunAsync("ip", ["-n", hostNamespace, "-o", "link", "show", $"dnswj{id}h"]).GetAwaiter().GetResult();
        return r.Succeeded;
    }
}
