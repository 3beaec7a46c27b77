using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Leak;

/// <summary>The built leak topology (<see cref="LeakNet.BuildAsync"/>): route switches, checked client steps, per-phase captures.</summary>
public sealed partial class LeakTopology
{
    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromSeconds(15);
    private readonly NetnsProcess[] _servers;

    internal LeakTopology(
        TestNet net,
        string client,
        string isp,
        string vpn,
        NetnsProcess ispDns,
        NetnsProcess vpnDns,
        NetnsProcess kresd,
        NetnsProcess[] web)
    {
        Net = net;
        Client = client;
        Isp = isp;
        Vpn = vpn;
        _servers = [ispDns, vpnDns, kresd, .. web];
    }

    public TestNet Net { get; }

    public string Client { get; }

    public string Isp { get; }

    public string Vpn { get; }

    /// <summary>The interfaces every phase capture records, in this order.</summary>
    public static IReadOnlyList<string> CapturedInterfaces { get; } =
        [LeakNet.PhysicalInterface, LeakNet.TunnelInterface, LeakNet.LoopbackInterface];

    /// <summary>Full tunnel: both default routes and the resolver through <c>tun0</c>; no host route around it.</summary>
    public async Task UseTunnelAsync()
    {
        await Net.ReplaceRouteAsync(Client, "default", via: LeakNet.TunnelResolverV4, device: LeakNet.TunnelInterface);
        await Net.ReplaceRouteAsync(Client, "default", via: LeakNet.TunnelResolverV6, device: LeakNet.TunnelInterface);
        await Net.DeleteRouteAsync(Client, LeakNet.WebV4 + "/32");
        await Net.SetResolvConfAsync(Client, [LeakNet.TunnelResolverV4]);
    }

    /// <summary>No tunnel in use: defaults and the resolver through <c>eth0</c> (the tunnel stays up, its subnet connected).</summary>
    public async Task UsePhysicalAsync()
    {
        await Net.ReplaceRouteAsync(Client, "default", via: LeakNet.IspGatewayV4, device: LeakNet.PhysicalInterface);
        await Net.ReplaceRouteAsync(Client, "default", via: LeakNet.IspGatewayV6, device: LeakNet.PhysicalInterface);
        await Net.DeleteRouteAsync(Client, LeakNet.WebV4 + "/32");
        await Net.SetResolvConfAsync(Client, [LeakNet.IspResolverV4]);
    }

    /// <summary>A split route: the web host alone goes around the tunnel, out of <c>eth0</c>.</summary>
    public Task RouteWebAroundTunnelAsync() =>
        Net.ReplaceRouteAsync(Client, LeakNet.WebV4 + "/32", via: LeakNet.IspGatewayV4, device: LeakNet.PhysicalInterface);

    /// <summary>Which way the client would send a packet to <paramref name="address"/> (<c>ip route get</c>), for checks and messages.</summary>
    public async Task<string> RouteGetAsync(string address)
    {
        CommandResult r = await Net.ExecAsync(Client, "ip", ["route", "get", address]);
        return r.EnsureSuccess().StdOut.Trim();
    }

    /// <summary>
    /// Captures eth0, tun0 and lo of the client while the steps run (each checked), stops the capture and writes
    /// it to <paramref name="outputPcapng"/> in timestamp order (dumpcap's own file goes beside it, <c>.dumpcap.pcapng</c>).
    /// </summary>
    /// <param name="liveProfile">When set, <c>dnsw leak watch</c> also watches the phase live in the client namespace
    /// (eth0, tun0, lo; that profile; attribution on); its events file is <see cref="LeakPhaseCapture.LiveEventsPath"/>.</param>
    public async Task<LeakPhaseCapture> CaptureAsync(string phase, string outputPcapng, IReadOnlyList<LeakStep> steps, string? liveProfile = null)
    {
        DumpcapCapture capture = await Net.StartCaptureAsync(Client, CapturedInterfaces, Net.TempPath($"{phase}.pcapng"));
        string? liveEvents = liveProfile is null ? null : Path.ChangeExtension(outputPcapng, ".live.jsonl");
        NetnsProcess? watch = null;
        if (liveEvents is not null)
        {
            watch = Net.StartProcess(Client, "dnsw-live", DnswProgram.Program,
            [
                .. DnswProgram.Prefix, "leak", "watch",
                "--iface", LeakNet.PhysicalInterface, "--iface", LeakNet.TunnelInterface, "--iface", LeakNet.LoopbackInterface,
                "--duration", "0", "--format", "json", "--privacy", "full", "--profile", liveProfile!, "--out", liveEvents,
            ]);
            await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));
        }

        var done = new List<ScenarioStep>();
        foreach (LeakStep step in steps)
        {
            CommandResult result = await Net.ExecAsync(Client, step.Tool, step.Args, s_clientTimeout);
            string? problem = step.Check(result);
            if (problem is not null)
            {
                await capture.AbortAsync();
                throw new InvalidOperationException(
                    $"Phase '{phase}' step '{step.Name}' failed: {problem}\n{result.Describe()}\n\n{DescribeServers()}");
            }

            done.Add(new ScenarioStep(step.Name, step.Expectation, result));
        }

        // Once dumpcap holds the end markers, every packet of the phase reached the interfaces' capture buffers, the
        // live watch's too; on Ctrl-C the watch reads its buffers to the end before it stops.
        long packets = await capture.StopAsync();
        if (watch is not null)
        {
            // Ctrl-C: the watch must stop cleanly, with every event and the summary written.
            watch.Signal(ProcessSignal.Interrupt);
            Task stopped = await Task.WhenAny(watch.Exited, Task.Delay(TimeSpan.FromSeconds(20)));
            if (stopped != watch.Exited || watch.ExitCode is not (0 or 2))
            {
                throw new InvalidOperationException($"Phase '{phase}': the live watch did not stop cleanly on Ctrl-C\n{watch.Describe()}");
            }
        }

        // dumpcap writes each interface's packets a ring block at a time, so with several interfaces the file is
        // not in time order (a tun0 DNS answer can follow the eth0 connection that used it). The tests read the
        // time-ordered copy; the raw one is kept beside it.
        string raw = Path.ChangeExtension(outputPcapng, ".dumpcap.pcapng");
        File.Copy(capture.OutputPath, raw, overwrite: true);
        CommandResult sorted = await ProcessRunner.RunAsync("reordercap", [raw, outputPcapng], TimeSpan.FromSeconds(30));
        sorted.EnsureSuccess();
        return new LeakPhaseCapture(phase, outputPcapng, raw, packets, done) { LiveEventsPath = liveEvents };
    }

    private string DescribeServers() => string.Join("\n\n", _servers.Select(s => s.Describe()));

    /// <summary>A dig or kdig step that must get <paramref name="status"/> and an answer holding every <paramref name="mustContain"/>.</summary>
    public static LeakStep Dns(string name, string tool, string[] args, string status, params string[] mustContain)
    {
        string[] common = tool == "kdig" ? ["+time=3", "+retry=0"] : ["+time=3", "+tries=1"];
        string expectation = mustContain.Length == 0 ? status : $"{status} with {string.Join(", ", mustContain)}";
        return new LeakStep(name, tool, [.. args, .. common], expectation, r =>
        {
            if (!r.Succeeded)
            {
                return r.TimedOut ? "timed out" : $"exit {r.ExitCode}";
            }

            // dig prints "status: NOERROR," and kdig "status: NOERROR;".
            Match m = StatusRegex().Match(r.StdOut);
            if (!m.Success)
            {
                return "no status line in the output";
            }

            if (m.Groups[1].Value != status)
            {
                return $"status {m.Groups[1].Value}, expected {status}";
            }

            string[] missing = mustContain.Where(s => !r.StdOut.Contains(s, StringComparison.OrdinalIgnoreCase)).ToArray();
            return missing.Length == 0 ? null : $"answer lacks {string.Join(", ", missing)}";
        });
    }

    /// <summary>A dig batch (<c>-f</c>): every one of <paramref name="count"/> queries must come back NOERROR.</summary>
    public static LeakStep DigBatch(string name, string batchFile, int count) =>
        new(name, "dig", ["-f", batchFile], $"{count} answers, all NOERROR", r =>
        {
            if (!r.Succeeded)
            {
                return r.TimedOut ? "timed out" : $"exit {r.ExitCode}";
            }

            string[] statuses = StatusRegex().Matches(r.StdOut).Select(m => m.Groups[1].Value).ToArray();
            return statuses.Length != count ? $"{statuses.Length} answers, expected {count}"
                : statuses.Any(s => s != "NOERROR") ? "not every answer is NOERROR"
                : null;
        });

    /// <summary>A curl step that must exit 0 and print a body containing <paramref name="bodyMark"/> (or of <paramref name="bodyLength"/> bytes).</summary>
    public static LeakStep Curl(string name, string[] args, string bodyMark, int? bodyLength = null) =>
        new(name, "curl", ["--silent", "--show-error", "--max-time", "10", .. args], $"exit 0 with the page ({bodyMark})", r =>
        {
            if (!r.Succeeded)
            {
                return r.TimedOut ? "timed out" : $"curl exit {r.ExitCode} (6: no address, 7: refused, 35/60: TLS)";
            }

            if (!r.StdOut.Contains(bodyMark, StringComparison.Ordinal))
            {
                return "the page lacks " + bodyMark;
            }

            return bodyLength is int n && r.StdOut.Length != n ? $"page of {r.StdOut.Length} chars, expected {n}" : null;
        });

    /// <summary>Any command that must exit 0.</summary>
    public static LeakStep Run(string name, string tool, string[] args, string expectation) =>
        new(name, tool, args, expectation, r => r.Succeeded ? null : r.TimedOut ? "timed out" : $"exit {r.ExitCode}");

    [GeneratedRegex(@"status: ([A-Z]+)")]
    private static partial Regex StatusRegex();
}

/// <summary>One client command of a phase and how its outcome is judged (null: fine; else the problem).</summary>
public sealed record LeakStep(string Name, string Tool, string[] Args, string Expectation, Func<CommandResult, string?> Check);

/// <summary>One phase's capture (eth0, tun0 and lo of the client) and its steps.</summary>
/// <param name="Phase">The phase name (<see cref="LeakScenario.Phases"/>).</param>
/// <param name="PcapngPath">The capture in timestamp order: what the tests read.</param>
/// <param name="DumpcapPcapngPath">dumpcap's file as written, interfaces interleaved a block at a time.</param>
/// <param name="PacketsCaptured">dumpcap's own count.</param>
/// <param name="Steps">Every client command of the phase, with its output.</param>
public sealed record LeakPhaseCapture(string Phase, string PcapngPath, string DumpcapPcapngPath, long PacketsCaptured, IReadOnlyList<ScenarioStep> Steps)
{
    /// <summary>Events of the live watch that ran during the phase, when one did (JSON lines, summary last).</summary>
    public string? LiveEventsPath { get; init; }
}
