using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// The topology of the DNS engine's security tests, built once per test class and joined to nothing but itself:
/// <list type="bullet">
/// <item>"host" runs <c>dnsw proxy</c> and <c>dnsw jail</c>: eth0 10.64.0.1/24 and fd00:64::1/64 towards "inet",
/// eth1 10.65.0.1/24 towards "far", and on its loopback the addresses a rebinding answer aims at (10.70.0.1,
/// the host's own 198.51.100.10, the metadata service's 169.254.169.254, fd00:70::1) with TCP listeners on port 8080
/// there and on loopback that log every connection;</item>
/// <item>"inet" plays the LAN and the internet: clients 10.64.0.2–.4 in the proxy's subnet, dnsmasq on 203.0.113.53
/// logging every query it receives (rebinding names, junk and tunnel names), a web server on 203.0.113.80, and a UDP
/// upstream on 203.0.113.99 that never answers names beginning with "flood";</item>
/// <item>"far" is a client outside the proxy's subnet (10.65.0.2).</item>
/// </list>
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SecurityNetFixture : TopologyFixture
{
    public const string HostV4 = "10.64.0.1";
    public const string HostV6 = "fd00:64::1";
    public const string ClientV4 = "10.64.0.2";
    public const string FlooderV4 = "10.64.0.3";
    public const string NeighbourV4 = "10.64.0.4";
    public const string FarV4 = "10.65.0.2";
    public const string DnsmasqV4 = "203.0.113.53";
    public const string WebV4 = "203.0.113.80";
    public const string BlackHoleV4 = "203.0.113.99";

    /// <summary>The addresses on the host's loopback, each with a listener on <see cref="TargetPort"/>.</summary>
    public const string PrivateTarget = "10.70.0.1";
    public const string OwnTarget = "198.51.100.10";
    public const string MetadataTarget = "169.254.169.254";
    public const string UlaTarget = "fd00:70::1";
    public const int TargetPort = 8080;

    /// <summary>A name every dnsmasq answers with a public address (the web server), for the positive cases.</summary>
    public const string WebName = "web.sec.test";

    /// <summary>"inet"'s own IPv6 address on the LAN, and a name dnsmasq answers with it.</summary>
    public const string InetV6 = "fd00:64::2";

    public const string Web6Name = "web6.sec.test";

    public string Host { get; private set; } = "";

    public string Inet { get; private set; } = "";

    public string Far { get; private set; } = "";

    /// <summary>The "inet" end of the host's eth0: captures there see the LAN clients and the upstream traffic.</summary>
    public string InetInterface { get; private set; } = "";

    public NetnsProcess Dnsmasq { get; private set; } = null!;

    public NetnsProcess Targets { get; private set; } = null!;

    public NetnsProcess BlackHole { get; private set; } = null!;

    /// <summary>Python scripts the tests run (fat queries, idle TCP connections), written into the run's temp directory.</summary>
    public string Scripts { get; private set; } = "";

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "setpriv", "dnsmasq", "dig", "dnsperf", "dumpcap", "tshark", "python3", "curl", "ss");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        Inet = await net.AddNamespaceAsync("inet");
        Far = await net.AddNamespaceAsync("far");
        VethPair lan = await net.AddVethAsync(Host, Inet, "eth0", "eth0");
        InetInterface = lan.InterfaceB;
        await net.AddVethAsync(Host, Far, "eth1", "eth0");
        await net.AddAddressAsync(Host, "eth0", HostV4 + "/24");
        await net.AddAddressAsync(Host, "eth0", HostV6 + "/64");
        await net.AddAddressAsync(Host, "eth1", "10.65.0.1/24");
        foreach (string a in new[] { ClientV4, FlooderV4, NeighbourV4 })
        {
            await net.AddAddressAsync(Inet, "eth0", a + "/24");
        }

        await net.AddAddressAsync(Inet, "eth0", InetV6 + "/64");
        foreach (string a in new[] { DnsmasqV4, WebV4, BlackHoleV4 })
        {
            await net.AddAddressAsync(Inet, "eth0", a + "/32");
        }

        await net.AddAddressAsync(Far, "eth0", FarV4 + "/24");
        await net.AddRouteAsync(Host, "default", via: ClientV4);
        await net.AddRouteAsync(Host, "default", via: "fd00:64::2");
        await net.AddRouteAsync(Far, "default", via: "10.65.0.1");

        // The targets of rebinding answers: addresses of the host itself, on its loopback interface (a packet for any
        // of the host's addresses is delivered whichever interface it came in on). 169.254.169.254 is not a test range,
        // but it lives only on this namespace's loopback, and the namespace is joined to nothing outside the test.
        foreach (string a in new[] { PrivateTarget + "/32", OwnTarget + "/32", UlaTarget + "/128" })
        {
            await net.AddAddressAsync(Host, "lo", a);
        }

        (await net.ExecAsync(Host, "ip", ["addr", "add", MetadataTarget + "/32", "dev", "lo"])).EnsureSuccess();
        await net.WaitForAddressesAsync(Host);
        await net.WaitForAddressesAsync(Inet);

        Scripts = net.TempPath("scripts");
        Directory.CreateDirectory(Scripts);
        foreach ((string name, string text) in SecurityScripts.All)
        {
            await File.WriteAllTextAsync(Path.Combine(Scripts, name), text);
        }

        string[] targets = [PrivateTarget, OwnTarget, MetadataTarget, UlaTarget, "127.0.0.1", "::1"];
        Targets = await net.StartServerAsync(Host, "targets", "python3", [Script("targets.py"), TargetPort.ToString(CultureInfo.InvariantCulture), .. targets],
            [.. targets.Select(a => Listener.Tcp(TargetPort, a))]);

        Dnsmasq = await net.StartServerAsync(Inet, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53", "--local-ttl=300",
            $"--listen-address={DnsmasqV4}", "--bind-interfaces", "--user=root", "--group=root", "--cache-size=0",
            "--pid-file=" + net.TempPath("dnsmasq.pid"), "--log-facility=-", "--log-queries", "--local=/test/",
            $"--host-record={WebName},{WebV4}",
            $"--host-record={Web6Name},{InetV6}",
            "--host-record=public.rebind.test," + WebV4,
            "--host-record=private.rebind.test," + PrivateTarget,
            "--host-record=own.rebind.test," + OwnTarget,
            "--host-record=meta.rebind.test," + MetadataTarget,
            "--host-record=ula.rebind.test," + UlaTarget,
            "--host-record=lo4.rebind.test,127.0.0.1",
            "--host-record=lo6.rebind.test,::1",
            "--cname=chain.rebind.test,private.rebind.test",
        ],
        [Listener.Udp(53, DnsmasqV4), Listener.Tcp(53, DnsmasqV4)]);

        await net.StartServerAsync(Inet, "web", "python3", [Script("targets.py"), TargetPort.ToString(CultureInfo.InvariantCulture), WebV4], [Listener.Tcp(TargetPort, WebV4)]);
        BlackHole = await net.StartServerAsync(Inet, "blackhole", "python3", ["-u", Script("blackhole.py"), BlackHoleV4], [Listener.Udp(53, BlackHoleV4)]);
    }

    public string Script(string name) => Path.Combine(Scripts, name);

    /// <summary>Lines of dnsmasq's own log recording a query for a name containing <paramref name="text"/>.</summary>
    public int QueriesSeen(string text) =>
        (Dnsmasq.StdOut + "\n" + Dnsmasq.StdErr).Split('\n').Count(l => l.Contains("query[", StringComparison.Ordinal) && l.Contains(text, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Returns once dnsmasq's log holds everything it was asked before now: a marker query is sent to it directly and
    /// its log line awaited (dnsmasq logs in the order it reads queries).
    /// </summary>
    public async Task WaitForDnsmasqLogAsync(string label)
    {
        string marker = $"logmark-{label}-{Guid.NewGuid():N}.test";
        await DigAsync(Inet, ClientV4, DnsmasqV4, 53, marker);
        await Dnsmasq.WaitForOutputAsync(marker, TimeSpan.FromMinutes(5));
    }

    /// <summary>Connections the host's target listeners accepted, as "local from peer" lines.</summary>
    public string[] Accepted() =>
        [.. Targets.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("accepted ", StringComparison.Ordinal))];

    /// <summary>Starts <c>dnsw proxy</c> in "host" with a configuration file and waits until it listens.</summary>
    public async Task<NetnsProcess> StartProxyAsync(string label, string configJson, int port, string address = HostV4, params string[] args)
    {
        string file = Net.TempPath($"proxy-{label}.json");
        await File.WriteAllTextAsync(file, configJson);
        NetnsProcess p = Net.StartProcess(Host, "dnsw-proxy-" + label, DnswProgram.Program, [.. DnswProgram.Prefix, "proxy", "--config", file, .. args]);
        await Net.WaitForListenersAsync(Host, [Listener.Udp(port, address), Listener.Tcp(port, address)], TimeSpan.FromSeconds(20), p);
        return p;
    }

    /// <summary><c>dig</c> run in a namespace, from a chosen source address.</summary>
    public Task<CommandResult> DigAsync(string netns, string source, string server, int port, params string[] args) =>
        Net.ExecAsync(netns, "dig", ["-b", source, "@" + server, "-p", port.ToString(CultureInfo.InvariantCulture), "+time=2", "+tries=2", .. args], TimeSpan.FromSeconds(30));
}
