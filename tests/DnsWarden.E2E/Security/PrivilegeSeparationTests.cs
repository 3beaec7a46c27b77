using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// <c>dnsw jail</c>'s privilege separation (issue 16, docs/JAIL.md "Privilege separation"), read from the kernel while a
/// real jail runs: the process that parses the jail's DNS (it holds the stub's sockets) is nobody with no capability
/// and no_new_privs on every thread; its root keeper holds netlink sockets only and nothing of the jail's reach;
/// either half killed with SIGKILL takes the command with it, and with the keeper gone nothing new opens.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PrivilegeSeparationTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    // Ready once the stub has answered a query: the run reads nothing from the jail before it has dropped to nobody,
    // so an answer proves the drop is done (the command itself starts before it, as root starts it).
    private const string WaitingCommand = """
        import os, socket, sys, time
        socket.gethostbyname("ready.privsep.test")
        print("jail-ready", flush=True)
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.05)
        """;

    /// <summary>Prints "INODE PROTOCOL" for every socket of a process (sockfs's system.sockprotoname attribute).</summary>
    private const string SocketKinds = """
        import os, sys
        d = f"/proc/{sys.argv[1]}/fd"
        for n in os.listdir(d):
            t = os.readlink(f"{d}/{n}")
            if t.startswith("socket:["):
                print(t[8:-1], os.getxattr(f"{d}/{n}", "system.sockprotoname").rstrip(b"\0").decode())
        """;

    private NetnsProcess StartJail(string label, IEnumerable<string> jailArgs, params string[] command) =>
        fixture.Net.StartProcess(fixture.Host, "jail-" + label, "env",
            [$"SUDO_UID={JailDirectory.Uid}", $"SUDO_GID={JailDirectory.Uid}", DnswProgram.Program, .. DnswProgram.Prefix, "jail", .. jailArgs, "--", .. command]);

    [Fact]
    public async Task TheStubRunsAsNobodyWithoutCapabilitiesAndTheKeeperHoldsOnlyNetlink()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("privsep-inspect");
        string script = dir.Combine("wait.py");
        string trigger = dir.Combine("go");
        await File.WriteAllTextAsync(script, WaitingCommand);
        NetnsProcess jail = StartJail("inspect", ["--writable", dir.Path], "/usr/bin/python3", "-u", script, trigger);
        await jail.WaitForOutputAsync("jail-ready", s_timeout);
        int main = jail.Pid;
        int[] run = Descendants(main);
        int command = Assert.Single(run, p => CommandLine(p).StartsWith("/usr/bin/python3 -u " + script, StringComparison.Ordinal));

        // (The jail's namespace is named in the mount namespace of the run's `ip netns exec`: entered by a process of it.)
        string jailNamespace = $"--net=/proc/{command}/ns/net";

        // The stub's sockets are this process's (the parser is the stub), and it is nobody on every thread.
        CommandResult inet = await ProcessRunner.RunAsync("nsenter", [jailNamespace, "ss", "-HanptuwO"]);
        Assert.True(inet.ExitCode == 0, inet.Describe());
        Assert.Contains($"pid={main},", inet.StdOut, StringComparison.Ordinal);
        foreach (string task in Directory.GetDirectories($"/proc/{main}/task"))
        {
            string status = await File.ReadAllTextAsync(Path.Combine(task, "status"));
            Assert.Equal("65534\t65534\t65534\t65534", Field(status, "Uid"));
            Assert.Equal("65534\t65534\t65534\t65534", Field(status, "Gid"));
            Assert.Equal("", Field(status, "Groups"));
            Assert.Equal("0000000000000000", Field(status, "CapEff"));
            Assert.Equal("0000000000000000", Field(status, "CapPrm"));
            Assert.Equal("0000000000000000", Field(status, "CapAmb"));
            Assert.Equal("1", Field(status, "NoNewPrivs"));
        }

        // The run's processes: the root ones are the keeper, and unshare and the jail's init, which hold no socket.
        int keeper = Assert.Single(run, p => CommandLine(p).Contains(" jail-keeper ", StringComparison.Ordinal));
        Assert.Equal(main, ParentOf(keeper));
        int[] root = [.. run.Where(p => Field(File.ReadAllText($"/proc/{p}/status"), "Uid").StartsWith("0\t", StringComparison.Ordinal))];
        Assert.Equal(3, root.Length);
        Assert.All(root.Where(p => p != keeper), p =>
        {
            Assert.Matches(@"^(unshare|\S*dnsw jail-init) ", CommandLine(p));
            Assert.DoesNotContain(Links(p), l => l.Target.StartsWith("socket:", StringComparison.Ordinal));
        });

        // The keeper: every socket it has is a netlink one (the kernel names each socket's protocol), and none is in
        // the jail's inet tables — nothing of the jail's reach.
        Assert.DoesNotContain($"pid={keeper},", inet.StdOut, StringComparison.Ordinal);
        CommandResult kinds = await ProcessRunner.RunAsync("python3", ["-c", SocketKinds, keeper.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(kinds.ExitCode == 0, kinds.Describe());
        string[][] keeperSockets = [.. kinds.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))];
        Assert.NotEmpty(keeperSockets);
        Assert.All(keeperSockets, s => Assert.Equal("NETLINK", s[1]));
        CommandResult tables = await ProcessRunner.RunAsync("nsenter", [jailNamespace, "cat", "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6", "/proc/net/raw", "/proc/net/raw6"]);
        Assert.True(tables.ExitCode == 0, tables.Describe());
        string[] jailInodes = [.. tables.StdOut.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length > 9).Select(f => f[9])];
        Assert.All(keeperSockets, s => Assert.DoesNotContain(s[0], jailInodes));

        // The channel: the keeper's standard input and output. The run's ends are close-on-exec, and the command
        // holds neither (nor any socket).
        (int Fd, string Target)[] keeperLinks = Links(keeper);
        string[] channel = [.. keeperLinks.Where(l => l.Fd is 0 or 1).Select(l => l.Target)];
        Assert.All(channel, c => Assert.StartsWith("pipe:", c, StringComparison.Ordinal));
        (int Fd, string Target)[] mainEnds = [.. Links(main).Where(l => channel.Contains(l.Target))];
        Assert.Equal(2, mainEnds.Length);
        Assert.All(mainEnds, e => Assert.True(IsCloseOnExec(main, e.Fd), $"fd {e.Fd} of the run ({e.Target}) is inherited by what it starts"));
        (int Fd, string Target)[] commandLinks = Links(command);
        Assert.DoesNotContain(commandLinks, l => channel.Contains(l.Target));
        Assert.DoesNotContain(commandLinks, l => l.Target.StartsWith("socket:", StringComparison.Ordinal));

        await File.WriteAllTextAsync(trigger, "");
        await jail.Exited.WaitAsync(s_timeout);
        Assert.True(jail.ExitCode == 0, jail.Describe());
    }

    [Fact]
    public async Task KillingTheRunKillsTheCommandAndTheKeeperRemovesTheJail()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("privsep-killrun");
        string script = dir.Combine("wait.py");
        await File.WriteAllTextAsync(script, WaitingCommand);
        string before = await HostStateAsync();
        NetnsProcess jail = StartJail("killrun", ["--writable", dir.Path], "/usr/bin/python3", "-u", script, dir.Combine("never"));
        await jail.WaitForOutputAsync("jail-ready", s_timeout);
        int main = jail.Pid;
        int[] run = Descendants(main);
        int keeper = Assert.Single(run, p => CommandLine(p).Contains(" jail-keeper ", StringComparison.Ordinal));
        int command = Assert.Single(run, p => CommandLine(p).StartsWith("/usr/bin/python3 -u " + script, StringComparison.Ordinal));
        Assert.NotEqual(before, await HostStateAsync());

        Assert.True(ProcessRunner.Signal(main, ProcessSignal.Kill));
        await jail.Exited.WaitAsync(s_timeout);
        await GoneAsync(keeper);
        await GoneAsync(command);

        string id = main.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(before, await HostStateAsync());
        Assert.DoesNotContain("dnsw-jail-" + id, (await ProcessRunner.RunAsync("ip", ["netns", "list"])).StdOut, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists("/run/dnsw") ? Directory.GetFileSystemEntries("/run/dnsw", "*jail-" + id + "*") : []);
    }

    [Fact]
    public async Task WithTheKeeperKilledTheRunEnds125AndAnAllowedNameOpensNothing()
    {
        fixture.Check();
        using JailDirectory dir = JailDirectory.Create("privsep-killkeeper");
        string script = dir.Combine("connect.py");
        string control = dir.Combine("control");
        string after = dir.Combine("after");
        string policy = dir.Combine("policy.json");
        // web6.sec.test answers with a unique-local address, which rebinding protection would strip otherwise.
        await File.WriteAllTextAsync(policy, """{ "allow": ["sec.test"], "default_action": "block", "private_answers": ["web6.sec.test"] }""");
        await File.WriteAllTextAsync(script, $$"""
            import os, socket, sys, time
            def wait(path):
                while not os.path.exists(path):
                    time.sleep(0.05)
            def connect(name, family):
                try:
                    address = socket.getaddrinfo(name, {{SecurityNetFixture.TargetPort}}, family, socket.SOCK_STREAM)[0][4]
                    s = socket.socket(family, socket.SOCK_STREAM)
                    s.settimeout(3)
                    s.connect(address)
                    print("opened", name, flush=True)
                except Exception as e:
                    print("refused", name, type(e).__name__, flush=True)
            try:
                socket.getaddrinfo("ready.privsep.test", 80)  # answered (either way) only once the run has dropped
            except OSError:
                pass
            print("jail-ready", flush=True)
            wait(sys.argv[1])
            connect("{{SecurityNetFixture.Web6Name}}", socket.AF_INET6)
            print("control-done", flush=True)
            wait(sys.argv[2])
            print("asking", flush=True)
            connect("{{SecurityNetFixture.WebName}}", socket.AF_INET)
            time.sleep(30)
            """);
        NetnsProcess jail = StartJail("killkeeper",
            ["--mode", "policy", "--policy", policy, "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4, "--writable", dir.Path],
            "/usr/bin/python3", "-u", script, control, after);
        try
        {
            await jail.WaitForOutputAsync("jail-ready", s_timeout);
            int main = jail.Pid;
            int keeper = Assert.Single(Descendants(main), p => CommandLine(p).Contains(" jail-keeper ", StringComparison.Ordinal));
            DumpcapCapture far = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface]);

            // Control: with the keeper there, a name the stub answers opens its address (a SYN reaches the far side).
            await File.WriteAllTextAsync(control, "");
            await jail.WaitForOutputAsync("control-done", s_timeout);

            // The run is held still while the keeper dies and the command asks, so the question waits in the stub's
            // socket and is read by the run only after the keeper is gone.
            Assert.True(ProcessRunner.Signal(main, ProcessSignal.Stop));
            Assert.True(ProcessRunner.Signal(keeper, ProcessSignal.Kill));
            await GoneAsync(keeper);
            await File.WriteAllTextAsync(after, "");
            await jail.WaitForOutputAsync("asking", s_timeout);
            Assert.True(ProcessRunner.Signal(main, ProcessSignal.Continue));
            await jail.Exited.WaitAsync(s_timeout);
            await far.StopAsync();

            Assert.True(jail.ExitCode == 125, jail.Describe());
            Assert.Single(jail.StdErr.Split('\n'), l => l.StartsWith("dnsw jail: the jail's keeper", StringComparison.Ordinal));
            Assert.DoesNotContain("opened " + SecurityNetFixture.WebName, jail.StdOut, StringComparison.Ordinal);
            Assert.True(await CountFramesAsync(far, $"ipv6.dst == {SecurityNetFixture.InetV6} and tcp.flags.syn == 1 and tcp.flags.ack == 0") >= 1, "the control connection never reached the far side");
            Assert.Equal(0, await CountFramesAsync(far, $"ip.dst == {SecurityNetFixture.WebV4} and tcp.flags.syn == 1 and tcp.flags.ack == 0"));
        }
        finally
        {
            // What the killed keeper would have removed: as after a SIGKILL of the whole run, --cleanup does.
            _ = ProcessRunner.Signal(jail.Pid, ProcessSignal.Continue);
            await jail.Exited.WaitAsync(s_timeout);
            CommandResult cleanup = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--cleanup"], s_timeout);
            Assert.True(cleanup.ExitCode == 0, cleanup.Describe());
        }
    }

    /// <summary>The host namespace's nftables tables and forwarding switches, and the jail namespaces that exist.</summary>
    private async Task<string> HostStateAsync()
    {
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, "sh",
            ["-c", "nft list tables; grep -r . /proc/sys/net/ipv4/conf/*/forwarding /proc/sys/net/ipv6/conf/*/forwarding /proc/sys/net/ipv6/conf/*/force_forwarding 2>/dev/null | grep -v dnswj; ip -o link show | grep -c dnswj"]);
        Assert.True(r.ExitCode is 0 or 1, r.Describe());
        return r.StdOut;
    }

    private static async Task GoneAsync(int pid)
    {
        DateTime deadline = DateTime.UtcNow + s_timeout;
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            Assert.True(DateTime.UtcNow < deadline, $"process {pid} ({CommandLine(pid)}) is still there");
            await Task.Delay(20);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return Field(File.ReadAllText($"/proc/{pid}/status"), "State").StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<int> CountFramesAsync(DumpcapCapture capture, string displayFilter)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-n", "-r", capture.OutputPath, "-Y", displayFilter, "-T", "fields", "-e", "frame.number"]);
        Assert.True(r.ExitCode == 0, r.Describe());
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static string Field(string status, string name) =>
        status.Split('\n').Where(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Select(l => l[(name.Length + 1)..].Trim()).FirstOrDefault()
        ?? throw new Xunit.Sdk.XunitException($"no {name} in:\n{status}");

    private static int ParentOf(int pid) => int.Parse(Field(File.ReadAllText($"/proc/{pid}/status"), "PPid"), CultureInfo.InvariantCulture);

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Every live process below <paramref name="pid"/>.</summary>
    private static int[] Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (string d in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out int p))
            {
                try
                {
                    parents[p] = ParentOf(p);
                }
                catch (IOException)
                {
                }
            }
        }

        var found = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.TryDequeue(out int next))
        {
            foreach (int child in parents.Where(kv => kv.Value == next).Select(kv => kv.Key))
            {
                found.Add(child);
                queue.Enqueue(child);
            }
        }

        return [.. found];
    }

    private static (int Fd, string Target)[] Links(int pid) =>
        [.. Directory.GetFiles($"/proc/{pid}/fd").Select(f => (int.Parse(Path.GetFileName(f), CultureInfo.InvariantCulture), new FileInfo(f).LinkTarget ?? ""))];

    /// <summary>fdinfo's flags are octal; O_CLOEXEC is 02000000.</summary>
    private static bool IsCloseOnExec(int pid, int fd) =>
        (Convert.ToInt32(Field(File.ReadAllText($"/proc/{pid}/fdinfo/{fd}"), "flags"), 8) & 0x80000) != 0;
}
