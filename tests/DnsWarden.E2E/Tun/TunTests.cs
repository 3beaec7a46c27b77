using System.Runtime.Versioning;
using System.Text.Json;

namespace DnsWarden.E2E.Tun;

/// <summary>
/// "host" runs <c>dnsw tun --netns CLIENT</c>; "client" is the namespace behind the filter (also joined to host by a
/// plain veth, its main table's default route, which DNS-only mode and a cleaned-up instance leave it with); "inet"
/// plays the internet, joined to host only: dnsmasq on 203.0.113.53 (TTL 2 s), web servers on .80 and .81 (and IPv6),
/// a TCP echo server on .80:9000. Nothing is joined to the root namespace.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunNetFixture : TopologyFixture
{
    public const string ResolverV4 = "203.0.113.53";
    public const string WebV4 = "203.0.113.80";
    public const string WebV6 = "2001:db8:80::80";
    public const string OtherV4 = "203.0.113.81";
    public const string OtherV6 = "2001:db8:80::81";
    public const string ClientV4 = "10.75.0.2";
    public const string WebName = "web.tun.test";
    public const string VirtualDnsV4 = "10.30.30.30";
    public const string VirtualDnsV6 = "fd00:7475:6e::53";

    /// <summary>A second dnsmasq whose <c>address=</c> answers carry its default local TTL, 0.</summary>
    public const string ZeroTtlResolverV4 = "203.0.113.54";
    public const string ZeroTtlName = "zero.tun.test";

    public string Host { get; private set; } = "";

    public string Client { get; private set; } = "";

    public string Inet { get; private set; } = "";

    public string InetInterface { get; private set; } = "";

    /// <summary>The host's end of the client's veth: what the client's own interface sends arrives here.</summary>
    public string HostClientInterface { get; private set; } = "";

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "dnsmasq", "dig", "kdig", "curl", "dumpcap", "tshark", "python3")
        ?? (File.Exists("/dev/net/tun") ? null : "no /dev/net/tun in this kernel");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        Client = await net.AddNamespaceAsync("client");
        Inet = await net.AddNamespaceAsync("inet");
        VethPair toInet = await net.AddVethAsync(Host, Inet, "eth0", "eth0");
        InetInterface = toInet.InterfaceB;
        HostClientInterface = (await net.AddVethAsync(Host, Client, "eth1", "eth0")).InterfaceA;
        await net.AddAddressAsync(Host, "eth0", "10.74.0.1/24");
        await net.AddAddressAsync(Host, "eth0", "fd00:74::1/64");
        await net.AddAddressAsync(Host, "eth1", "10.75.0.1/24");
        await net.AddAddressAsync(Host, "eth1", "fd00:75::1/64");
        await net.AddAddressAsync(Client, "eth0", ClientV4 + "/24");
        await net.AddAddressAsync(Client, "eth0", "fd00:75::2/64");
        await net.AddAddressAsync(Inet, "eth0", "10.74.0.2/24");
        await net.AddAddressAsync(Inet, "eth0", "fd00:74::2/64");
        foreach (string a in new[] { ResolverV4 + "/32", ZeroTtlResolverV4 + "/32", WebV4 + "/32", OtherV4 + "/32", WebV6 + "/128", OtherV6 + "/128" })
        {
            await net.AddAddressAsync(Inet, "eth0", a);
        }

        await net.AddRouteAsync(Host, "default", via: "10.74.0.2");
        await net.AddRouteAsync(Host, "default", via: "fd00:74::2");
        await net.AddRouteAsync(Client, "default", via: "10.75.0.1");
        await net.AddRouteAsync(Client, "default", via: "fd00:75::1");
        await net.AddRouteAsync(Inet, "10.75.0.0/24", via: "10.74.0.1");
        await net.AddRouteAsync(Inet, "fd00:75::/64", via: "fd00:74::1");
        await net.EnableForwardingAsync(Host);
        await net.SetResolvConfAsync(Client, [VirtualDnsV4]);
        await net.StartServerAsync(Inet, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53", "--local-ttl=2",
            $"--listen-address={ResolverV4}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("dnsmasq.pid"), "--log-facility=-", "--log-queries", "--local=/tun.test/",
            $"--host-record={WebName},{WebV4},{WebV6}",
        ],
        [Listener.Udp(53, ResolverV4), Listener.Tcp(53, ResolverV4)]);
        await net.StartServerAsync(Inet, "dnsmasq-ttl0", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53",
            $"--listen-address={ZeroTtlResolverV4}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("dnsmasq-ttl0.pid"), "--log-facility=-", "--log-queries",
            $"--address=/{ZeroTtlName}/{OtherV4}", $"--address=/{ZeroTtlName}/{OtherV6}",
        ],
        [Listener.Udp(53, ZeroTtlResolverV4), Listener.Tcp(53, ZeroTtlResolverV4)]);
        string www = net.TempPath("www");
        Directory.CreateDirectory(www);
        await File.WriteAllTextAsync(Path.Combine(www, "index.html"), "tun web\n");
        foreach (string a in new[] { WebV4, OtherV4, WebV6, OtherV6 })
        {
            await net.StartServerAsync(Inet, "web-" + a, "python3", ["-m", "http.server", "80", "--bind", a, "--directory", www], [Listener.Tcp(80, a)]);
        }

        await net.StartServerAsync(Inet, "echo", "python3",
        [
            "-c",
            "import socketserver\n" +
            "class H(socketserver.BaseRequestHandler):\n" +
            "    def handle(self):\n" +
            "        while (d := self.request.recv(100)): self.request.sendall(d)\n" +
            "socketserver.ThreadingTCPServer.allow_reuse_address = True\n" +
            $"socketserver.ThreadingTCPServer(('{WebV4}', 9000), H).serve_forever()\n",
        ],
        [Listener.Tcp(9000, WebV4)]);
    }

    protected override async Task TearDownAsync()
    {
        if (Client.Length > 0)
        {
            await Net.ExecAsync(Host, DnswProgram.Program, [.. DnswProgram.Prefix, "tun", "--netns", Client, "--cleanup"]);
        }
    }
}

/// <summary>
/// <c>dnsw tun</c> used for real: from the client, names resolved through the virtual DNS work, everything else is
/// refused at once and never reaches the internet side; QUIC falls back to TCP; an expired address admits no new
/// connection while an established one lives; DNS-only mode switched at runtime lets TCP bypass; a killed filter
/// leaves the client closed until <c>--cleanup</c>.
/// </summary>
[SupportedOSPlatform("linux")]
[Collection("tun")]
public sealed partial class TunTests(TunNetFixture fixture) : IClassFixture<TunNetFixture>
{
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(60);

    private Task<NetnsProcess> StartTunAsync(params string[] extra) => StartTunWithAsync(TunNetFixture.ResolverV4, extra);

    private async Task<NetnsProcess> StartTunWithAsync(string upstream, params string[] extra)
    {
        NetnsProcess tun = fixture.Net.StartProcess(fixture.Host, "dnsw-tun", DnswProgram.Program,
            [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, "--upstream", "udp://" + upstream, .. extra]);
        await tun.WaitForOutputAsync("dnsw tun: ready", s_ready);
        return tun;
    }

    private async Task<string> StopAsync(NetnsProcess tun)
    {
        await tun.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
        return tun.StdErr;
    }

    private Task<CommandResult> InClientAsync(string script, int seconds = 60) =>
        fixture.Net.ExecAsync(fixture.Client, "bash", ["-c", script], TimeSpan.FromSeconds(seconds));

    private Task<CommandResult> DnswAsync(params string[] args) =>
        fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, .. args]);

    private static async Task<string[]> CapturedAsync(string capture, string filter)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", filter, "-T", "fields", "-e", "frame.number"]);
        r.EnsureSuccess();
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private async Task<string> RulesAsync()
    {
        CommandResult v4 = await fixture.Net.ExecAsync(fixture.Client, "ip", ["rule"]);
        CommandResult v6 = await fixture.Net.ExecAsync(fixture.Client, "ip", ["-6", "rule"]);
        return v4.StdOut + v6.StdOut;
    }

    /// <summary>Times a curl; prints NAME=EXIT ms=MILLISECONDS.</summary>
    private static string Timed(string name, string curlArgs) =>
        $"s=$(date +%s%N); curl -s -m 5 {curlArgs} >/dev/null; rc=$?; e=$(date +%s%N); echo \"{name}=$rc ms=$(( (e-s)/1000000 ))\"";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FirewallModeLetsResolvedNamesThroughAndResetsEverythingElseAtOnce(bool offload)
    {
        fixture.Check();
        string capture = fixture.Net.TempPath($"tun-firewall-{offload}.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        string queryLog = fixture.Net.TempPath($"tun-firewall-{offload}.jsonl");
        NetnsProcess tun = await StartTunAsync(offload ? ["--query-log", queryLog] : ["--no-offload", "--query-log", queryLog]);
        Assert.Equal(offload, tun.StdErr.Contains("offloads on", StringComparison.Ordinal));
        CommandResult r;
        try
        {
            r = await InClientAsync(string.Join("\n",
                $"echo page=$(curl -s -m 5 -4 http://{TunNetFixture.WebName}/)",
                $"echo page6=$(curl -s -m 5 -6 http://{TunNetFixture.WebName}/)",
                Timed("hard", $"http://{TunNetFixture.OtherV4}/"),
                Timed("hard6", $"-g http://[{TunNetFixture.OtherV6}]/"),
                $"echo tcpdns=$(dig @{TunNetFixture.VirtualDnsV4} +tcp +short {TunNetFixture.WebName} A +time=3 +tries=1)",
                $"echo tcpdns6=$(dig @{TunNetFixture.VirtualDnsV6} +tcp +short {TunNetFixture.WebName} AAAA +time=3 +tries=1)",
                $"echo udpdns6=$(dig @{TunNetFixture.VirtualDnsV6} +short {TunNetFixture.WebName} A +time=3 +tries=1)"));
        }
        finally
        {
            await StopAsync(tun);
            await dump.StopAsync();
        }

        Assert.True(r.Succeeded, r.Describe());
        Assert.Contains("page=tun web", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("page6=tun web", r.StdOut, StringComparison.Ordinal);

        // curl's 7: could not connect — the RST came back from the filter, well under a second.
        Assert.Matches(@"hard=7 ms=\d{1,3}\b", r.StdOut);
        Assert.Matches(@"hard6=7 ms=\d{1,3}\b", r.StdOut);
        Assert.Contains($"tcpdns={TunNetFixture.WebV4}", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"tcpdns6={TunNetFixture.WebV6}", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"udpdns6={TunNetFixture.WebV4}", r.StdOut, StringComparison.Ordinal);

        // The allowed traffic did cross; the refused never did.
        Assert.NotEmpty(await CapturedAsync(capture, $"ip.dst == {TunNetFixture.WebV4} and tcp.dstport == 80"));
        Assert.NotEmpty(await CapturedAsync(capture, $"ipv6.dst == {TunNetFixture.WebV6} and tcp.dstport == 80"));
        Assert.Empty(await CapturedAsync(capture, $"ip.dst == {TunNetFixture.OtherV4} or ipv6.dst == {TunNetFixture.OtherV6}"));

        // The summary, the refused packets grouped, and nothing left behind.
        Assert.Matches(@"refused unresolved [1-9]", tun.StdErr);
        Assert.Contains($"dnsw tun: refused unresolved tcp {TunNetFixture.OtherV4}:80", tun.StdErr, StringComparison.Ordinal);
        Assert.Contains($"dnsw tun: refused unresolved tcp [{TunNetFixture.OtherV6}]:80", tun.StdErr, StringComparison.Ordinal);

        // The query log speaks the vocabulary of every line dnsw writes: the queries, then the refusals it ends with.
        if (Environment.GetEnvironmentVariable("DNSW_E2E_ARTIFACTS") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(Path.Combine(keep, "tun"));
            File.Copy(queryLog, Path.Combine(keep, "tun", Path.GetFileName(queryLog)), overwrite: true);
        }

        List<JsonElement> logged = [.. File.ReadAllLines(queryLog).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.All(logged, e => Assert.Equal(["ts", "event"], e.EnumerateObject().Take(2).Select(p => p.Name)));
        Assert.Contains(logged, e => EventFields.Event(e) == "query" && e.TryGetProperty("qname", out _) && e.TryGetProperty("src", out _));
        Assert.DoesNotContain(logged, e => e.TryGetProperty("client", out _) || e.TryGetProperty("port", out _));
        // The engine's cache, as the proxy has it: the name asked again (curl, then dig over TCP and UDP) is a hit.
        Assert.Contains(logged, e => EventFields.Event(e) == "query" && e.GetProperty("verdict").GetString() == "cached");
        JsonElement refused4 = Assert.Single(logged, e => EventFields.Event(e) == "blocked_connection" && EventFields.Dst(e) == $"{TunNetFixture.OtherV4}:80");
        Assert.Equal("unresolved", refused4.GetProperty("kind").GetString());
        Assert.Equal("tcp", refused4.GetProperty("protocol").GetString());
        Assert.Single(logged, e => EventFields.Event(e) == "blocked_connection" && EventFields.Dst(e) == $"[{TunNetFixture.OtherV6}]:80");
        Assert.Equal("blocked_connection", EventFields.Event(logged[^1]));
        Assert.DoesNotContain("priority 100", await RulesAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("lookup 100", await RulesAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuicIsDroppedAndTheClientFallsBackToTcp()
    {
        fixture.Check();
        string capture = fixture.Net.TempPath("tun-quic.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        string script = fixture.Net.TempPath("quic.py");
        await File.WriteAllTextAsync(script, $$"""
            import socket, sys
            for family, tag in ((socket.AF_INET, "v4"), (socket.AF_INET6, "v6")):
                a = socket.getaddrinfo("{{TunNetFixture.WebName}}", 443, family, socket.SOCK_DGRAM)[0][4][0]
                u = socket.socket(family, socket.SOCK_DGRAM); u.settimeout(1); u.connect((a, 443))
                try:
                    u.send(b"\xc0quic-initial" + b"\0" * 1200); u.recv(100); print("quic" + tag + "=answered")
                except socket.timeout:
                    print("quic" + tag + "=timeout")
                except OSError as e:
                    print("quic" + tag + "=error%d" % e.errno)
                s = socket.create_connection((a, 80), timeout=3); s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                print("tcp" + tag + "=" + s.recv(12).decode())
            """);
        NetnsProcess tun = await StartTunAsync();
        CommandResult r;
        try
        {
            r = await InClientAsync("python3 " + script);
        }
        finally
        {
            await StopAsync(tun);
            await dump.StopAsync();
        }

        Assert.True(r.Succeeded, r.Describe());
        Assert.Contains("quicv4=timeout", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("quicv6=timeout", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("tcpv4=HTTP/1.0 200", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("tcpv6=HTTP/1.0 200", r.StdOut, StringComparison.Ordinal);
        Assert.Empty(await CapturedAsync(capture, "udp.dstport == 443"));
        Assert.Matches(@"QUIC [1-9]", tun.StdErr);
    }

    [Fact]
    public async Task AfterTheAddressExpiresANewConnectionIsRefusedWhileTheEstablishedOneLives()
    {
        fixture.Check();
        string script = fixture.Net.TempPath("held.py");
        await File.WriteAllTextAsync(script, """
            import socket, sys, time
            a = sys.argv[1]
            h = socket.create_connection((a, 9000), timeout=3); h.sendall(b"one"); print("held1=" + h.recv(10).decode())
            time.sleep(6)
            try:
                socket.create_connection((a, 80), timeout=3); print("new=connected")
            except ConnectionRefusedError:
                print("new=refused")
            except OSError as e:
                print("new=error%d" % e.errno)
            h.sendall(b"two"); print("held2=" + h.recv(10).decode())
            """);
        NetnsProcess tun = await StartTunAsync("--min-ttl", "0");
        CommandResult r;
        try
        {
            // dnsmasq answers with a TTL of 2 s; no floor raises it.
            r = await InClientAsync($"a=$(dig +short @{TunNetFixture.VirtualDnsV4} {TunNetFixture.WebName} A); python3 {script} $a");
        }
        finally
        {
            await StopAsync(tun);
        }

        Assert.True(r.Succeeded, r.Describe());
        Assert.Contains("held1=one", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("new=refused", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("held2=two", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DnsOnlyModeSwitchedAtRuntimeLetsTcpBypassAndBack()
    {
        fixture.Check();
        string capture = fixture.Net.TempPath("tun-dnsonly.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        NetnsProcess tun = await StartTunAsync();
        string hard = $"curl -s -m 5 http://{TunNetFixture.OtherV4}/; echo rc=$?";
        CommandResult before, during, after, cleanupLive, toDnsOnly, toFirewall;
        string rulesFirewall, rulesDnsOnly;
        try
        {
            before = await InClientAsync(hard);
            rulesFirewall = await RulesAsync();

            // --cleanup never touches a live instance.
            cleanupLive = await DnswAsync("--cleanup");
            toDnsOnly = await DnswAsync("--set-mode", "dns-only");
            rulesDnsOnly = await RulesAsync();
            during = await InClientAsync(hard + $"; echo dns=$(dig +short @{TunNetFixture.VirtualDnsV4} {TunNetFixture.WebName} A +time=3 +tries=1)");
            toFirewall = await DnswAsync("--set-mode", "firewall");
            after = await InClientAsync(hard);
        }
        finally
        {
            await StopAsync(tun);
            await dump.StopAsync();
        }

        Assert.Contains("rc=7", before.StdOut, StringComparison.Ordinal);
        Assert.Contains("lookup 100", rulesFirewall, StringComparison.Ordinal);
        Assert.NotEqual(0, cleanupLive.ExitCode);
        Assert.Equal(0, toDnsOnly.ExitCode);
        Assert.Contains("ok dns-only", toDnsOnly.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("lookup 100", rulesDnsOnly, StringComparison.Ordinal);
        Assert.Contains("tun web", during.StdOut, StringComparison.Ordinal);
        Assert.Contains("rc=0", during.StdOut, StringComparison.Ordinal);
        Assert.Contains($"dns={TunNetFixture.WebV4}", during.StdOut, StringComparison.Ordinal);
        Assert.Equal(0, toFirewall.ExitCode);
        Assert.Contains("rc=7", after.StdOut, StringComparison.Ordinal);

        // The bypass went by the veth, from the client's own address; the refused attempts never left.
        Assert.NotEmpty(await CapturedAsync(capture, $"ip.src == {TunNetFixture.ClientV4} and ip.dst == {TunNetFixture.OtherV4}"));
        Assert.Empty(await CapturedAsync(capture, $"ip.src != {TunNetFixture.ClientV4} and ip.dst == {TunNetFixture.OtherV4}"));
    }

    [Fact]
    public async Task AKilledFilterLeavesTheNamespaceClosedUntilCleanup()
    {
        fixture.Check();
        NetnsProcess tun = await StartTunAsync();
        CommandResult alive, dead, cleanup, restored;
        string rulesDead;
        try
        {
            alive = await InClientAsync($"curl -s -m 5 http://{TunNetFixture.WebName}/");
            await tun.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(5));
            dead = await InClientAsync(string.Join("\n",
                $"curl -s -m 3 http://{TunNetFixture.WebV4}/; echo rc=$?",
                $"curl -s -m 3 -g http://[{TunNetFixture.WebV6}]/; echo rc6=$?"));
            rulesDead = await RulesAsync();
        }
        finally
        {
            cleanup = await DnswAsync("--cleanup");
        }

        restored = await InClientAsync($"curl -s -m 5 http://{TunNetFixture.WebV4}/; echo rc=$?");
        Assert.Contains("tun web", alive.StdOut, StringComparison.Ordinal);

        // Fail closed: the unreachable route in table 100 answers at once (curl 7), and nothing got out.
        Assert.Contains("rc=7", dead.StdOut, StringComparison.Ordinal);
        Assert.Contains("rc6=7", dead.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("tun web", dead.StdOut, StringComparison.Ordinal);
        Assert.Contains("lookup 100", rulesDead, StringComparison.Ordinal);
        Assert.Equal(0, cleanup.ExitCode);
        Assert.Contains("tun web", restored.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("lookup 100", await RulesAsync(), StringComparison.Ordinal);
        CommandResult inside = await fixture.Net.ExecAsync(fixture.Client, "nft", ["list", "tables"]);
        Assert.DoesNotContain("dnsw_tun", inside.StdOut, StringComparison.Ordinal);
        CommandResult host = await fixture.Net.ExecAsync(fixture.Host, "nft", ["list", "tables"]);
        Assert.DoesNotContain("dnsw_tun", host.StdOut, StringComparison.Ordinal);
        Assert.False(File.Exists($"/run/dnsw/tun-{fixture.Client}.pid"));
    }
}
