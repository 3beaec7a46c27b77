using System.Globalization;
using System.Text;

namespace DnsWarden.E2E.Proxy;

/// <summary>
/// Two throwaway namespaces for <c>dnsw proxy</c>: "pc" runs the proxy on its own loopback and the clients (dig, kdig,
/// dnsperf, curl); "up" holds the upstreams on one veth — dnsmasq (UDP/TCP), unbound (UDP/TCP) and knot-resolver
/// (DoT and DoH with a certificate from a test CA, forwarding to dnsmasq). dnsmasq and unbound log every query
/// they receive: that log, and a capture on the upstream side, are how the tests know what reached an upstream.
/// </summary>
public sealed class ProxyNet : IAsyncDisposable
{
    public const string Zone = "proxy.test";
    public const string ClientV4 = "10.53.0.2";
    public const string DnsmasqV4 = "10.53.0.11";
    public const string UnboundV4 = "10.53.0.12";
    public const string KresdV4 = "10.53.0.13";
    public const string SpareV4 = "10.53.0.14";

    /// <summary>A dnsmasq of the load test's own, so thousands of its log lines never slow the shared one's log.</summary>
    public const string LoadV4 = "10.53.0.15";

    /// <summary>The serve-stale test's own upstream, which it stops.</summary>
    public const string StaleV4 = "10.53.0.16";
    public const string DnsmasqV6 = "fd00:53::11";
    public const string TlsName = "dns.proxy.test";

    public const string WwwName = "www.proxy.test";
    public const string WwwV4 = "10.53.9.1";
    public const string WwwV6 = "fd00:53:9::1";
    public const string BigName = "big.proxy.test";
    public const string ExfilParent = "exfil.proxy.test";
    public const string ExfilV4 = "10.53.9.99";

    /// <summary>Twenty 60-character strings: about 1.3 KB, over 512 bytes (truncated for clients without EDNS).</summary>
    public static readonly IReadOnlyList<string> BigStrings =
        [.. Enumerable.Range(0, 20).Select(i => i.ToString("D2", CultureInfo.InvariantCulture) + new string((char)('a' + i), 58))];

    public static readonly string[] RequiredTools = ["ip", "ss", "dnsmasq", "unbound", "kresd", "dig", "kdig", "openssl", "dumpcap", "tshark", "curl", "dnsperf", "bash"];

    private ProxyNet(TestNet net, string pc, string up, NetnsProcess dnsmasq, NetnsProcess unbound, NetnsProcess kresd, string caFile, string pin)
    {
        Net = net;
        Pc = pc;
        Up = up;
        Dnsmasq = dnsmasq;
        Unbound = unbound;
        Kresd = kresd;
        CaFile = caFile;
        PinSha256 = pin;
    }

    public TestNet Net { get; }

    public string Pc { get; }

    public string Up { get; }

    public NetnsProcess Dnsmasq { get; }

    public NetnsProcess Unbound { get; }

    public NetnsProcess Kresd { get; }

    /// <summary>The test CA that signed kresd's certificate (PEM).</summary>
    public string CaFile { get; }

    /// <summary>The leaf certificate for <see cref="TlsName"/> (PEM) and its key: what the DoT listener test serves with.</summary>
    public string CertFile { get; private init; } = "";

    public string KeyFile { get; private init; } = "";

    /// <summary>Base64 SHA-256 of kresd's certificate's SubjectPublicKeyInfo.</summary>
    public string PinSha256 { get; }

    /// <summary>The upstream side's interface (for captures).</summary>
    public string UpInterface { get; private set; } = "";

    public static string? SkipReason() => HostTools.NotRootReason() ?? HostTools.MissingToolsReason(RequiredTools);

    public static async Task<ProxyNet> BuildAsync()
    {
        TestNet net = await TestNet.CreateAsync();
        try
        {
            string pc = await net.AddNamespaceAsync("pc");
            string up = await net.AddNamespaceAsync("up");
            VethPair veth = await net.AddVethAsync(pc, up, "eth0", "eth0");
            await net.AddAddressAsync(pc, "eth0", ClientV4 + "/24");
            await net.AddAddressAsync(pc, "eth0", "fd00:53::2/64");
            foreach (string a in new[] { "10.53.0.1", DnsmasqV4, UnboundV4, KresdV4, SpareV4, LoadV4, StaleV4 })
            {
                await net.AddAddressAsync(up, "eth0", a + "/24");
            }

            await net.AddAddressAsync(up, "eth0", DnsmasqV6 + "/64");

            (string ca, string cert, string key, string pin) = await MakeCertificatesAsync(net);
            NetnsProcess dnsmasq = await StartDnsmasqAsync(net, up, "main", DnsmasqV4, DnsmasqV6);
            NetnsProcess unbound = await StartUnboundAsync(net, up);
            NetnsProcess kresd = await StartKresdAsync(net, up, cert, key);
            return new ProxyNet(net, pc, up, dnsmasq, unbound, kresd, ca, pin) { UpInterface = veth.InterfaceB, CertFile = cert, KeyFile = key };
        }
        catch
        {
            await net.DisposeAsync();
            throw;
        }
    }

    /// <summary>A dnsmasq with the zone's records on one address (the failover test starts a second one to kill).</summary>
    public static Task<NetnsProcess> StartDnsmasqAsync(TestNet net, string ns, string label, string v4, string? v6 = null)
    {
        string listen = v6 is null ? v4 : v4 + "," + v6;
        List<Listener> wait = [Listener.Udp(53, v4), Listener.Tcp(53, v4)];
        return net.StartServerAsync(
            ns,
            "dnsmasq-" + label,
            "dnsmasq",
            [
                "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=53",
                "--edns-packet-max=4096", "--local-ttl=300", "--listen-address=" + listen, "--bind-interfaces", "--user=root", "--group=root",
                "--pid-file=" + net.TempPath($"dnsmasq-{label}.pid"), "--log-facility=-", "--log-queries", "--cache-size=0",
                $"--local=/{Zone}/",
                $"--host-record={WwwName},{WwwV4},{WwwV6}",
                $"--address=/{ExfilParent}/{ExfilV4}",
                $"--txt-record={BigName}," + string.Join(",", BigStrings),
            ],
            wait);
    }

    private static async Task<NetnsProcess> StartUnboundAsync(TestNet net, string ns)
    {
        string dir = net.TempPath("unbound");
        Directory.CreateDirectory(dir);
        string conf = Path.Combine(dir, "unbound.conf");
        var text = new StringBuilder();
        text.AppendLine("server:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  interface: {UnboundV4}");
        text.AppendLine("  port: 53");
        text.AppendLine("  do-ip6: no");
        text.AppendLine("  access-control: 0.0.0.0/0 allow");
        text.AppendLine("  chroot: \"\"");
        text.AppendLine("  username: \"\"");
        text.AppendLine(CultureInfo.InvariantCulture, $"  directory: \"{dir}\"");
        text.AppendLine(CultureInfo.InvariantCulture, $"  pidfile: \"{Path.Combine(dir, "unbound.pid")}\"");
        text.AppendLine("  use-syslog: no");
        text.AppendLine("  logfile: \"\"");
        text.AppendLine("  log-queries: yes");
        text.AppendLine("  verbosity: 1");
        text.AppendLine("  module-config: \"iterator\"");
        text.AppendLine("  do-not-query-localhost: yes");
        text.AppendLine(CultureInfo.InvariantCulture, $"  local-zone: \"{Zone}.\" static");
        text.AppendLine(CultureInfo.InvariantCulture, $"  local-data: \"{WwwName}. 300 IN A {WwwV4}\"");
        text.AppendLine(CultureInfo.InvariantCulture, $"  local-data: \"{WwwName}. 300 IN AAAA {WwwV6}\"");
        await File.WriteAllTextAsync(conf, text.ToString());
        return await net.StartServerAsync(ns, "unbound", "unbound", ["-d", "-c", conf], [Listener.Udp(53, UnboundV4), Listener.Tcp(53, UnboundV4)]);
    }

    private static Task<NetnsProcess> StartKresdAsync(TestNet net, string ns, string cert, string key) =>
        KresdServer.StartAsync(
            net,
            ns,
            "kresd",
            [
                $"net.tls('{cert}', '{key}')",
                $"net.listen('{KresdV4}', 853, {{ kind = 'tls' }})",
                $"net.listen('{KresdV4}', 443, {{ kind = 'doh2' }})",
                $"policy.add(policy.all(policy.FORWARD('{DnsmasqV4}@53')))",
            ],
            [Listener.Tcp(853, KresdV4), Listener.Tcp(443, KresdV4)]);

    private static async Task<(string Ca, string Cert, string Key, string Pin)> MakeCertificatesAsync(TestNet net)
    {
        string dir = net.TempPath("pki");
        Directory.CreateDirectory(dir);
        string ca = Path.Combine(dir, "ca.pem");
        string caKey = Path.Combine(dir, "ca.key");
        string csr = Path.Combine(dir, "leaf.csr");
        string cert = Path.Combine(dir, "leaf.pem");
        string key = Path.Combine(dir, "leaf.key");
        string ext = Path.Combine(dir, "leaf.ext");
        await File.WriteAllTextAsync(ext, $"subjectAltName=DNS:{TlsName}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
        (await ProcessRunner.RunAsync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=DnsWarden Proxy Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", caKey, "-out", ca])).EnsureSuccess();
        (await ProcessRunner.RunAsync("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + TlsName,
            "-keyout", key, "-out", csr])).EnsureSuccess();
        (await ProcessRunner.RunAsync("openssl", ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", cert])).EnsureSuccess();
        CommandResult pin = await ProcessRunner.RunAsync("bash", ["-c",
            $"openssl x509 -in '{cert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"]);
        pin.EnsureSuccess();
        return (ca, cert, key, pin.StdOut.Trim());
    }

    /// <summary>Lines of an upstream's own query log that name <paramref name="name"/> (case-insensitive).</summary>
    public static int QueriesSeen(NetnsProcess server, string name) =>
        (server.StdOut + "\n" + server.StdErr).Split('\n').Count(l => l.Contains(name, StringComparison.OrdinalIgnoreCase) && (l.Contains("query[", StringComparison.Ordinal) || l.Contains(" info: ", StringComparison.Ordinal)));

    /// <summary>
    /// The count of <see cref="QueriesSeen"/> once it reaches <paramref name="atLeast"/> or the timeout passes: a
    /// server's log lines reach the test through a pipe, a little after the answers do.
    /// </summary>
    public static async Task<int> WaitForQueriesAsync(NetnsProcess server, string name, int atLeast, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        int seen;
        while ((seen = QueriesSeen(server, name)) < atLeast && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        return seen;
    }

    public ValueTask DisposeAsync() => Net.DisposeAsync();
}
