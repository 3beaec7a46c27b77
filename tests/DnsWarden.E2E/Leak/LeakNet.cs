using System.Globalization;
using System.Text;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// The leak topology: a <c>client</c> namespace with a physical-like <c>eth0</c> to an <c>isp</c> namespace and a
/// tunnel-like <c>tun0</c> to a <c>vpn</c> namespace, which reaches the isp over a third veth. The isp plays the
/// internet too: its dnsmasq is the ISP resolver, its knot-resolver the "public" DoT/DoH service and its
/// <c>openssl s_server</c> the web. The vpn runs the tunnel resolver. Nothing is joined to the root namespace;
/// <see cref="TestNet"/> tears it all down.
/// </summary>
public static class LeakNet
{
    public const string Zone = "leak.test";

    public const string PhysicalInterface = "eth0";
    public const string TunnelInterface = "tun0";
    public const string LoopbackInterface = "lo";

    // client <-> isp ("eth0").
    public const string ClientPhysicalV4 = "198.51.100.2";
    public const string IspGatewayV4 = "198.51.100.1";
    public const string ClientPhysicalV6 = "2001:db8:100::2";
    public const string IspGatewayV6 = "2001:db8:100::1";

    // client <-> vpn ("tun0").
    public const string ClientTunnelV4 = "10.8.0.2";
    public const string ClientTunnelV6 = "fd00:8::2";

    // vpn <-> isp: the tunnel's own way out.
    public const string VpnUplinkV4 = "10.9.0.1";
    public const string IspUplinkV4 = "10.9.0.2";
    public const string VpnUplinkV6 = "fd00:9::1";
    public const string IspUplinkV6 = "fd00:9::2";

    public const string IspResolverV4 = "198.51.100.53";
    public const string IspResolverV6 = "2001:db8:53::53";
    public const string TunnelResolverV4 = "10.8.0.1";
    public const string TunnelResolverV6 = "fd00:8::1";
    public const string PublicResolverV4 = "203.0.113.53";
    public const string WebV4 = "203.0.113.80";
    public const string WebV6 = "2001:db8:80::80";

    public const int DotPort = 853;
    public const int DohPort = 443;
    public const int WebPort = 443;

    public const string WebName = "www.leak.test";
    public const string BlockedName = "blocked.leak.test";
    public const string BlockedV4 = "203.0.113.81";
    public const string DirectName = "direct.leak.test";
    public const string DirectV4 = "203.0.113.82";

    /// <summary>Every name under this answers (dnsmasq <c>--address</c> is a wildcard), for the exfiltration burst.</summary>
    public const string ExfilParent = "x.exfil.leak.test";
    public const string ExfilV4 = "203.0.113.99";

    /// <summary>Names the single-query steps ask for; each has an A and an AAAA so every step expects NOERROR with data.</summary>
    public static readonly IReadOnlyList<string> QueryNames = ["a1.leak.test", "a2.leak.test", "a3.leak.test", "c1.leak.test", "c2.leak.test"];
    public const string QueryV4 = "203.0.113.90";
    public const string QueryV6 = "2001:db8:90::90";

    /// <summary>The web server's pages: <c>/small</c> and a 30 KB <c>/big</c>.</summary>
    public const string SmallPage = "small";
    public const string BigPage = "big";
    public const int BigPageBytes = 30 * 1024;
    public const string SmallPageText = "small page of www.leak.test";

    public static readonly IReadOnlyList<string> RequiredTools =
        ["ip", "ss", "setsid", "dnsmasq", "kresd", "dig", "kdig", "curl", "dumpcap", "reordercap", "openssl", "bash"];

    /// <summary>Why the topology cannot be built here, or null.</summary>
    public static string? SkipReason() => HostTools.NotRootReason() ?? HostTools.MissingToolsReason([.. RequiredTools]);

    /// <summary>Builds the three namespaces, their links and servers; routes start in tunnel mode.</summary>
    public static async Task<LeakTopology> BuildAsync(TestNet net)
    {
        string client = await net.AddNamespaceAsync("client");
        string isp = await net.AddNamespaceAsync("isp");
        string vpn = await net.AddNamespaceAsync("vpn");

        VethPair physical = await net.AddVethAsync(isp, client, interfaceB: PhysicalInterface);
        VethPair tunnel = await net.AddVethAsync(vpn, client, interfaceB: TunnelInterface);
        VethPair uplink = await net.AddVethAsync(vpn, isp);

        await net.AddAddressAsync(client, PhysicalInterface, ClientPhysicalV4 + "/24");
        await net.AddAddressAsync(client, PhysicalInterface, ClientPhysicalV6 + "/64");
        await net.AddAddressAsync(isp, physical.InterfaceA, IspGatewayV4 + "/24");
        await net.AddAddressAsync(isp, physical.InterfaceA, IspResolverV4 + "/24");
        await net.AddAddressAsync(isp, physical.InterfaceA, IspGatewayV6 + "/64");

        // "Internet" hosts live on the isp's loopback, reachable only through routes.
        foreach (string host in new[] { PublicResolverV4 + "/32", WebV4 + "/32", IspResolverV6 + "/128", WebV6 + "/128" })
        {
            await net.AddAddressAsync(isp, LoopbackInterface, host);
        }

        await net.AddAddressAsync(client, TunnelInterface, ClientTunnelV4 + "/24");
        await net.AddAddressAsync(client, TunnelInterface, ClientTunnelV6 + "/64");
        await net.AddAddressAsync(vpn, tunnel.InterfaceA, TunnelResolverV4 + "/24");
        await net.AddAddressAsync(vpn, tunnel.InterfaceA, TunnelResolverV6 + "/64");

        await net.AddAddressAsync(vpn, uplink.InterfaceA, VpnUplinkV4 + "/30");
        await net.AddAddressAsync(vpn, uplink.InterfaceA, VpnUplinkV6 + "/64");
        await net.AddAddressAsync(isp, uplink.InterfaceB, IspUplinkV4 + "/30");
        await net.AddAddressAsync(isp, uplink.InterfaceB, IspUplinkV6 + "/64");

        await net.EnableForwardingAsync(isp);
        await net.EnableForwardingAsync(vpn);
        await net.AddRouteAsync(vpn, "203.0.113.0/24", via: IspUplinkV4);
        await net.AddRouteAsync(vpn, "2001:db8::/32", via: IspUplinkV6);
        await net.AddRouteAsync(isp, "10.8.0.0/24", via: VpnUplinkV4);
        await net.AddRouteAsync(isp, "fd00:8::/64", via: VpnUplinkV6);

        Task<NetnsProcess> ispDns = net.StartServerAsync(
            isp,
            "dnsmasq-isp",
            "dnsmasq",
            DnsmasqArgs(net, "isp", [IspResolverV4, IspResolverV6]),
            [Listener.Udp(53, IspResolverV4), Listener.Tcp(53, IspResolverV4), Listener.Udp(53, IspResolverV6), Listener.Tcp(53, IspResolverV6)]);
        Task<NetnsProcess> vpnDns = net.StartServerAsync(
            vpn,
            "dnsmasq-vpn",
            "dnsmasq",
            DnsmasqArgs(net, "vpn", [TunnelResolverV4, TunnelResolverV6]),
            [Listener.Udp(53, TunnelResolverV4), Listener.Tcp(53, TunnelResolverV4), Listener.Udp(53, TunnelResolverV6), Listener.Tcp(53, TunnelResolverV6)]);
        Task<NetnsProcess> kresd = StartKresdAsync(net, isp);
        Task<NetnsProcess[]> web = StartWebAsync(net, isp);
        await Task.WhenAll(ispDns, vpnDns, kresd, web);

        var topology = new LeakTopology(net, client, isp, vpn, await ispDns, await vpnDns, await kresd, await web);
        await topology.UseTunnelAsync();
        return topology;
    }

    private static string[] DnsmasqArgs(TestNet net, string label, string[] listenAddresses)
    {
        var args = new List<string>
        {
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--port=53",
            "--listen-address=" + string.Join(',', listenAddresses),
            "--bind-interfaces",
            "--user=root",
            "--group=root",
            "--pid-file=" + net.TempPath($"dnsmasq-{label}.pid"),
            "--log-facility=-",
            "--log-queries",

            // Names of the zone without a record get NXDOMAIN, never a forward (there is no upstream).
            $"--local=/{Zone}/",
            $"--host-record={WebName},{WebV4},{WebV6}",
            $"--host-record={BlockedName},{BlockedV4}",
            $"--host-record={DirectName},{DirectV4}",
            $"--address=/{ExfilParent}/{ExfilV4}",
        };
        args.AddRange(QueryNames.Select(n => $"--host-record={n},{QueryV4},{QueryV6}"));
        return [.. args];
    }

    // As in DnsTrafficScenario: kresd's ephemeral self-signed certificate.
    private static Task<NetnsProcess> StartKresdAsync(TestNet net, string isp) =>
        KresdServer.StartAsync(
            net,
            isp,
            "kresd",
            [
                $"net.listen('{PublicResolverV4}', {DotPort}, {{ kind = 'tls' }})",
                $"net.listen('{PublicResolverV4}', {DohPort}, {{ kind = 'doh2' }})",
                $"policy.add(policy.all(policy.FORWARD('{IspResolverV4}@53')))",
            ],
            [Listener.Tcp(DotPort, PublicResolverV4), Listener.Tcp(DohPort, PublicResolverV4)]);

    private static async Task<NetnsProcess[]> StartWebAsync(TestNet net, string isp)
    {
        string root = net.TempPath("www");
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, SmallPage), SmallPageText + "\n");
        await File.WriteAllTextAsync(Path.Combine(root, BigPage), BigPageContent());

        string cert = Path.Combine(root, "..", "www-cert.pem");
        string key = Path.Combine(root, "..", "www-key.pem");
        CommandResult made = await ProcessRunner.RunAsync(
            "openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=" + WebName, "-addext", "subjectAltName=DNS:" + WebName, "-keyout", key, "-out", cert],
            TimeSpan.FromSeconds(20));
        made.EnsureSuccess();

        // s_server -WWW serves files relative to its working directory, hence the cd; one process per address family.
        var servers = new List<NetnsProcess>();
        foreach ((string label, string address, string accept) in new[]
        {
            ("web4", WebV4, $"{WebV4}:{WebPort}"),
            ("web6", WebV6, $"[{WebV6}]:{WebPort}"),
        })
        {
            servers.Add(await net.StartServerAsync(
                isp,
                label,
                "sh",
                ["-c", "cd \"$0\" && exec openssl s_server -accept \"$1\" -cert \"$2\" -key \"$3\" -WWW", root, accept, cert, key],
                [Listener.Tcp(WebPort, address)]));
        }

        return [.. servers];
    }

    /// <summary>30 KB of printable text, so the page is an ordinary multi-segment TLS transfer.</summary>
    public static string BigPageContent()
    {
        var sb = new StringBuilder(BigPageBytes);
        int line = 0;
        while (sb.Length < BigPageBytes)
        {
            sb.Append(CultureInfo.InvariantCulture, $"line {line++:D5} of the big page of www.leak.test\n");
        }

        return sb.ToString(0, BigPageBytes);
    }
}
