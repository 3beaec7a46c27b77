using System.Globalization;
using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// A container host in three namespaces: a "container" with a veth (<c>eth0</c> inside, <c>veth1</c> on the host) into a
/// "host" whose bridge <c>br0</c> holds <c>veth1</c>, with forwarding and an nftables masquerade out of its own
/// <c>eth0</c> (a veth carrying the host's default route) to a "resolver" namespace running dnsmasq. A real <c>dig</c> in
/// the container crosses veth1, br0 and eth0, NATed on the way. <c>dnsw leak watch -i any</c> in the host must report it
/// once, with its path and the route class of each hop; <c>--exclude-iface</c> takes a hop out; a dumpcap pcapng of the
/// same interfaces gives the same event; <c>--filter</c> keeps only what it matches.
/// </summary>
public sealed class BridgePathTests
{
    private const string ContainerAddress = "10.77.1.2";
    private const string BridgeAddress = "10.77.1.1";
    private const string HostAddress = "10.77.2.1";
    private const string Resolver = "10.77.2.53";
    private const string Zone = "bridge.test";
    private const string Answer = "203.0.113.77";

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task LiveAny_OneDigBehindABridgeAndNat_IsOneEventWithItsPath()
    {
        await using TestNet net = await TestNet.CreateAsync();
        Topology t = await BuildAsync(net);

        List<JsonElement> events = await WatchLiveAsync(net, t, [], async () => await DigAsync(net, t.Container, "web1." + Zone));

        JsonElement e = Assert.Single(events);
        Assert.Equal("A", e.GetProperty("leak_type").GetString());
        Assert.Equal("P1", e.GetProperty("severity").GetString());
        Assert.Equal("eth0", e.GetProperty("iface").GetString());
        Assert.Equal("physical", e.GetProperty("route_class").GetString());
        Assert.Equal("web1." + Zone, e.GetProperty("qname").GetString());
        Assert.Equal(["veth1", "br0", "eth0"], Strings(e, "path"));
        Assert.Equal(["virtual", "virtual", "physical"], Strings(e, "path_route_classes"));

        // The exit hop is the NATed one: the host's address, not the container's.
        Assert.StartsWith(HostAddress + ":", EventFields.Src(e), StringComparison.Ordinal);
        Assert.Equal(Resolver + ":53", EventFields.Dst(e));

        // Each hop's class rests on the kernel's facts, not on its name.
        string evidence = string.Join('\n', Strings(e, "evidence"));
        Assert.Contains("veth1 (virtual) > br0 (virtual) > eth0 (physical)", evidence, StringComparison.Ordinal);
        Assert.Contains("carrying a route through a gateway", evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LiveAny_ExcludeIface_TakesTheHopOutOfThePath()
    {
        await using TestNet net = await TestNet.CreateAsync();
        Topology t = await BuildAsync(net);

        List<JsonElement> events = await WatchLiveAsync(net, t, ["--exclude-iface", "br*"], async () => await DigAsync(net, t.Container, "web2." + Zone));

        JsonElement e = Assert.Single(events);
        Assert.Equal(["veth1", "eth0"], Strings(e, "path"));
        Assert.Equal(["virtual", "physical"], Strings(e, "path_route_classes"));
        Assert.Equal("P1", e.GetProperty("severity").GetString());
    }

    [Fact]
    public async Task LiveAny_Filter_KeepsOnlyWhatItMatches()
    {
        await using TestNet net = await TestNet.CreateAsync();
        Topology t = await BuildAsync(net);

        List<JsonElement> events = await WatchLiveAsync(net, t, ["--filter", "udp port 53"], async () =>
        {
            await DigAsync(net, t.Container, "udp." + Zone);
            await DigAsync(net, t.Container, "tcp." + Zone, "+tcp");
        });

        JsonElement e = Assert.Single(events);
        Assert.Equal("udp." + Zone, e.GetProperty("qname").GetString());
        Assert.Equal("udp53", e.GetProperty("transport").GetString());
    }

    [Fact]
    public async Task Pcapng_OfTheSameInterfaces_GivesTheSameEvent_JudgedByNames()
    {
        await using TestNet net = await TestNet.CreateAsync();
        Topology t = await BuildAsync(net);
        DumpcapCapture capture = await net.StartCaptureAsync(t.Host, ["veth1", "br0", "eth0"], net.TempPath("bridge.pcapng"));
        await DigAsync(net, t.Container, "file." + Zone);
        await capture.StopAsync();

        LeakRun run = await LeakRun.WatchAsync(capture.OutputPath, ["--profile", "full-tunnel"]);
        run.AssertExit(LeakRun.ExitEvents);
        JsonElement e = Assert.Single(run.Events);
        Assert.Equal("eth0", e.GetProperty("iface").GetString());
        Assert.Equal("P1", e.GetProperty("severity").GetString());

        // The kernel stamps a forwarded packet once, so its copies on veth1 and br0 carry the same time, and a file
        // keeps no order between interfaces but that of dumpcap's buffers: the two inside hops come in either order,
        // the way out last.
        string[] path = Strings(e, "path");
        Assert.Equal(["br0", "eth0", "veth1"], path.Order(StringComparer.Ordinal));
        Assert.Equal("eth0", path[^1]);
        Assert.Equal(["virtual", "virtual", "physical"], Strings(e, "path_route_classes"));

        LeakRun excluded = await LeakRun.WatchAsync(capture.OutputPath, ["--profile", "full-tunnel", "--exclude-iface", "veth1"]);
        JsonElement x = Assert.Single(excluded.Events);
        Assert.Equal(["br0", "eth0"], Strings(x, "path"));

        // Without the uplink the query is seen only inside the host: on its way out, not yet the leak itself.
        LeakRun inside = await LeakRun.WatchAsync(capture.OutputPath, ["--profile", "full-tunnel", "--exclude-iface", "eth*"]);
        JsonElement v = Assert.Single(inside.Events);
        Assert.Equal("P3", v.GetProperty("severity").GetString());
        Assert.Equal("virtual", v.GetProperty("route_class").GetString());
        Assert.Equal(["br0", "veth1"], Strings(v, "path").Order(StringComparer.Ordinal));
        Assert.Contains(Strings(v, "evidence"), s => s.Contains("seen only on host-internal interfaces", StringComparison.Ordinal));
    }

    /// <summary>
    /// Runs <c>dnsw leak watch -i any</c> in the host namespace around <paramref name="scenario"/>, proven ready and
    /// complete by marker queries the host itself sends to the resolver (each is a Leak-A on eth0, written as soon as it
    /// is judged): the scenario starts once a start marker is out, the watch stops once an end marker is. Returns the
    /// events without the markers.
    /// </summary>
    private static async Task<List<JsonElement>> WatchLiveAsync(TestNet net, Topology t, IReadOnlyList<string> flags, Func<Task> scenario)
    {
        NetnsProcess watch = net.StartProcess(t.Host, "dnsw", DnswProgram.Program,
        [
            .. DnswProgram.Prefix, "leak", "watch", "--iface", "any", "--duration", "0", "--format", "json", "--privacy", "full",
            "--profile", "full-tunnel", "--no-bpf", .. flags,
        ]);
        await MarkAsync(net, t, watch, "start");
        await scenario();
        await MarkAsync(net, t, watch, "end");
        watch.Signal(ProcessSignal.Interrupt);
        Task stopped = await Task.WhenAny(watch.Exited, Task.Delay(s_timeout));
        Assert.True(stopped == watch.Exited && watch.ExitCode == 2, "the watch did not stop with events on Ctrl-C\n" + watch.Describe());

        // The exit event can come before the output readers have the last lines (the summary): let them drain.
        await watch.StopAsync();

        LeakRun run = LeakRun.FromResult(new CommandResult(watch.CommandLine, watch.ExitCode ?? -1, watch.StdOut, watch.StdErr, false, TimeSpan.Zero));
        _ = run.Summary;
        return [.. run.Events.Where(e => e.GetProperty("qname").GetString()?.EndsWith(".marker." + Zone, StringComparison.Ordinal) != true)];
    }

    /// <summary>Sends marker queries from the host until the watch has written one (a capture not yet running misses the first).</summary>
    private static async Task MarkAsync(TestNet net, Topology t, NetnsProcess watch, string what)
    {
        DateTime deadline = DateTime.UtcNow + s_timeout;
        for (int i = 0; ; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"{what}{i}.marker.{Zone}");
            await DigAsync(net, t.Host, name);
            try
            {
                await watch.WaitForOutputAsync(name, TimeSpan.FromMilliseconds(500));
                return;
            }
            catch (InvalidOperationException) when (!watch.HasExited && DateTime.UtcNow < deadline)
            {
                // not captured yet: the next marker
            }
        }
    }

    private static async Task DigAsync(TestNet net, string netns, string name, params string[] flags)
    {
        CommandResult dig = await net.ExecAsync(netns, "dig", ["@" + Resolver, "+time=3", "+tries=1", .. flags, name, "A"], s_timeout);
        Assert.True(dig.ExitCode == 0 && dig.StdOut.Contains(Answer, StringComparison.Ordinal), dig.Describe());
    }

    private static string[] Strings(JsonElement e, string property) =>
        e.GetProperty(property).ValueKind == JsonValueKind.Array ? [.. e.GetProperty(property).EnumerateArray().Select(x => x.GetString()!)] : [];

    private sealed record Topology(string Container, string Host, string ResolverNs);

    private static async Task<Topology> BuildAsync(TestNet net)
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig", "nft", "dumpcap");
        string container = await net.AddNamespaceAsync("ctr");
        string host = await net.AddNamespaceAsync("host");
        string resolver = await net.AddNamespaceAsync("res");
        await net.AddVethAsync(container, host, "eth0", "veth1");
        await net.AddVethAsync(host, resolver, "eth0", "eth0");

        // The bridge lives and dies with the host namespace; forward_delay 0: no STP wait before it forwards.
        (await net.ExecAsync(host, "ip", ["link", "add", "br0", "type", "bridge", "forward_delay", "0"])).EnsureSuccess();
        (await net.ExecAsync(host, "ip", ["link", "set", "veth1", "master", "br0"])).EnsureSuccess();
        (await net.ExecAsync(host, "ip", ["link", "set", "br0", "up"])).EnsureSuccess();
        await net.AddAddressAsync(container, "eth0", ContainerAddress + "/24");
        await net.AddAddressAsync(host, "br0", BridgeAddress + "/24");
        await net.AddAddressAsync(host, "eth0", HostAddress + "/24");
        await net.AddAddressAsync(resolver, "eth0", Resolver + "/24");
        await net.AddRouteAsync(container, "default", via: BridgeAddress);
        await net.AddRouteAsync(host, "default", via: Resolver);
        await net.EnableForwardingAsync(host);
        (await net.ExecAsync(host, "nft",
            ["add table ip dnswnat; add chain ip dnswnat post { type nat hook postrouting priority srcnat; }; add rule ip dnswnat post oifname \"eth0\" masquerade"]))
            .EnsureSuccess();
        await net.StartServerAsync(resolver, "dnsmasq", "dnsmasq",
            ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=" + Resolver, "--bind-interfaces",
             "--user=root", "--group=root", "--pid-file=" + net.TempPath("dnsmasq.pid"), "--log-facility=-", $"--address=/{Zone}/{Answer}"],
            [Listener.Udp(53, Resolver), Listener.Tcp(53, Resolver)]);
        return new Topology(container, host, resolver);
    }
}
