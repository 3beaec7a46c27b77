using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// Getting round <c>dnsw tun</c> in firewall mode (issue 14, items 2, 6 and 15), each attack made from the namespace
/// behind the filter — by an unprivileged program (uid 65534) unless it needs CAP_NET_RAW — and judged at the far side:
/// the listeners' logs in "host" and "inet" and captures proven complete by their markers. Each test has a positive
/// control that the same listener gets what the policy allows, sent after the attack on the same path, so its arrival
/// also proves the attack was decided.
/// </summary>
[SupportedOSPlatform("linux")]
[Collection("tun")]
public sealed class TunBypassTests(TunBypassNetFixture fixture) : IClassFixture<TunBypassNetFixture>
{
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_arrival = TimeSpan.FromSeconds(30);

    /// <summary>Debian's interpreter: an unprivileged user cannot reach one installed under root's home.</summary>
    private const string Python = "/usr/bin/python3";

    private static readonly string[] s_nobody = ["--reuid", "65534", "--regid", "65534", "--clear-groups"];

    /// <summary>What a container runtime grants by default beyond an ordinary user: CAP_NET_RAW alone.</summary>
    private static readonly string[] s_nobodyWithRaw = [.. s_nobody, "--inh-caps", "+net_raw", "--ambient-caps", "+net_raw"];

    private static string Port => TunBypassNetFixture.ListenPort.ToString(CultureInfo.InvariantCulture);

    private async Task<NetnsProcess> StartTunAsync()
    {
        NetnsProcess tun = fixture.Net.StartProcess(fixture.Host, "dnsw-tun", DnswProgram.Program,
            [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, "--upstream", "udp://" + TunBypassNetFixture.ResolverV4]);
        await tun.WaitForOutputAsync("dnsw tun: ready", s_ready);
        return tun;
    }

    private Task<CommandResult> DnswAsync(params string[] args) =>
        fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "tun", "--netns", fixture.Client, .. args]);

    /// <summary>Runs one of the fixture's scripts in the client namespace under <paramref name="credentials"/> (setpriv's options).</summary>
    private async Task<CommandResult> InClientAsync(string[] credentials, string script, params string[] args)
    {
        CommandResult r = await fixture.Net.ExecAsync(fixture.Client, "setpriv", [.. credentials, Python, fixture.Script(script), .. args], TimeSpan.FromSeconds(30));
        Assert.True(r.Succeeded, r.Describe());
        return r;
    }

    /// <summary>Resolves the web name through the virtual DNS, unprivileged, so its addresses are the allowed ones.</summary>
    private async Task ResolveWebAsync()
    {
        foreach (string type in new[] { "A", "AAAA" })
        {
            CommandResult r = await fixture.Net.ExecAsync(fixture.Client, "setpriv",
                [.. s_nobody, "dig", "+short", "+time=3", "+tries=2", "@" + TunBypassNetFixture.VirtualDnsV4, TunBypassNetFixture.WebName, type]);
            Assert.True(r.Succeeded && r.StdOut.Contains(type == "A" ? TunBypassNetFixture.WebV4 : TunBypassNetFixture.WebV6, StringComparison.Ordinal), r.Describe());
        }
    }

    private static async Task<int> CapturedAsync(string capture, string tag)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", $"frame contains \"{tag}\"", "-T", "fields", "-e", "frame.number"]);
        r.EnsureSuccess();
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static bool Got(NetnsProcess listener, string tag) => listener.StdOut.Contains($"got {tag} from", StringComparison.Ordinal);

    private static Task WaitGotAsync(NetnsProcess listener, string tag) => listener.WaitForOutputAsync($"got {tag} from", s_arrival);

    private async Task<string> RulesAsync()
    {
        CommandResult v4 = await fixture.Net.ExecAsync(fixture.Client, "ip", ["rule"]);
        CommandResult v6 = await fixture.Net.ExecAsync(fixture.Client, "ip", ["-6", "rule"]);
        return v4.StdOut + v6.StdOut;
    }

    private async Task<string> ClientTablesAsync() => (await fixture.Net.ExecAsync(fixture.Client, "nft", ["list", "tables"])).StdOut;

    /// <summary>The four listeners reachable through the client's eth0: the host's own addresses and two never resolved in "inet".</summary>
    private (string Name, string Address, NetnsProcess Listener)[] VethTargets() =>
    [
        ("v4host", TunBypassNetFixture.HostEth1V4, fixture.HostListener),
        ("v6host", TunBypassNetFixture.HostEth1V6, fixture.HostListener),
        ("v4inet", TunBypassNetFixture.OtherV4, fixture.InetListener),
        ("v6inet", TunBypassNetFixture.OtherV6, fixture.InetListener),
    ];

    /// <summary>One datagram to each veth target from a socket bound to eth0 (SO_BINDTODEVICE), unprivileged.</summary>
    private async Task<string> SendBoundToEth0Async(string phase)
    {
        string output = "";
        foreach ((string name, string address, _) in VethTargets())
        {
            output += (await InClientAsync(s_nobody, "send.py", $"tunsec-bind-{phase}-{name}", address, Port, "--dev", "eth0")).StdOut;
        }

        return output;
    }

    [Fact]
    public async Task SoBindToDeviceOnTheVethGetsNothingOutWhileTheFilterRunsNorAfterItIsKilledAndCleanupReopensIt()
    {
        fixture.Check();
        DumpcapCapture leftClient = await fixture.Net.StartCaptureAsync(fixture.Host, [fixture.HostClientInterface], fixture.Net.TempPath("bind-host.pcapng"));
        DumpcapCapture reachedInet = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], fixture.Net.TempPath("bind-inet.pcapng"));
        NetnsProcess tun = await StartTunAsync();
        string live, dead, clean, tablesDead, rulesDead, rulesClean, tablesClean;
        CommandResult cleanup;
        try
        {
            live = await SendBoundToEth0Async("live");
            await tun.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(10));
            dead = await SendBoundToEth0Async("dead");
            tablesDead = await ClientTablesAsync();
            rulesDead = await RulesAsync();
            cleanup = await DnswAsync("--cleanup");
            rulesClean = await RulesAsync();
            tablesClean = await ClientTablesAsync();

            // The positive control: the same sockets on the same listeners, now that the namespace has its own routes back.
            clean = await SendBoundToEth0Async("clean");
            foreach ((string name, _, NetnsProcess listener) in VethTargets())
            {
                await WaitGotAsync(listener, $"tunsec-bind-clean-{name}");
            }
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(10));
            await leftClient.StopAsync();
            await reachedInet.StopAsync();
        }

        string sends = $"live:\n{live}dead:\n{dead}clean:\n{clean}";
        foreach ((string name, _, NetnsProcess listener) in VethTargets())
        {
            foreach (string phase in new[] { "live", "dead" })
            {
                string tag = $"tunsec-bind-{phase}-{name}";
                Assert.False(Got(listener, tag), $"{tag} reached its listener:\n{listener.StdOut}\n{sends}");
                Assert.Equal(0, await CapturedAsync(leftClient.OutputPath, tag));
                Assert.Equal(0, await CapturedAsync(reachedInet.OutputPath, tag));
            }

            Assert.True(await CapturedAsync(leftClient.OutputPath, $"tunsec-bind-clean-{name}") > 0, sends);
        }

        // Killed, the filter left the backstop and the rule (fail closed); --cleanup took both and gave the main table back.
        Assert.Contains("dnsw_tun_backstop", tablesDead, StringComparison.Ordinal);
        Assert.Contains("lookup 100", rulesDead, StringComparison.Ordinal);
        Assert.True(cleanup.Succeeded, cleanup.Describe());
        Assert.DoesNotContain("lookup 100", rulesClean, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw_tun", tablesClean, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AScopedLinkLocalAddressReachesTheHostOnlyInDnsOnlyMode()
    {
        fixture.Check();
        DumpcapCapture leftClient = await fixture.Net.StartCaptureAsync(fixture.Host, [fixture.HostClientInterface], fixture.Net.TempPath("ll-host.pcapng"));
        NetnsProcess tun = await StartTunAsync();
        string[] tags = ["tunsec-ll-firewall", "tunsec-ll-dnsonly", "tunsec-ll-again"];
        string sends = "";
        try
        {
            // No socket option at all: the scope id of fe80::…%eth0 picks the interface.
            sends += (await InClientAsync(s_nobody, "send.py", tags[0], fixture.HostLinkLocal, Port, "--scope", "eth0")).StdOut;
            (await DnswAsync("--set-mode", "dns-only")).EnsureSuccess();
            sends += (await InClientAsync(s_nobody, "send.py", tags[1], fixture.HostLinkLocal, Port, "--scope", "eth0")).StdOut;
            await WaitGotAsync(fixture.HostListener, tags[1]);
            (await DnswAsync("--set-mode", "firewall")).EnsureSuccess();
            sends += (await InClientAsync(s_nobody, "send.py", tags[2], fixture.HostLinkLocal, Port, "--scope", "eth0")).StdOut;

            // Sent after the last attack by the same way out, so its arrival means the attack's packet was decided.
            (await DnswAsync("--set-mode", "dns-only")).EnsureSuccess();
            sends += (await InClientAsync(s_nobody, "send.py", "tunsec-ll-last", fixture.HostLinkLocal, Port, "--scope", "eth0")).StdOut;
            await WaitGotAsync(fixture.HostListener, "tunsec-ll-last");
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
            await leftClient.StopAsync();
        }

        foreach (string tag in new[] { tags[0], tags[2] })
        {
            Assert.False(Got(fixture.HostListener, tag), $"{tag} reached the host:\n{fixture.HostListener.StdOut}\n{sends}");
            Assert.Equal(0, await CapturedAsync(leftClient.OutputPath, tag));
        }

        Assert.True(await CapturedAsync(leftClient.OutputPath, tags[1]) > 0, sends);
    }

    [Fact]
    public async Task ARoutingHeaderThroughAnAllowedFirstHopNeverReachesItsFinalHop()
    {
        fixture.Check();
        DumpcapCapture reachedInet = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], fixture.Net.TempPath("rh-inet.pcapng"));
        NetnsProcess tun = await StartTunAsync();
        string sends = "";
        try
        {
            await ResolveWebAsync();

            // IPv6 segment routing (type 4, no privilege needed) and IPv4 loose source routing (the kernel asks for
            // CAP_NET_RAW): first hop the resolved web server, final hop an address never resolved.
            sends += (await InClientAsync(s_nobody, "send.py", "tunsec-rh-srh", TunBypassNetFixture.OtherV6, Port, "--rthdr", TunBypassNetFixture.WebV6)).StdOut;
            sends += (await InClientAsync(s_nobodyWithRaw, "send.py", "tunsec-rh-lsrr", TunBypassNetFixture.OtherV4, Port, "--lsrr", TunBypassNetFixture.WebV4)).StdOut;

            // The control: the same first hops, plainly, reach the same listener.
            sends += (await InClientAsync(s_nobody, "send.py", "tunsec-rh-plain6", TunBypassNetFixture.WebV6, Port)).StdOut;
            sends += (await InClientAsync(s_nobody, "send.py", "tunsec-rh-plain4", TunBypassNetFixture.WebV4, Port)).StdOut;
            await WaitGotAsync(fixture.InetListener, "tunsec-rh-plain6");
            await WaitGotAsync(fixture.InetListener, "tunsec-rh-plain4");
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
            await reachedInet.StopAsync();
        }

        Assert.Contains("sent tunsec-rh-srh", sends, StringComparison.Ordinal);
        Assert.Contains("sent tunsec-rh-lsrr", sends, StringComparison.Ordinal);
        foreach (string tag in new[] { "tunsec-rh-srh", "tunsec-rh-lsrr" })
        {
            Assert.False(Got(fixture.InetListener, tag), $"{tag} reached its final hop:\n{fixture.InetListener.StdOut}");
            Assert.Equal(0, await CapturedAsync(reachedInet.OutputPath, tag));
        }

        Assert.Matches(@"source-routed [2-9]", tun.StdErr);
    }

    [Fact]
    public async Task AnIcmpErrorQuotingALiveFlowLeavesOnlyTowardThatFlowsPeer()
    {
        fixture.Check();
        NetnsProcess icmpLog = fixture.Net.StartProcess(fixture.Inet, "icmplog-inet", "python3", ["-u", fixture.Script("icmplog.py")]);
        await icmpLog.WaitForOutputAsync("ready", s_ready);
        DumpcapCapture reachedInet = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], fixture.Net.TempPath("icmp-inet.pcapng"));
        NetnsProcess tun = await StartTunAsync();
        string sends = "";
        try
        {
            await ResolveWebAsync();

            // A live UDP flow 10.30.30.2:5555 → web:7000, then port unreachables "about" a datagram of it.
            sends += (await InClientAsync(s_nobody, "send.py", "tunsec-icmp-flow", TunBypassNetFixture.WebV4, Port, "--from", "5555")).StdOut;
            await WaitGotAsync(fixture.InetListener, "tunsec-icmp-flow");
            string[] quote = [TunBypassNetFixture.WebV4, Port, TunBypassNetFixture.InsideV4, "5555"];
            sends += (await InClientAsync(s_nobodyWithRaw, "icmperror.py", [.. quote, TunBypassNetFixture.OtherV4, "tunsec-icmp-third"])).StdOut;
            sends += (await InClientAsync(s_nobodyWithRaw, "icmperror.py", [.. quote, TunBypassNetFixture.WebV4, "tunsec-icmp-peer"])).StdOut;
            await icmpLog.WaitForOutputAsync("tag=tunsec-icmp-peer", s_arrival);
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
            await reachedInet.StopAsync();
            await icmpLog.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(5));
        }

        Assert.Contains("sent tunsec-icmp-third", sends, StringComparison.Ordinal);
        Assert.DoesNotContain("tag=tunsec-icmp-third", icmpLog.StdOut, StringComparison.Ordinal);
        Assert.Equal(0, await CapturedAsync(reachedInet.OutputPath, "tunsec-icmp-third"));
        Assert.True(await CapturedAsync(reachedInet.OutputPath, "tunsec-icmp-peer") > 0, sends);
    }

    [Fact]
    public async Task AForgedSourceInsideTheVirtualSubnetGetsNothingIntoTheNamespace()
    {
        fixture.Check();
        NetnsProcess icmpLog = fixture.Net.StartProcess(fixture.Client, "icmplog-client", "python3", ["-u", fixture.Script("icmplog.py")]);
        await icmpLog.WaitForOutputAsync("ready", s_ready);
        NetnsProcess tun = await StartTunAsync();
        CommandResult forged;
        try
        {
            await ResolveWebAsync();

            // From "inet", routed to the host: an ICMP error from 10.30.30.77 (no flow to it; conntrack leaves such an
            // error's source as it is, so it reaches the filter with the subnet's source).
            forged = (await fixture.Net.ExecAsync(fixture.Inet, "python3",
                [fixture.Script("icmperror.py"), TunBypassNetFixture.InsideV4, "5556", TunBypassNetFixture.ForgedV4, Port, TunBypassNetFixture.InsideV4, "tunsec-forged", "--from", TunBypassNetFixture.ForgedV4])).EnsureSuccess();

            // The control, by the same way in after it: a datagram to a closed port of the resolved server brings its
            // kernel's port unreachable back through the filter as an error about a live flow.
            await InClientAsync(s_nobody, "send.py", "tunsec-closed-port", TunBypassNetFixture.WebV4, "7001");
            await icmpLog.WaitForOutputAsync("tag=tunsec-closed-port", s_arrival);
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
            await icmpLog.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(5));
        }

        Assert.Contains("sent tunsec-forged", forged.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("tag=tunsec-forged", icmpLog.StdOut, StringComparison.Ordinal);
        Assert.Contains($"from {TunBypassNetFixture.WebV4} tag=tunsec-closed-port", icmpLog.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APacketSocketOnTheVethGetsNothingOutWhileTheFilterRunsNorAfterItIsKilled()
    {
        fixture.Check();
        DumpcapCapture leftClient = await fixture.Net.StartCaptureAsync(fixture.Host, [fixture.HostClientInterface], fixture.Net.TempPath("frame-host.pcapng"));
        DumpcapCapture reachedInet = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], fixture.Net.TempPath("frame-inet.pcapng"));
        NetnsProcess tun = await StartTunAsync();
        string sends = "";
        string[] frame = ["eth0", fixture.HostClientMac, "10.75.0.2", TunBypassNetFixture.OtherV4, Port];
        string[] attacks = ["tunsec-frame-live", "tunsec-frame-live-bypass", "tunsec-frame-dead"];
        try
        {
            // CAP_NET_RAW only, as a container gets it: whole frames written below IP, through the queueing discipline and past it.
            sends += (await InClientAsync(s_nobodyWithRaw, "frame.py", [.. frame, attacks[0]])).StdOut;
            sends += (await InClientAsync(s_nobodyWithRaw, "frame.py", [.. frame, attacks[1], "bypass"])).StdOut;
            await tun.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(10));
            sends += (await InClientAsync(s_nobodyWithRaw, "frame.py", [.. frame, attacks[2]])).StdOut;
            (await DnswAsync("--cleanup")).EnsureSuccess();

            // The control: the same frame once the namespace is cleaned up reaches the same listener.
            sends += (await InClientAsync(s_nobodyWithRaw, "frame.py", [.. frame, "tunsec-frame-clean"])).StdOut;
            await WaitGotAsync(fixture.InetListener, "tunsec-frame-clean");
        }
        finally
        {
            await tun.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(10));
            await leftClient.StopAsync();
            await reachedInet.StopAsync();
        }

        foreach (string tag in attacks)
        {
            Assert.False(Got(fixture.InetListener, tag), $"{tag} reached its listener:\n{fixture.InetListener.StdOut}\n{sends}");
            Assert.Equal(0, await CapturedAsync(leftClient.OutputPath, tag));
            Assert.Equal(0, await CapturedAsync(reachedInet.OutputPath, tag));
        }

        Assert.True(await CapturedAsync(leftClient.OutputPath, "tunsec-frame-clean") > 0, sends);
    }
}
