using System.Globalization;

namespace DnsWarden.E2E.Guard;

/// <summary>
/// "host" plays the machine dnsw runs on (eth0 to "inet", forwarding off as on a workstation), "client" the namespace
/// <c>dnsw tun</c> filters. Every exit path of <c>dnsw jail</c> and <c>dnsw tun</c> must leave host's sysctls
/// (every net.ipv4.* and net.ipv6.*), its nftables ruleset and dnsw's records as they were before.
/// </summary>
public sealed class HostStateFixture : TopologyFixture
{
    public string Host { get; private set; } = "";

    public string Client { get; private set; } = "";

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "setpriv", "sysctl")
        ?? (File.Exists("/dev/net/tun") ? null : "no /dev/net/tun in this kernel");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        string inet = await net.AddNamespaceAsync("inet");
        Client = await net.AddNamespaceAsync("client");
        await net.AddVethAsync(Host, inet, "eth0", "eth0");
        await net.AddAddressAsync(Host, "eth0", "10.61.0.1/24");
        await net.AddAddressAsync(Host, "eth0", "fd00:61::1/64");
        await net.AddAddressAsync(inet, "eth0", "10.61.0.2/24");
        await net.AddRouteAsync(Host, "default", via: "10.61.0.2");
    }
}

public sealed class HostStateTests(HostStateFixture fixture) : IClassFixture<HostStateFixture>
{
    private static readonly TimeSpan s_runTimeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string> JailExits => ["normal", "command-crash", "interrupt", "kill-then-cleanup", "kill-then-next-start", "kill-with-keeper-stuck-then-cleanup"];

    public static TheoryData<string> TunExits => ["terminate", "interrupt", "kill-then-cleanup", "kill-then-next-start", "kill-unreaped-then-cleanup"];

    [Theory]
    [MemberData(nameof(JailExits))]
    public async Task JailLeavesTheHostAsItFoundIt(string exit)
    {
        fixture.Check();
        HostState before = await SnapshotAsync();
        AssertUnchanged(before, await SnapshotAsync()); // the snapshot itself is stable

        int pid;
        switch (exit)
        {
            case "normal":
                pid = await RunJailToEndAsync("true", expectedStatus: 0);
                break;
            case "command-crash":
                pid = await RunJailToEndAsync("kill -SEGV $$", expectedStatus: 128 + 11);
                break;
            case "interrupt":
                {
                    (NetnsProcess jail, HostState during) = await StartJailAsync();
                    pid = jail.Pid;
                    AssertForwardingWasOn(before, during);
                    Assert.True(jail.Signal(ProcessSignal.Interrupt));
                    await jail.Exited.WaitAsync(s_runTimeout);
                    break;
                }

            default:
                {
                    (NetnsProcess jail, HostState during) = await StartJailAsync();
                    pid = jail.Pid;
                    AssertForwardingWasOn(before, during);
                    int? stuckKeeper = null;
                    if (exit == "kill-with-keeper-stuck-then-cleanup")
                    {
                        // The keeper takes the jail down once its run is gone; stopped, it never finishes, so
                        // --cleanup must not return while the keeper still holds the forwarding lease.
                        stuckKeeper = KeeperOf(pid);
                        Assert.True(ProcessRunner.Signal(stuckKeeper.Value, ProcessSignal.Stop));
                    }

                    try
                    {
                        if (stuckKeeper is null)
                        {
                            await jail.StopAsync(ProcessSignal.Kill); // the run and its keeper (one process group)
                        }
                        else
                        {
                            // The run alone; its output stays open in the keeper, so its end is read from /proc.
                            Assert.True(ProcessRunner.Signal(pid, ProcessSignal.Kill));
                            while (Runs(pid))
                            {
                                await Task.Yield();
                            }
                        }

                        Assert.NotEqual(before, await SnapshotAsync()); // a SIGKILL leaves state; what follows must undo it
                        if (exit != "kill-then-next-start")
                        {
                            CommandResult cleanup = (await DnswAsync(["jail", "--cleanup"])).EnsureSuccess();
                            if (stuckKeeper is int keeper)
                            {
                                Assert.False(Runs(keeper), "the stuck keeper still runs after --cleanup");
                                Assert.Contains($"dnsw-jail-{pid.ToString(CultureInfo.InvariantCulture)}", cleanup.StdOut + cleanup.StdErr, StringComparison.Ordinal);
                            }
                        }
                        else
                        {
                            await RunJailToEndAsync("true", expectedStatus: 0);
                        }
                    }
                    finally
                    {
                        // Never leave a stopped keeper behind a failed assertion.
                        if (stuckKeeper is int keeper && Runs(keeper))
                        {
                            _ = ProcessRunner.Signal(keeper, ProcessSignal.Continue);
                            long giveUp = Environment.TickCount64 + 10_000;
                            while (Runs(keeper) && Environment.TickCount64 < giveUp)
                            {
                                await Task.Yield();
                            }
                        }

                        await jail.StopAsync(ProcessSignal.Kill);
                    }

                    break;
                }
        }

        AssertUnchanged(before, await SnapshotAsync());
        Assert.False(File.Exists($"/run/netns/dnsw-jail-{pid.ToString(CultureInfo.InvariantCulture)}"), "the jail's namespace is left");
        Assert.False(File.Exists($"/run/dnsw/jail-{pid.ToString(CultureInfo.InvariantCulture)}.pid"), "the jail's owner file is left");
    }

    [Theory]
    [MemberData(nameof(TunExits))]
    public async Task TunLeavesTheHostAsItFoundIt(string exit)
    {
        fixture.Check();
        HostState before = await SnapshotAsync();
        string clientRulesBefore = (await fixture.Net.ExecAsync(fixture.Client, "ip", ["rule"])).EnsureSuccess().StdOut;

        if (exit == "kill-unreaped-then-cleanup")
        {
            await KillUnreapedTunAsync(before);
            AssertUnchanged(before, await SnapshotAsync());
            return;
        }

        NetnsProcess tun = await StartTunAsync();
        AssertForwardingWasOn(before, await SnapshotAsync());
        switch (exit)
        {
            case "terminate":
            case "interrupt":
                Assert.True(tun.Signal(exit == "terminate" ? ProcessSignal.Terminate : ProcessSignal.Interrupt));
                await tun.Exited.WaitAsync(s_runTimeout);
                Assert.Equal(0, tun.ExitCode);
                break;
            default:
                await tun.StopAsync(ProcessSignal.Kill);
                Assert.NotEqual(before, await SnapshotAsync());
                if (exit == "kill-then-cleanup")
                {
                    (await DnswAsync(["tun", "--netns", fixture.Client, "--cleanup"])).EnsureSuccess();
                }
                else
                {
                    NetnsProcess next = await StartTunAsync();
                    Assert.Contains("removed what a dead instance", next.StdErr, StringComparison.Ordinal);
                    Assert.True(next.Signal(ProcessSignal.Terminate));
                    await next.Exited.WaitAsync(s_runTimeout);
                }

                break;
        }

        AssertUnchanged(before, await SnapshotAsync());
        Assert.Equal(clientRulesBefore, (await fixture.Net.ExecAsync(fixture.Client, "ip", ["rule"])).EnsureSuccess().StdOut);
        Assert.False(File.Exists($"/run/dnsw/tun-{fixture.Client}.pid"), "the owner file is left");
    }

    [Fact]
    public async Task TwoJailsShareTheForwardingAndTheLastOneRestoresIt()
    {
        fixture.Check();
        HostState before = await SnapshotAsync();
        (NetnsProcess first, HostState withOne) = await StartJailAsync();
        AssertForwardingWasOn(before, withOne);
        (NetnsProcess second, _) = await StartJailAsync();
        Assert.DoesNotContain("forwarding turned on", second.StdErr, StringComparison.Ordinal);

        // The first one ends: the second still needs forwarding, so it stays on.
        Assert.True(first.Signal(ProcessSignal.Interrupt));
        await first.Exited.WaitAsync(s_runTimeout);
        Assert.Equal("1", (await SnapshotAsync()).Sysctl("net.ipv4.conf.eth0.forwarding"));

        Assert.True(second.Signal(ProcessSignal.Interrupt));
        await second.Exited.WaitAsync(s_runTimeout);
        AssertUnchanged(before, await SnapshotAsync());
    }

    /// <summary>
    /// The lease record lost while a jail holds it (removed by hand here; by something that took the namespace for gone
    /// in the field): the jail must still restore what the lease opened, not leave forwarding on without its guard.
    /// </summary>
    [Fact]
    public async Task ALeaseRecordRemovedWhileAJailRunsIsRestoredFromWhatTheJailKnew()
    {
        fixture.Check();
        HostState before = await SnapshotAsync();
        (NetnsProcess jail, HostState during) = await StartJailAsync();
        AssertForwardingWasOn(before, during);
        string record = "/run/dnsw/forwarding-" + await HostNamespaceIdAsync();
        Assert.True(File.Exists(record), record + " is not there while the jail runs");
        File.Delete(record);

        Assert.True(jail.Signal(ProcessSignal.Interrupt));
        await jail.Exited.WaitAsync(s_runTimeout);
        Assert.Contains("was removed while held", jail.StdErr, StringComparison.Ordinal);
        AssertUnchanged(before, await SnapshotAsync());
    }

    /// <summary>
    /// A parent that never reaps (python keeps the Popen and sleeps until it is stopped): after SIGKILL the filter is a
    /// zombie whose /proc entry remains. --cleanup must take it for dead.
    /// </summary>
    private async Task KillUnreapedTunAsync(HostState before)
    {
        string dnsw = DnswProgram.Program;
        string argv = string.Join(", ", new[] { dnsw }.Concat(DnswProgram.Prefix).Concat(["tun", "--netns", fixture.Client, "--upstream", "udp://10.61.0.2"]).Select(a => "'" + a + "'"));
        // signal.pause, not a read of stdin: the test's stdin is closed, and a parent that exits at once hands the
        // filter to init, which reaps it (and the wait for its "ready:" fails).
        NetnsProcess parent = fixture.Net.StartProcess(fixture.Host, "unreaping-parent", "python3",
            ["-c", $"import signal,subprocess\np=subprocess.Popen([{argv}])\nprint('child', p.pid, flush=True)\nsignal.pause()"]);
        await parent.WaitForOutputAsync("child ", s_runTimeout);
        int pid = int.Parse(parent.StdOut.Split('\n').First(l => l.StartsWith("child ", StringComparison.Ordinal))["child ".Length..], CultureInfo.InvariantCulture);
        try
        {
            await parent.WaitForOutputAsync("ready:", s_runTimeout);
        }
        catch
        {
            // Never leave the filter running for the next case to trip over.
            ProcessRunner.Signal(pid, ProcessSignal.Interrupt);
            throw;
        }

        AssertForwardingWasOn(before, await SnapshotAsync());

        Assert.True(ProcessRunner.Signal(pid, ProcessSignal.Kill));
        string stat = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        while (!(await File.ReadAllTextAsync(stat)).Contains(") Z ", StringComparison.Ordinal))
        {
            await Task.Yield();
        }

        CommandResult cleanup = await DnswAsync(["tun", "--netns", fixture.Client, "--cleanup"]);
        Assert.True(File.Exists(stat), "the owner must still be an unreaped zombie when --cleanup runs");
        cleanup.EnsureSuccess();
        await parent.StopAsync();
    }

    /// <summary>Equal snapshots; otherwise a failure that names what differs (the sysctl lines, not all of them).</summary>
    private static void AssertUnchanged(HostState before, HostState after)
    {
        if (before == after)
        {
            return;
        }

        string[] was = before.Sysctls.Split('\n');
        string[] now = after.Sysctls.Split('\n');
        IEnumerable<string> changed = was.Except(now, StringComparer.Ordinal).Select(l => "-" + l).Concat(now.Except(was, StringComparer.Ordinal).Select(l => "+" + l));
        Assert.Fail("the host changed: sysctls [" + string.Join("; ", changed.Take(30)) + "]"
            + (before.Ruleset == after.Ruleset ? "" : "; ruleset was [" + before.Ruleset + "] is [" + after.Ruleset + "]")
            + (before.LeaseRecord == after.LeaseRecord ? "" : $"; lease record {before.LeaseRecord} -> {after.LeaseRecord}"));
    }

    /// <summary>Whether <paramref name="pid"/> is a process that has not exited (a zombie has).</summary>
    private static bool Runs(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The pid of jail <paramref name="jailPid"/>'s keeper, from its record ("PID START NETNS").</summary>
    private static int KeeperOf(int jailPid) =>
        int.Parse(File.ReadAllText($"/run/dnsw/jail-{jailPid.ToString(CultureInfo.InvariantCulture)}.keeper").Split(' ')[0], CultureInfo.InvariantCulture);

    private static void AssertForwardingWasOn(HostState before, HostState during)
    {
        // The proof that the comparison can fail: while a jail or filter runs, eth0 forwards (only for it).
        Assert.Equal("0", before.Sysctl("net.ipv4.conf.eth0.forwarding"));
        Assert.Equal("1", during.Sysctl("net.ipv4.conf.eth0.forwarding"));
        Assert.Equal("1", during.Sysctl("net.ipv6.conf.eth0.force_forwarding"));
        Assert.Equal("0", during.Sysctl("net.ipv4.ip_forward"));
        Assert.Equal("0", during.Sysctl("net.ipv6.conf.all.forwarding"));
        Assert.Equal("1", during.Sysctl("net.ipv6.conf.eth0.accept_ra"));
        Assert.Contains("table inet dnsw_forward", during.Ruleset, StringComparison.Ordinal);
    }

    private async Task<int> RunJailToEndAsync(string script, int expectedStatus)
    {
        NetnsProcess jail = fixture.Net.StartProcess(fixture.Host, "dnsw-jail", DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--", "sh", "-c", script]);
        await jail.Exited.WaitAsync(s_runTimeout);
        Assert.True(jail.ExitCode == expectedStatus, jail.Describe());
        return jail.Pid;
    }

    /// <summary>A jail whose command said it runs (so the jail is fully set up), and the host's state at that point.</summary>
    private async Task<(NetnsProcess Jail, HostState During)> StartJailAsync()
    {
        NetnsProcess jail = fixture.Net.StartProcess(fixture.Host, "dnsw-jail", DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--", "sh", "-c", "echo jailed-command-runs; exec sleep 60"]);
        await jail.WaitForOutputAsync("jailed-command-runs", s_runTimeout);
        return (jail, await SnapshotAsync());
    }

    private async Task<NetnsProcess> StartTunAsync()
    {
        NetnsProcess tun = fixture.Net.StartProcess(fixture.Host, "dnsw-tun", DnswProgram.Program,
            [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, "--upstream", "udp://10.61.0.2"]);
        await tun.WaitForOutputAsync("ready:", s_runTimeout);
        return tun;
    }

    private Task<CommandResult> DnswAsync(string[] args) =>
        fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, .. args], s_runTimeout);

    private async Task<HostState> SnapshotAsync()
    {
        CommandResult sysctls = await fixture.Net.ExecAsync(fixture.Host, "sysctl", ["-a", "-r", @"^net\.ipv[46]\."]);
        CommandResult ruleset = (await fixture.Net.ExecAsync(fixture.Host, "nft", ["list", "ruleset"])).EnsureSuccess();
        bool lease = File.Exists("/run/dnsw/forwarding-" + await HostNamespaceIdAsync());
        return new HostState(
            string.Join('\n', sysctls.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)),
            ruleset.StdOut,
            lease);
    }

    /// <summary>The inode number of host's network namespace, which names its lease record.</summary>
    private async Task<string> HostNamespaceIdAsync() =>
        (await fixture.Net.ExecAsync(fixture.Host, "stat", ["-L", "-c", "%i", "/proc/self/ns/net"])).EnsureSuccess().StdOut.Trim();

    /// <summary>What a dnsw command could change in the namespace it runs in: sysctls, nftables, the forwarding lease record.</summary>
    private sealed record HostState(string Sysctls, string Ruleset, bool LeaseRecord)
    {
        public string? Sysctl(string key) =>
            Sysctls.Split('\n').Select(l => l.Split(" = ", 2)).FirstOrDefault(p => p[0] == key) is { Length: 2 } p ? p[1] : null;
    }
}
