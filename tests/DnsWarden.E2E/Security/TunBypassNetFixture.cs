using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// The topology of the TUN bypass tests, joined to nothing but itself:
/// <list type="bullet">
/// <item>"host" runs <c>dnsw tun --netns CLIENT</c>: eth0 10.74.0.1/24, fd00:74::1/64 towards "inet", eth1 10.75.0.1/24,
/// fd00:75::1/64 (and its link-local address) towards "client", forwarding on, IPv4 source routes accepted, and a UDP
/// listener on [::]:7000 logging every datagram;</item>
/// <item>"client" is the namespace behind the filter, and also joined to "host" by a plain veth (eth0, its main
/// table's default route): the second interface a program inside would use to get round the filter;</item>
/// <item>"inet" has dnsmasq on 203.0.113.53 (one name, <see cref="WebName"/>, for <see cref="WebV4"/> and
/// <see cref="WebV6"/>), the never-resolved <see cref="OtherV4"/> and <see cref="OtherV6"/>, a UDP listener on [::]:7000
/// logging every datagram, a route to the virtual subnet through "host" (for forged sources), and segment routing and
/// IPv4 source routes accepted, so a source-routed packet that got out would reach its final hop.</item>
/// </list>
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunBypassNetFixture : TopologyFixture
{
    public const string ResolverV4 = "203.0.113.53";
    public const string WebV4 = "203.0.113.80";
    public const string WebV6 = "2001:db8:80::80";
    public const string OtherV4 = "203.0.113.81";
    public const string OtherV6 = "2001:db8:80::81";
    public const string HostEth1V4 = "10.75.0.1";
    public const string HostEth1V6 = "fd00:75::1";
    public const string WebName = "web.tunsec.test";
    public const string VirtualDnsV4 = "10.30.30.30";
    public const string InsideV4 = "10.30.30.2";

    /// <summary>A forged source inside the virtual subnet that no one in the topology owns.</summary>
    public const string ForgedV4 = "10.30.30.77";
    public const int ListenPort = 7000;

    public string Host { get; private set; } = "";

    public string Client { get; private set; } = "";

    public string Inet { get; private set; } = "";

    /// <summary>The "inet" end of the host's eth0: every packet that reaches "inet" crosses it.</summary>
    public string InetInterface { get; private set; } = "";

    /// <summary>The host's end of the client's veth: every packet the client sends by its own interface crosses it.</summary>
    public string HostClientInterface { get; private set; } = "";

    /// <summary>The host's link-local address on <see cref="HostClientInterface"/> (fe80::…, reached as fe80::…%eth0 from the client).</summary>
    public string HostLinkLocal { get; private set; } = "";

    /// <summary>The MAC address of <see cref="HostClientInterface"/>, where a frame from the client's eth0 goes.</summary>
    public string HostClientMac { get; private set; } = "";

    public NetnsProcess HostListener { get; private set; } = null!;

    public NetnsProcess InetListener { get; private set; } = null!;

    public string Scripts { get; private set; } = "";

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "setpriv", "dnsmasq", "dig", "dumpcap", "tshark", "python3")
        ?? (File.Exists("/dev/net/tun") ? null : "no /dev/net/tun in this kernel");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        Client = await net.AddNamespaceAsync("client");
        Inet = await net.AddNamespaceAsync("inet");
        VethPair toInet = await net.AddVethAsync(Host, Inet, "eth0", "eth0");
        InetInterface = toInet.InterfaceB;
        VethPair toClient = await net.AddVethAsync(Host, Client, "eth1", "eth0");
        HostClientInterface = toClient.InterfaceA;
        await net.AddAddressAsync(Host, "eth0", "10.74.0.1/24");
        await net.AddAddressAsync(Host, "eth0", "fd00:74::1/64");
        await net.AddAddressAsync(Host, "eth1", HostEth1V4 + "/24");
        await net.AddAddressAsync(Host, "eth1", HostEth1V6 + "/64");
        await net.AddAddressAsync(Client, "eth0", "10.75.0.2/24");
        await net.AddAddressAsync(Client, "eth0", "fd00:75::2/64");
        await net.AddAddressAsync(Inet, "eth0", "10.74.0.2/24");
        await net.AddAddressAsync(Inet, "eth0", "fd00:74::2/64");
        foreach (string a in new[] { ResolverV4 + "/32", WebV4 + "/32", OtherV4 + "/32", WebV6 + "/128", OtherV6 + "/128" })
        {
            await net.AddAddressAsync(Inet, "eth0", a);
        }

        await net.AddRouteAsync(Host, "default", via: "10.74.0.2");
        await net.AddRouteAsync(Host, "default", via: "fd00:74::2");
        await net.AddRouteAsync(Client, "default", via: HostEth1V4);
        await net.AddRouteAsync(Client, "default", via: HostEth1V6);
        await net.AddRouteAsync(Inet, "10.75.0.0/24", via: "10.74.0.1");
        await net.AddRouteAsync(Inet, "fd00:75::/64", via: "fd00:74::1");
        await net.AddRouteAsync(Inet, "10.30.30.0/24", via: "10.74.0.1");
        await net.EnableForwardingAsync(Host);

        // What a careless path accepts: a source-routed packet that got past the filter would go on to its final hop
        // (the host's TUN is made later, so it takes the default).
        foreach (string key in new[] { "net.ipv6.conf.all.seg6_enabled", "net.ipv6.conf.eth0.seg6_enabled", "net.ipv4.conf.all.accept_source_route", "net.ipv4.conf.eth0.accept_source_route" })
        {
            await net.SetSysctlAsync(Inet, key, "1");
        }

        foreach (string key in new[] { "net.ipv4.conf.all.accept_source_route", "net.ipv4.conf.default.accept_source_route" })
        {
            await net.SetSysctlAsync(Host, key, "1");
        }

        await net.SetResolvConfAsync(Client, [VirtualDnsV4]);
        await net.WaitForAddressesAsync(Host);
        await net.WaitForAddressesAsync(Client);
        await net.WaitForAddressesAsync(Inet);
        CommandResult linkLocal = (await net.ExecAsync(Host, "ip", ["-6", "-o", "addr", "show", "dev", HostClientInterface, "scope", "link"])).EnsureSuccess();
        HostLinkLocal = linkLocal.StdOut.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "inet6").Skip(1).First().Split('/')[0];

        CommandResult link = (await net.ExecAsync(Host, "ip", ["-o", "link", "show", "dev", HostClientInterface])).EnsureSuccess();
        HostClientMac = link.StdOut.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "link/ether").Skip(1).First();

        Scripts = net.TempPath("scripts");
        Directory.CreateDirectory(Scripts);
        foreach ((string name, string text) in TunBypassScripts.All)
        {
            await File.WriteAllTextAsync(Path.Combine(Scripts, name), text);
        }

        string port = ListenPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        HostListener = await net.StartServerAsync(Host, "udplog-host", "python3", ["-u", Script("udplog.py"), port], [Listener.Udp(ListenPort)]);
        InetListener = await net.StartServerAsync(Inet, "udplog-inet", "python3", ["-u", Script("udplog.py"), port], [Listener.Udp(ListenPort)]);
        await net.StartServerAsync(Inet, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53", "--local-ttl=300",
            $"--listen-address={ResolverV4}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("dnsmasq.pid"), "--log-facility=-", "--local=/tunsec.test/",
            $"--host-record={WebName},{WebV4},{WebV6}",
        ],
        [Listener.Udp(53, ResolverV4), Listener.Tcp(53, ResolverV4)]);
    }

    public string Script(string name) => Path.Combine(Scripts, name);

    protected override async Task TearDownAsync()
    {
        if (Client.Length > 0)
        {
            await Net.ExecAsync(Host, DnswProgram.Program, [.. DnswProgram.Prefix, "tun", "--netns", Client, "--cleanup"]);
        }
    }
}
