using System.Runtime.Versioning;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// "host" runs <c>dnsw jail --allow …</c>; "inet" plays the internet: dnsmasq on 203.0.113.53 answering for three names,
/// one web server address (203.0.113.90, 2001:db8:90::90) serving allowed.hp.test and other.hp.test over HTTP and
/// HTTPS (certificates from a CA the fixture makes), raw TCP listeners on ports 2222 and 2223 at the web address and
/// at git.hp.test's (203.0.113.91, 2001:db8:90::91). Every server logs what reached it; nothing is joined to the root
/// namespace.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HostProxyNetFixture : TopologyFixture
{
    public const string ResolverV4 = "203.0.113.53";
    public const string WebV4 = "203.0.113.90";
    public const string WebV6 = "2001:db8:90::90";
    public const string GitV4 = "203.0.113.91";
    public const string GitV6 = "2001:db8:90::91";
    public const string HostV4 = "10.61.0.1";
    public const string HostV6 = "fd00:61::1";
    public const string Allowed = "allowed.hp.test";
    public const string Other = "other.hp.test";
    public const string Git = "git.hp.test";

    /// <summary>The HTTP/2-only server (nghttpd) at the web address, serving the allowed name.</summary>
    public const int H2Port = 8443;

    private string? _shared;

    public string Host { get; private set; } = "";

    public string Inet { get; private set; } = "";

    public string InetInterface { get; private set; } = "";

    public NetnsProcess Dnsmasq { get; private set; } = null!;

    public NetnsProcess Web { get; private set; } = null!;

    /// <summary>nghttpd on <see cref="H2Port"/>: h2 only, every frame it receives logged (<c>-v</c>), files under /ok/.</summary>
    public NetnsProcess H2Web { get; private set; } = null!;

    public NetnsProcess Raw2222 { get; private set; } = null!;

    public NetnsProcess Raw2223 { get; private set; } = null!;

    /// <summary>The test CA's certificate (PEM), readable by the jailed command.</summary>
    public string CaFile { get; private set; } = "";

    public string Scripts { get; private set; } = "";

    public string Script(string name) => Path.Combine(Scripts, name);

    /// <summary>Runs <c>dnsw jail ARGS --upstream (the fixture's resolver) -- bash -c SCRIPT</c> in the host namespace.</summary>
    public Task<CommandResult> JailAsync(string[] jailArgs, string script) =>
        Net.ExecAsync(Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", .. jailArgs, "--upstream", "udp://" + ResolverV4, "--", "bash", "-c", script], TimeSpan.FromSeconds(120));

    /// <summary>The shell line that runs client.py MODE HOST PORT ARGS… inside the jail.</summary>
    public string Client(string mode, string host, int port, params string[] args) =>
        $"python3 {Script("client.py")} {mode} {host} {port} {string.Join(' ', args.Select(a => "'" + a + "'"))}";

    protected override string? FindSkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft", "setpriv", "dnsmasq", "curl", "dumpcap", "tshark", "python3", "openssl", "nghttpd", "stdbuf");

    protected override async Task BuildAsync(TestNet net)
    {
        Host = await net.AddNamespaceAsync("host");
        Inet = await net.AddNamespaceAsync("inet");
        VethPair veth = await net.AddVethAsync(Host, Inet, "eth0", "eth0");
        InetInterface = veth.InterfaceB;
        await net.AddAddressAsync(Host, "eth0", HostV4 + "/24");
        await net.AddAddressAsync(Host, "eth0", HostV6 + "/64");
        await net.AddAddressAsync(Inet, "eth0", "10.61.0.2/24");
        await net.AddAddressAsync(Inet, "eth0", "fd00:61::2/64");
        foreach (string a in new[] { ResolverV4 + "/32", WebV4 + "/32", GitV4 + "/32", WebV6 + "/128", GitV6 + "/128" })
        {
            await net.AddAddressAsync(Inet, "eth0", a);
        }

        await net.WaitForAddressesAsync(Inet);
        await net.AddRouteAsync(Host, "default", via: "10.61.0.2");
        await net.AddRouteAsync(Host, "default", via: "fd00:61::2");

        // The jail's /tmp is its own: what the command reads lives beside the test binaries, removed at teardown.
        _shared = Path.Combine(AppContext.BaseDirectory, "hostproxy-" + net.RunId);
        Scripts = Path.Combine(_shared, "scripts");
        Directory.CreateDirectory(Scripts);
        // The security suite's listeners (targets.py: each connection logged with the address it reached) serve raw TCP.
        foreach ((string name, string text) in HostProxyScripts.All.Concat(Security.SecurityScripts.All.Where(s => s.Name == "targets.py")))
        {
            await File.WriteAllTextAsync(Path.Combine(Scripts, name), text);
        }

        string certs = Path.Combine(_shared, "certs");
        Directory.CreateDirectory(certs);
        CaFile = Path.Combine(certs, "ca.pem");
        await OpenSslAsync(certs, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=dnsw host proxy test CA", "-days", "2");
        foreach (string name in new[] { Allowed, Other })
        {
            await OpenSslAsync(certs, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name);
            await OpenSslAsync(certs, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-copy_extensions", "copy", "-out", name + ".pem");
        }

        Dnsmasq = await net.StartServerAsync(Inet, "dnsmasq", "dnsmasq",
        [
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53", "--local-ttl=300",
            $"--listen-address={ResolverV4}", "--bind-interfaces", "--user=root", "--group=root",
            "--pid-file=" + net.TempPath("hp-dnsmasq.pid"), "--log-facility=-", "--log-queries", "--local=/hp.test/",
            $"--host-record={Allowed},{WebV4},{WebV6}", $"--host-record={Other},{WebV4},{WebV6}", $"--host-record={Git},{GitV4},{GitV6}",
        ],
        [Listener.Udp(53, ResolverV4), Listener.Tcp(53, ResolverV4)]);
        Web = await net.StartServerAsync(Inet, "web", "python3", ["-u", Script("web.py"), certs, $"{Allowed},{Other}", WebV4, WebV6],
            [Listener.Tcp(80, WebV4), Listener.Tcp(443, WebV4), Listener.Tcp(80, WebV6), Listener.Tcp(443, WebV6)]);
        string h2Root = Path.Combine(_shared, "h2root");
        Directory.CreateDirectory(Path.Combine(h2Root, "ok"));
        foreach (string page in new[] { "h2", "1", "2" })
        {
            await File.WriteAllTextAsync(Path.Combine(h2Root, "ok", page), $"h2 page {page}\n");
        }

        // Line-buffered, so the log holds every frame by the time a test reads it.
        H2Web = await net.StartServerAsync(Inet, "nghttpd", "stdbuf",
            ["-oL", "nghttpd", "-v", "-d", h2Root, "--address=" + WebV4, H2Port.ToString(System.Globalization.CultureInfo.InvariantCulture), Path.Combine(certs, Allowed + ".key"), Path.Combine(certs, Allowed + ".pem")],
            [Listener.Tcp(H2Port, WebV4)]);
        Raw2222 = await net.StartServerAsync(Inet, "raw-2222", "python3", ["-u", Script("targets.py"), "2222", WebV4, GitV4, WebV6, GitV6], [Listener.Tcp(2222, GitV4), Listener.Tcp(2222, GitV6)]);
        Raw2223 = await net.StartServerAsync(Inet, "raw-2223", "python3", ["-u", Script("targets.py"), "2223", WebV4, GitV4, WebV6, GitV6], [Listener.Tcp(2223, GitV4), Listener.Tcp(2223, GitV6)]);
    }

    protected override Task TearDownAsync()
    {
        if (_shared is not null && Directory.Exists(_shared))
        {
            Directory.Delete(_shared, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static async Task OpenSslAsync(string directory, params string[] args)
    {
        CommandResult r = await ProcessRunner.RunAsync("bash", ["-c", $"cd '{directory}' && openssl \"$@\"", "openssl", .. args]);
        r.EnsureSuccess();
    }
}
