using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;

namespace DnsWarden.E2E.Security;

/// <summary>
/// The jail as a security boundary (issue 14, items 1, 3, 4, 5, 8, 14 and 15): what a hostile jailed command tries, run for
/// real through <c>dnsw jail</c> in the fixture's "host" namespace as the unprivileged user a sudo caller would be
/// (SUDO_UID 65534), with the result read where it would land — the file system, a listener's log, the host's
/// process table. Programs run as that user are named by their full path: the test runner's PATH may hold
/// directories only root can read.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailBoundaryTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private static readonly TimeSpan s_jailTimeout = TimeSpan.FromSeconds(90);

    /// <summary><c>dnsw jail</c> as a sudo caller with uid 65534 would run it (the command runs as that user).</summary>
    private Task<CommandResult> JailAsync(IEnumerable<string> jailArgs, params string[] command) =>
        fixture.Net.ExecAsync(fixture.Host, "env",
            [$"SUDO_UID={JailDirectory.Uid}", $"SUDO_GID={JailDirectory.Uid}", DnswProgram.Program, .. DnswProgram.Prefix, "jail", .. jailArgs, "--", .. command],
            s_jailTimeout);

    private NetnsProcess StartJail(string label, IEnumerable<string> jailArgs, params string[] command) =>
        fixture.Net.StartProcess(fixture.Host, "jail-" + label, "env",
            [$"SUDO_UID={JailDirectory.Uid}", $"SUDO_GID={JailDirectory.Uid}", DnswProgram.Program, .. DnswProgram.Prefix, "jail", .. jailArgs, "--", .. command]);

    [Fact]
    public async Task OutIsTheInvokingUsersFileAndNamesInItCarryNoPathSeparators()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("names");
        string log = dir.Combine("queries.jsonl");
        CommandResult r = await JailAsync(["--query-log", log, "--privacy", "full", "--writable", dir.Path], "dig", "+short", "+time=2", "+tries=1", "x.a:/path/lib:b.test");
        Assert.True(r.ExitCode == 0, r.Describe());

        // Created by the invoking user, not by root.
        Assert.Equal(JailDirectory.Uid, FileOwner(log));
        JsonElement query = Assert.Single(JsonLines(log), e => e.TryGetProperty("qname", out _));
        string qname = query.GetProperty("qname").GetString()!;
        Assert.DoesNotContain('/', qname);
        Assert.DoesNotContain(':', qname);
        Assert.Equal(@"x.a\058\047path\047lib\058b.test", qname.TrimEnd('.'));
    }

    [Fact]
    public async Task ALinkPlantedWhereOutWasIsRefusedAndItsTargetKeepsItsContent()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("link");
        using JailDirectory victimDir = JailDirectory.Create("victim", rootOwned: true);
        string victim = victimDir.Combine("ld.so.preload");
        await File.WriteAllTextAsync(victim, "root's own file\n");
        string log = dir.Combine("queries.jsonl");
        string ran = dir.Combine("second-run-ran");

        // The first run: the command, as the directory's owner, swaps the log for a link to a file only root may write.
        CommandResult first = await JailAsync(["--query-log", log, "--writable", dir.Path], "sh", "-c", $"rm -f {log} && ln -s {victim} {log}");
        Assert.True(first.ExitCode == 0, first.Describe());
        Assert.Equal(victim, new FileInfo(log).LinkTarget);

        // The second run must not write through the link: refused with one line naming the file, the command not run.
        CommandResult second = await JailAsync(["--query-log", log, "--writable", dir.Path], "touch", ran);
        Assert.Equal(3, second.ExitCode);
        string error = Assert.Single(second.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(log, error, StringComparison.Ordinal);
        Assert.Equal("root's own file\n", await File.ReadAllTextAsync(victim));
        Assert.False(File.Exists(ran), "the command ran although --out was refused");
    }

    [Theory]
    [InlineData("proxy")]
    [InlineData("tun")]
    public async Task AQueryLogThatIsALinkIsRefusedByTheProxyAndTheFilter(string command)
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("qlink-" + command);
        using JailDirectory victimDir = JailDirectory.Create("qvictim-" + command, rootOwned: true);
        string victim = victimDir.Combine("passwd");
        await File.WriteAllTextAsync(victim, "root's own file\n");
        string log = dir.Combine("queries.jsonl");
        File.CreateSymbolicLink(log, victim);
        JailDirectory.Chown(log, JailDirectory.Uid);

        string[] args = command == "proxy"
            ? ["proxy", "--listen", "127.0.0.1:5411", "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--query-log", log]
            : ["tun", "--netns", fixture.Far, "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--query-log", log];
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, "env", [$"SUDO_UID={JailDirectory.Uid}", $"SUDO_GID={JailDirectory.Uid}", DnswProgram.Program, .. DnswProgram.Prefix, .. args], s_jailTimeout);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(log, r.StdErr, StringComparison.Ordinal);
        Assert.Equal("root's own file\n", await File.ReadAllTextAsync(victim));
    }

    [Theory]
    [InlineData("root")]
    [InlineData("0")]
    public async Task TheCommandNeverRunsAsRoot(string user)
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("root");
        string ran = dir.Combine("ran");
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--user", user, "--writable", dir.Path, "--", "touch", ran], s_jailTimeout);
        Assert.NotEqual(0, r.ExitCode);
        string error = Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("uid 0", error, StringComparison.Ordinal);
        Assert.False(File.Exists(ran));
    }

    [Fact]
    public async Task PolicyModeWithoutAPolicyIsRefused()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("nopolicy");
        string ran = dir.Combine("ran");
        CommandResult r = await JailAsync(["--mode", "policy", "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--writable", dir.Path], "touch", ran);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--policy", Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.False(File.Exists(ran));
    }

    [Fact]
    public async Task TheCommandSeesSignalsAndOutlivesNothingOutsideItsOwnProcesses()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("pids");

        // A process of the same user outside the jail: what the jailed command would signal, trace or inject into.
        NetnsProcess victim = fixture.Net.StartProcess(fixture.Host, "victim", "setpriv",
            ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-u", "-c", "import os, time; print(f'up {os.getpid()}', flush=True); time.sleep(600)"]);
        await victim.WaitForOutputAsync("up ", TimeSpan.FromSeconds(30));
        int victimPid = int.Parse(Line(victim.StdOut, "up ")[3..], CultureInfo.InvariantCulture);

        // The daemon's marker is put together by the shell, so the script's own command line never matches it.
        string tag = Guid.NewGuid().ToString("N")[..8];
        string daemon = "dnsw-daemon-" + tag;
        string script = $"""
            d=dnsw-daemon; d="$d-{tag}"
            echo "processes=$(ls /proc | grep -c '^[0-9]')"
            kill -0 {victimPid} 2>/dev/null && echo signal=reached || echo signal=refused
            test -e /proc/{victimPid}/mem && echo proc=visible || echo proc=hidden
            setsid /usr/bin/python3 -c 'import time; time.sleep(600)' "$d" </dev/null >/dev/null 2>&1 &
            until pgrep -f "$d" >/dev/null; do :; done
            echo daemon=started
            """;
        CommandResult r = await JailAsync(["--writable", dir.Path], "sh", "-c", script);
        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Contains("daemon=started", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("signal=refused", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("proc=hidden", r.StdOut, StringComparison.Ordinal);
        int processes = int.Parse(Line(r.StdOut, "processes=")["processes=".Length..], CultureInfo.InvariantCulture);
        Assert.True(processes <= 6, $"the jailed command saw {processes} processes");

        // The victim lives on untouched; the daemon the command started did not outlive the jail.
        Assert.True(Directory.Exists($"/proc/{victimPid}"), "the victim process is gone");
        Assert.Equal(0, await CountProcessesAsync(daemon));
    }

    [Fact]
    public async Task TheUsersSocketsInTmpAreOutOfReachAndTmpIsTheJailsOwn()
    {
        fixture.Check();
        string socketPath = $"/tmp/dnsw-e2e-socket-{Guid.NewGuid().ToString("N")[..8]}";
        string server = $$"""
            import os, socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind("{{socketPath}}")
            os.chmod("{{socketPath}}", 0o777)
            s.listen(8)
            print("listening", flush=True)
            while True:
                c, _ = s.accept()
                print("connected", flush=True)
                c.close()
            """;
        NetnsProcess listener = fixture.Net.StartProcess(fixture.Host, "unix-listener", "python3", ["-u", "-c", server]);
        try
        {
            await listener.WaitForOutputAsync("listening", TimeSpan.FromSeconds(30));
            string client = $"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{socketPath}'); print('reached')";

            // The control: the same client outside the jail gets through.
            CommandResult outside = await fixture.Net.ExecAsync(fixture.Host, "setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c", client]);
            Assert.Contains("reached", outside.StdOut, StringComparison.Ordinal);
            await listener.WaitForLinesAsync("connected", 1, TimeSpan.FromSeconds(10));

            using JailDirectory dir = JailDirectory.Create("tmp");
            CommandResult r = await JailAsync(["--writable", dir.Path], "sh", "-c", $"test -e {socketPath} && echo socket=visible || echo socket=hidden; /usr/bin/python3 -c \"{client}\" 2>&1 | tail -1; touch /tmp/own && echo tmp=writable");
            Assert.True(r.ExitCode == 0, r.Describe());
            Assert.DoesNotContain("reached", r.StdOut, StringComparison.Ordinal);
            Assert.Contains("tmp=writable", r.StdOut, StringComparison.Ordinal);
            Assert.Contains("socket=hidden", r.StdOut, StringComparison.Ordinal);
            Assert.Equal(1, listener.CountLines("connected"));
            Assert.False(File.Exists("/tmp/own"), "the jail's /tmp is the host's");
        }
        finally
        {
            await listener.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(5));
            File.Delete(socketPath);
        }
    }

    [Fact]
    public async Task WritesGoOnlyBeneathTheWritableDirectories()
    {
        fixture.Check();
        using JailDirectory allowed = JailDirectory.Create("writable");
        using JailDirectory other = JailDirectory.Create("readonly");
        await File.WriteAllTextAsync(other.Combine("existing"), "kept\n");
        JailDirectory.Chown(other.Combine("existing"), JailDirectory.Uid);
        CommandResult r = await JailAsync(["--writable", allowed.Path], "sh", "-c",
            $"touch {allowed.Combine("ok")}; touch {other.Combine("new")}; echo changed > {other.Combine("existing")}; cat {other.Combine("existing")}");
        Assert.True(File.Exists(allowed.Combine("ok")), r.Describe());
        Assert.False(File.Exists(other.Combine("new")), "a file was made outside --writable");
        Assert.Equal("kept\n", await File.ReadAllTextAsync(other.Combine("existing")));

        // Reading is not taken away.
        Assert.Contains("kept", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoConnectionIntoTheJailIsAcceptedFromTheHostOrTheLanAndEachIsLogged()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("inbound");
        string listenerScript = dir.Combine("listen.py");
        await File.WriteAllTextAsync(listenerScript, """
            import socket, subprocess, sys, threading
            def tcp(family, addr):
                s = socket.socket(family, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, 9000))
                s.listen(8)
                def serve():
                    while True:
                        c, peer = s.accept()
                        print(f"accepted tcp from {peer[0]}", flush=True)
                        c.sendall(b"secret\n")
                        c.close()
                threading.Thread(target=serve, daemon=True).start()
            tcp(socket.AF_INET, "0.0.0.0")
            tcp(socket.AF_INET6, "::")
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("0.0.0.0", 9001))
            def udp():
                while True:
                    data, peer = u.recvfrom(2048)
                    print(f"received udp from {peer[0]}", flush=True)
                    u.sendto(b"secret\n", peer)
            threading.Thread(target=udp, daemon=True).start()
            # The control: the listener answers a connection made inside the jail.
            c = socket.create_connection(("127.0.0.1", 9000), timeout=5)
            c.recv(16)
            addrs = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True).stdout.split()
            v4 = [a.split("/")[0] for i, a in enumerate(addrs) if addrs[i - 1] == "inet"]
            v6 = [a.split("/")[0] for i, a in enumerate(addrs) if addrs[i - 1] == "inet6"]
            print(f"jail-ready-at {v4[0]} {v6[0]}", flush=True)
            threading.Event().wait()
            """);
        string outFile = dir.Combine("out.jsonl");
        NetnsProcess jail = StartJail("inbound", ["--query-log", outFile, "--writable", dir.Path], "/usr/bin/python3", "-u", listenerScript);
        await jail.WaitForOutputAsync("jail-ready-at ", TimeSpan.FromSeconds(60));
        string[] ready = Line(jail.StdOut, "jail-ready-at ").Split(' ');
        string jailV4 = ready[1];
        string jailV6 = ready[2];

        // A LAN neighbour routes to the jail's range through the host; the host's own processes reach it directly.
        await fixture.Net.ReplaceRouteAsync(fixture.Inet, jailV4 + "/32", via: SecurityNetFixture.HostV4);
        string probe = dir.Combine("probe.py");
        await File.WriteAllTextAsync(probe, """
            import socket, sys
            addr, family = sys.argv[1], socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
            try:
                c = socket.create_connection((addr, 9000), timeout=2)
                print("tcp=" + c.recv(16).decode().strip())
            except OSError as e:
                print(f"tcp=refused ({e})")
            if family == socket.AF_INET:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.settimeout(2)
                u.sendto(b"hello", (addr, 9001))
                try:
                    print("udp=" + u.recv(16).decode().strip())
                except OSError as e:
                    print(f"udp=refused ({e})")
            """);
        var results = new List<string>();
        foreach ((string netns, string address) in new[] { (fixture.Host, jailV4), (fixture.Host, jailV6), (fixture.Inet, jailV4) })
        {
            CommandResult p = await fixture.Net.ExecAsync(netns, "python3", [probe, address], TimeSpan.FromSeconds(30));
            results.Add(p.StdOut);
        }

        await jail.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(30));

        // The far side: the listener accepted only the jail's own connection, and no data came back to any prober.
        Assert.All(results, p => Assert.DoesNotContain("secret", p, StringComparison.Ordinal));
        Assert.Equal(1, jail.CountLines("accepted tcp from"));
        Assert.Contains("accepted tcp from 127.0.0.1", jail.StdOut, StringComparison.Ordinal);
        Assert.Equal(0, jail.CountLines("received udp"));

        // Each refused attempt that reached the jail is counted and logged with who tried.
        string summary = Line(jail.StdErr, "dnsw jail: DNS queries");
        int refused = int.Parse(summary[(summary.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        Assert.True(refused >= 4, summary);
        JsonElement[] inbound = [.. JsonLines(outFile).Where(e => e.TryGetProperty("kind", out JsonElement k) && k.GetString() == "inbound")];
        // (A LAN neighbour's attempt is stopped before it reaches the jail, by the host's forwarding guard, which lets
        // only replies through towards dnsw's interfaces; the host's own processes reach the jail's input chain.)
        Assert.Contains(inbound, e => e.GetProperty("protocol").GetString() == "udp" && e.GetProperty("dport").GetInt32() == 9001);
        Assert.Contains(inbound, e => e.GetProperty("dst").GetString() == jailV6);
    }

    [Fact]
    public async Task MulticastAndRoutingHeadersNeverLeaveTheJail()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("covert");
        string policy = dir.Combine("policy.json");
        // web6.sec.test answers with a unique-local address, which rebinding protection would strip otherwise.
        await File.WriteAllTextAsync(policy, """{ "allow": ["sec.test"], "default_action": "block", "private_answers": ["web6.sec.test"] }""");
        string trigger = dir.Combine("go");
        string script = dir.Combine("covert.py");
        await File.WriteAllTextAsync(script, """
            import os, socket, struct, sys, time
            trigger = sys.argv[1]
            ifindex, ifname = next((i, n) for i, n in socket.if_nameindex() if n != "lo")
            def attempt(send):
                # A refused packet may fail the call itself (EPERM from the jail's rules): that is the point.
                try:
                    send()
                except OSError as e:
                    print(f"refused locally: {e}", flush=True)
            print("jail-ready", flush=True)
            while not os.path.exists(trigger):
                time.sleep(0.05)
            web4 = socket.getaddrinfo("web.sec.test", 7777, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
            web6 = socket.getaddrinfo("web6.sec.test", 7777, socket.AF_INET6, socket.SOCK_DGRAM)[0][4][0]
            u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            # The control: plain datagrams to the allowed addresses leave.
            u4.sendto(b"control-4", (web4, 7777))
            u6.sendto(b"control-6", (web6, 7777))
            # Joining groups makes the kernel announce them (MLD, IGMP reports): a channel out with chosen addresses.
            m6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            m6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff05::7:7") + struct.pack("@I", ifindex))
            attempt(lambda: m6.sendto(b"covert-mcast6", ("ff05::7:7", 7777, 0, ifindex)))
            m4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            m4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("@4s4si", socket.inet_aton("239.7.7.7"), socket.inet_aton("0.0.0.0"), ifindex))
            attempt(lambda: m4.sendto(b"covert-mcast4", ("239.7.7.7", 7777)))
            # A segment routing header (type 4, no privilege needed): first hop the allowed address, then one never resolved.
            r6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            srh = struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + bytes(16) + socket.inet_pton(socket.AF_INET6, web6)
            r6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, srh)
            attempt(lambda: r6.sendto(b"covert-rthdr", ("2001:db8:77::1", 7777)))
            # IPv4 options (record route) ride the same way.
            o4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            o4.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([7, 7, 4, 0, 0, 0, 0, 0]))
            attempt(lambda: o4.sendto(b"covert-ipopt", (web4, 7777)))
            print("sent", flush=True)
            # The jail's link stays up until the captures have proven they hold everything.
            while not os.path.exists(trigger + ".done"):
                time.sleep(0.05)
            """);
        NetnsProcess jail = StartJail("covert",
            ["--mode", "policy", "--policy", policy, "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--writable", dir.Path],
            "/usr/bin/python3", "-u", script, trigger);
        await jail.WaitForOutputAsync("jail-ready", TimeSpan.FromSeconds(60));
        CommandResult links = await fixture.Net.ExecAsync(fixture.Host, "ip", ["-o", "link", "show"]);
        string veth = links.StdOut.Split('\n').Select(l => l.Split(':', 3)).Where(f => f.Length == 3).Select(f => f[1].Trim().Split('@')[0])
            .Single(n => n.StartsWith("dnswj", StringComparison.Ordinal) && n.EndsWith('h'));

        // Both sides watched: the jail's own link on the host, and the LAN where the allowed addresses live.
        DumpcapCapture near = await fixture.Net.StartCaptureAsync(fixture.Host, [veth]);
        DumpcapCapture far = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface]);
        await File.WriteAllTextAsync(trigger, "");
        await jail.WaitForOutputAsync("sent", TimeSpan.FromSeconds(60));
        await near.StopAsync();
        await far.StopAsync();
        await File.WriteAllTextAsync(trigger + ".done", "");
        await jail.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(30));

        foreach (DumpcapCapture c in new[] { near, far })
        {
            // (Not counting the port-unreachable errors that quote them on the way back.)
            Assert.Equal(1, await CountFramesAsync(c, "not icmp and not icmpv6 and frame contains \"control-4\""));
            Assert.Equal(1, await CountFramesAsync(c, "not icmp and not icmpv6 and frame contains \"control-6\""));
            Assert.Equal(0, await CountFramesAsync(c, "frame contains \"covert\""));
            // The groups the command joined appear nowhere: not as a destination, not inside an MLD or IGMP report.
            Assert.Equal(0, await CountFramesAsync(c, "frame contains ff:05:00:00:00:00:00:00:00:00:00:00:00:07:00:07 or frame contains ef:07:07:07"));
            Assert.Equal(0, await CountFramesAsync(c, "ipv6.routing or ip.opt.type"));
        }

        string summary = Line(jail.StdErr, "dnsw jail: DNS queries");
        Assert.Matches(@"multicast [1-9]\d*,", summary);
        Assert.Matches(@"routing headers and IP options [2-9]\d*;", summary);
    }

    private async Task<int> CountFramesAsync(DumpcapCapture capture, string displayFilter)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-n", "-r", capture.OutputPath, "-Y", displayFilter, "-T", "fields", "-e", "frame.number"]);
        Assert.True(r.ExitCode == 0, r.Describe());
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static string Line(string text, string prefix) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) ?? throw new Xunit.Sdk.XunitException($"no line starting '{prefix}' in:\n{text}");

    private static JsonElement[] JsonLines(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static int FileOwner(string path)
    {
        CommandResult r = ProcessRunner.RunAsync("stat", ["-c", "%u", path]).GetAwaiter().GetResult();
        return int.Parse(r.StdOut.Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<int> CountProcessesAsync(string marker)
    {
        CommandResult r = await ProcessRunner.RunAsync("pgrep", ["-f", marker]);
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
