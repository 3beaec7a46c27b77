using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// Send-time attribution, live: <c>dnsw leak watch</c> in a client namespace, a resolver one veth away (a round trip
/// well under a millisecond), one-shot clients that are gone long before their packets are processed. Every one must
/// be named from the kernel's send-time record; a client in a cgroup of its own is named with that group; a stub's
/// upstream query names the stub and the client behind it; a decoy namespace sending the same 5-tuple is never
/// taken for ours; without BPF the fallback says so; and nothing of the program outlives the watch, killed or not.
/// </summary>
public sealed class SendTimeAttributionTests
{
    private const string Server = "203.0.113.1";
    private const string Client = "203.0.113.2";
    private const string Name = "who.dnsw.test";
    private const ushort SharedPort = 45053;

    [Fact]
    public async Task OneShotClients_CgroupStubAndDecoy_AllNamedAtSendTime_AndNothingIsLeftBehind()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig", "kdig", "host", "curl", "python3", "bpftool");
        string? cgroupMount = CgroupMount();
        if (cgroupMount is null)
        {
            Assert.Skip("no cgroup2 file system is mounted: cgroup BPF cannot attach");
        }

        await using TestNet net = await TestNet.CreateAsync();
        (string serverNs, string clientNs, string iface) = await PairAsync(net, "bsrv", "bcli");
        (string decoyServerNs, string decoyClientNs, _) = await PairAsync(net, "dsrv", "dcli");
        await StartResolverAsync(net, serverNs, "srv");
        await StartResolverAsync(net, decoyServerNs, "dsrv");
        await net.StartServerAsync(serverNs, "tls443", "python3",
            ["-c", $"import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('{Server}',443));s.listen(64);c=[]\nwhile True: c.append(s.accept())"],
            [Listener.Tcp(443, Server)]);

        // A socket connected before the watch starts: the kernel has no send record of it (only sock_diag can name it).
        string fifo = net.TempPath("go");
        await net.ExecAsync(clientNs, "mkfifo", [fifo]);
        NetnsProcess early = net.StartProcess(clientNs, "early", "python3",
            ["-c", $"import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('{Client}',{SharedPort}));s.connect(('{Server}',53));print('ready',flush=True);open('{fifo}').read();s.send(bytes.fromhex('{QueryHex(0x4242)}'));s.settimeout(2);s.recv(512);import time;time.sleep(1)"]);
        await early.WaitForOutputAsync("ready", TimeSpan.FromSeconds(10));

        string events = net.TempPath("events.jsonl");
        NetnsProcess watch = net.StartProcess(clientNs, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", iface, "--iface", "lo", "--duration", "0", "--format", "json", "--privacy", "full", "--out", events]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));
        Assert.Contains("process attribution: bpf", Unwrapped(watch.StdErr), StringComparison.Ordinal);
        (HashSet<int> programs, HashSet<int> maps) = await OursAsync(watch.Pid);
        Assert.Equal(5, programs.Count);

        // 20 one-shot clients: 5 each of dig, kdig, host, curl (DoH to a listed name, the TLS server next door).
        var expected = new List<(int Pid, string Name, string Transport)>();
        for (int i = 0; i < 5; i++)
        {
            expected.Add((await OneShotAsync(net, clientNs, $"exec dig +tries=1 +time=2 @{Server} {Name}"), "dig", "udp53"));
            expected.Add((await OneShotAsync(net, clientNs, $"exec kdig +tcp @{Server} {Name}"), "kdig", "tcp53"));
            expected.Add((await OneShotAsync(net, clientNs, $"exec host -t A {Name} {Server}"), "host", "udp53"));
            expected.Add((await OneShotAsync(net, clientNs, $"exec curl -s -m 2 --resolve dns.google:443:{Server} --doh-url https://dns.google/dns-query http://{Name}/"), "curl", "doh"));
        }

        // One client in a cgroup v2 group of its own. The group is joined from here: inside `ip netns exec` /sys is another mount.
        string group = "dnsw-t-" + net.RunId;
        string groupPath = Path.Combine(cgroupMount, group);
        string go = net.TempPath("cg-go");
        await net.ExecAsync(clientNs, "mkfifo", [go]);
        Directory.CreateDirectory(groupPath);
        int grouped;
        try
        {
            NetnsProcess waiting = net.StartProcess(clientNs, "grouped", "sh", ["-c", $"echo pid $$; read x < {go}; exec dig +tries=1 @{Server} grouped.dnsw.test"]);
            await waiting.WaitForOutputAsync("pid ", TimeSpan.FromSeconds(10));
            grouped = int.Parse(waiting.StdOut.Split('\n')[0]["pid ".Length..].Trim(), CultureInfo.InvariantCulture);
            await File.WriteAllTextAsync(Path.Combine(groupPath, "cgroup.procs"), grouped.ToString(CultureInfo.InvariantCulture));
            await net.ExecAsync(clientNs, "sh", ["-c", $"echo go > {go}"]);
            await waiting.Exited.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await RemoveGroupAsync(groupPath);
        }

        // A stub on the client's loopback forwarding over the veth, asked by dig.
        await net.StartServerAsync(clientNs, "stub", "dnsmasq",
            ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
             "--user=root", "--group=root", "--cache-size=0", $"--server={Server}", "--pid-file=" + net.TempPath("stub.pid"), "--log-facility=-"],
            [Listener.Udp(53, "127.0.0.1")]);
        int asker = await OneShotAsync(net, clientNs, "exec dig +tries=1 @127.0.0.1 stub.dnsw.test");

        // The decoy sends the very 5-tuple of the early socket, from another namespace; then the early socket sends.
        await OneShotAsync(net, decoyClientNs, $"exec dig +tries=1 -b {Client}#{SharedPort} @{Server} {Name}");
        await net.ExecAsync(clientNs, "sh", ["-c", $"echo go > {fifo}"]);
        await early.Exited.WaitAsync(TimeSpan.FromSeconds(10));

        watch.Signal(ProcessSignal.Interrupt);
        await watch.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(watch.ExitCode == 2, watch.Describe());
        await AssertGoneAsync(programs, maps);

        List<JsonElement> lines = [.. (await File.ReadAllLinesAsync(events)).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        List<JsonElement> leaks = [.. lines.Where(e => e.GetProperty("event").GetString() == "leak")];

        // Every event of the run names its process: the clients, the stub, the early socket.
        Assert.All(leaks, e => Assert.Equal("high", e.GetProperty("attribution").GetProperty("confidence").GetString()));
        foreach ((int pid, string name, string transport) in expected)
        {
            // host asks more than one question and curl may open more than one DoH connection: every event of the client counts.
            List<JsonElement> mine = [.. leaks.Where(x => Pid(x.GetProperty("process")) == pid && x.GetProperty("transport").GetString() == transport)];
            Assert.True(mine.Count > 0, $"no {transport} event names {name}[{pid}]");
            Assert.All(mine, e => AssertNamed(e, pid, name));
        }

        JsonElement inGroup = Assert.Single(leaks, e => e.GetProperty("qname").GetString() == "grouped.dnsw.test");
        AssertNamed(inGroup, grouped, "dig");
        Assert.Equal("/" + group, inGroup.GetProperty("process").GetProperty("cgroup").GetProperty("path").GetString());

        JsonElement stub = Assert.Single(leaks, e => e.GetProperty("qname").GetString() == "stub.dnsw.test");
        Assert.Equal("dnsmasq", stub.GetProperty("process").GetProperty("name").GetString());
        Assert.Equal("bpf", stub.GetProperty("attribution").GetProperty("source").GetString());
        JsonElement behalf = stub.GetProperty("on_behalf_of");
        Assert.Equal(asker, Pid(behalf.GetProperty("process")));
        Assert.Equal("dig", behalf.GetProperty("process").GetProperty("name").GetString());
        Assert.Equal("high", behalf.GetProperty("attribution").GetProperty("confidence").GetString());

        JsonElement shared = Assert.Single(leaks, e => EventFields.Src(e) == $"{Client}:{SharedPort}");
        Assert.Equal(early.Pid, Pid(shared.GetProperty("process")));
        Assert.Equal("sock_diag", shared.GetProperty("attribution").GetProperty("source").GetString());

        JsonElement summary = lines[^1];
        Assert.Equal("bpf", summary.GetProperty("attribution").GetProperty("source").GetString());
        Assert.Equal(0, summary.GetProperty("attribution").GetProperty("send_records_lost").GetInt64());
    }

    [Fact]
    public async Task WithoutBpf_TheFallbackRuns_AndSaysSo_AndAKilledWatchLeavesNothing()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig", "bpftool");
        await using TestNet net = await TestNet.CreateAsync();
        (string serverNs, string clientNs, string iface) = await PairAsync(net, "fsrv", "fcli");
        await StartResolverAsync(net, serverNs, "fsrv");

        string events = net.TempPath("events.jsonl");
        NetnsProcess watch = net.StartProcess(clientNs, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", iface, "--duration", "0", "--format", "json", "--no-bpf", "--out", events]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));
        Assert.Contains("send-time attribution off: disabled", Unwrapped(watch.StdErr), StringComparison.Ordinal);
        Assert.Empty((await OursAsync(watch.Pid)).Programs);
        await OneShotAsync(net, clientNs, $"exec dig +tries=1 @{Server} {Name}");
        watch.Signal(ProcessSignal.Interrupt);
        await watch.Exited.WaitAsync(TimeSpan.FromSeconds(30));

        List<JsonElement> lines = [.. (await File.ReadAllLinesAsync(events)).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement e = Assert.Single(lines, l => l.GetProperty("event").GetString() == "leak");
        JsonElement a = e.GetProperty("attribution");
        Assert.NotEqual("bpf", a.GetProperty("source").GetString());
        if (a.GetProperty("confidence").GetString() != "high")
        {
            Assert.Contains("send-time attribution off: disabled", a.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal("sock_diag", lines[^1].GetProperty("attribution").GetProperty("source").GetString());
        Assert.Contains("disabled", lines[^1].GetProperty("attribution").GetProperty("reason").GetString(), StringComparison.Ordinal);

        // SIGKILL: no chance to clean up; the links die with the process's descriptors, and the programs and maps with them.
        NetnsProcess killed = net.StartProcess(clientNs, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", iface, "--duration", "0", "--format", "json"]);
        await killed.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));
        (HashSet<int> programs, HashSet<int> maps) = await OursAsync(killed.Pid);
        Assert.Equal(5, programs.Count);
        killed.Signal(ProcessSignal.Kill);
        await killed.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        await AssertGoneAsync(programs, maps);
    }

    [Fact]
    public async Task NotRoot_TheFallbackRuns_AndSaysWhy_WithNoProgramLoaded()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig", "bpftool", "setpriv");
        await using TestNet net = await TestNet.CreateAsync();
        (string serverNs, string clientNs, string iface) = await PairAsync(net, "usrv", "ucli");
        await StartResolverAsync(net, serverNs, "usrv");

        // Another user keeping only what capture needs: BPF is withheld as it is from any user who is not root.
        NetnsProcess watch = net.StartProcess(clientNs, "dnsw", "setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin", "--",
             DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--iface", iface, "--duration", "0", "--format", "json", "--privacy", "full"]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));
        const string Why = "send-time attribution off: not root";
        Assert.Contains(Why, Unwrapped(watch.StdErr), StringComparison.Ordinal);
        Assert.Empty((await OursAsync(watch.Pid)).Programs);
        await OneShotAsync(net, clientNs, $"exec dig +tries=1 @{Server} {Name}");
        await watch.WaitForOutputAsync(Name, TimeSpan.FromSeconds(30));
        watch.Signal(ProcessSignal.Interrupt);
        await watch.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(watch.ExitCode == 2, watch.Describe());

        List<JsonElement> lines = [.. watch.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement e = Assert.Single(lines, l => l.GetProperty("event").GetString() == "leak");
        JsonElement a = e.GetProperty("attribution");
        Assert.NotEqual("bpf", a.GetProperty("source").GetString());

        // The dig ran as root: this user cannot read its descriptors, so no process is named, and the event says why.
        Assert.Equal("none", a.GetProperty("confidence").GetString());
        Assert.EndsWith(Why + " (loading BPF needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)", a.GetProperty("reason").GetString(), StringComparison.Ordinal);
        JsonElement summary = lines[^1].GetProperty("attribution");
        Assert.Equal("sock_diag", summary.GetProperty("source").GetString());
        Assert.StartsWith("not root", summary.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    private static void AssertNamed(JsonElement e, int pid, string name)
    {
        JsonElement a = e.GetProperty("attribution");
        Assert.True(a.GetProperty("confidence").GetString() == "high", e.ToString());
        Assert.Equal("bpf", a.GetProperty("source").GetString());
        JsonElement p = e.GetProperty("process");
        Assert.Equal(pid, Pid(p));
        Assert.Equal(name, p.GetProperty("name").GetString());
        Assert.EndsWith("/" + name, p.GetProperty("exe").GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(p.GetProperty("parents").EnumerateArray());
        Assert.Equal("root", p.GetProperty("user").GetString());
        Assert.True(p.GetProperty("cgroup").GetProperty("id").GetUInt64() > 0, e.ToString());
        Assert.False(string.IsNullOrEmpty(p.GetProperty("cgroup").GetProperty("path").GetString()), e.ToString());
    }

    /// <summary>The console wraps long lines at its width.</summary>
    private static string Unwrapped(string text) => text.Replace("\n", " ", StringComparison.Ordinal).Replace("  ", " ", StringComparison.Ordinal);

    private static int Pid(JsonElement process) => process.ValueKind == JsonValueKind.Object ? process.GetProperty("pid").GetInt32() : -1;

    private static async Task<(string Server, string Client, string ClientInterface)> PairAsync(TestNet net, string server, string client)
    {
        string s = await net.AddNamespaceAsync(server);
        string c = await net.AddNamespaceAsync(client);
        VethPair veth = await net.AddVethAsync(s, c);
        await net.AddAddressAsync(s, veth.InterfaceA, Server + "/24");
        await net.AddAddressAsync(c, veth.InterfaceB, Client + "/24");
        return (s, c, veth.InterfaceB);
    }

    private static Task<NetnsProcess> StartResolverAsync(TestNet net, string ns, string label) =>
        net.StartServerAsync(ns, label, "dnsmasq",
            ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", $"--listen-address={Server}", "--bind-interfaces",
             "--user=root", "--group=root", "--pid-file=" + net.TempPath(label + ".pid"), "--log-facility=-",
             $"--address=/dnsw.test/10.9.9.9"],
            [Listener.Udp(53, Server), Listener.Tcp(53, Server)]);

    /// <summary>Runs a shell that prints its pid and then becomes the client (exec), so the pid printed is the client's.</summary>
    private static async Task<int> OneShotAsync(TestNet net, string ns, string script)
    {
        CommandResult run = await net.ExecAsync(ns, "sh", ["-c", "echo $$; " + script]);
        return int.Parse(run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Trim(), CultureInfo.InvariantCulture);
    }

    private static string QueryHex(ushort id)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsWarden.Wire.Dns.DnsMessageWriter.TryWriteQuery(buffer, id, Name, DnsWarden.Wire.Dns.DnsType.A, true, null, out int n));
        return Convert.ToHexString(buffer, 0, n);
    }

    /// <summary>The BPF programs named dnsw_* now loaded, and the maps they use (bpftool's JSON).</summary>
    /// <summary>
    /// The BPF programs (and their maps) one watch holds, read from its descriptors' fdinfo (a link's or program's
    /// <c>prog_id</c>, a map's <c>map_id</c>): other tests' watches may be running at the same time, so a count of every
    /// dnsw program on the machine would not be this watch's.
    /// </summary>
    private static async Task<(HashSet<int> Programs, HashSet<int> Maps)> OursAsync(int pid)
    {
        var programs = new HashSet<int>();
        var maps = new HashSet<int>();
        foreach (string info in Directory.GetFiles($"/proc/{pid}/fdinfo"))
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(info);
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            foreach (Match m in Regex.Matches(text, @"^(prog_id|map_id):\s+(\d+)$", RegexOptions.Multiline))
            {
                (m.Groups[1].Value == "prog_id" ? programs : maps).Add(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            }
        }

        // A program's maps, as the kernel lists them (the ring buffer and the flow table are held through it).
        CommandResult run = await ProcessRunner.RunAsync("bpftool", ["-j", "prog", "show"]);
        using JsonDocument doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(run.StdOut) ? "[]" : run.StdOut);
        foreach (JsonElement p in doc.RootElement.EnumerateArray())
        {
            if (programs.Contains(p.GetProperty("id").GetInt32()) && p.TryGetProperty("map_ids", out JsonElement ids))
            {
                maps.UnionWith(ids.EnumerateArray().Select(i => i.GetInt32()));
            }
        }

        return (programs, maps);
    }

    /// <summary>The kernel frees a program after an RCU grace period: asked again until gone, within a bound.</summary>
    private static async Task AssertGoneAsync(HashSet<int> programs, HashSet<int> maps)
    {
        Assert.NotEmpty(maps);
        for (int attempt = 0; ; attempt++)
        {
            CommandResult progs = await ProcessRunner.RunAsync("bpftool", ["-j", "prog", "show"]);
            CommandResult mapList = await ProcessRunner.RunAsync("bpftool", ["-j", "map", "show"]);
            int[] leftPrograms = Ids(progs.StdOut).Where(programs.Contains).ToArray();
            int[] leftMaps = Ids(mapList.StdOut).Where(maps.Contains).ToArray();
            if (leftPrograms.Length == 0 && leftMaps.Length == 0)
            {
                return;
            }

            Assert.True(attempt < 100, $"left behind: programs {string.Join(',', leftPrograms)}, maps {string.Join(',', leftMaps)}");
            await Task.Delay(50);
        }
    }

    private static IEnumerable<int> Ids(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
        return [.. doc.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetInt32())];
    }

    private static string? CgroupMount()
    {
        foreach (string line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            int separator = line.IndexOf(" - cgroup2 ", StringComparison.Ordinal);
            if (separator > 0)
            {
                return line[..separator].Split(' ')[4];
            }
        }

        return null;
    }

    /// <summary>A cgroup can be removed once its last process has exited; the exit is reaped just before.</summary>
    private static async Task RemoveGroupAsync(string path)
    {
        for (int attempt = 0; Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path);
            }
            catch (IOException) when (attempt < 100)
            {
                await Task.Delay(20);
            }
        }
    }
}
