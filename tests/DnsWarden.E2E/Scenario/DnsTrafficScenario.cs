using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E;

/// <summary>
/// Real DNS traffic of every kind DnsWarden meets, captured to pcapng: a "server" namespace runs dnsmasq
/// (plain DNS on 53) and knot-resolver (DoT on 853, DoH on 443, forwarding to the dnsmasq); a "client"
/// namespace, joined to it by one veth and to nothing else, runs dig, kdig and curl, plus a dnsmasq on its own
/// loopback, while dumpcap records the veth and <c>lo</c> into one file with two named interfaces.
/// </summary>
public static partial class DnsTrafficScenario
{
    public const string Zone = "dnsw.test";
    public const string ServerV4 = "10.53.0.1";
    public const string ClientV4 = "10.53.0.2";
    public const string ServerV6 = "fd00:53::1";
    public const string ClientV6 = "fd00:53::2";

    /// <summary>A and AAAA.</summary>
    public const string HostName = "www.dnsw.test";
    public const string HostV4 = "10.53.0.80";
    public const string HostV6 = "fd00:53::80";

    /// <summary>CNAME chain: chain → alias → www.</summary>
    public const string ChainName = "chain.dnsw.test";
    public const string AliasName = "alias.dnsw.test";

    public const string TxtName = "txt.dnsw.test";
    public const string TxtValue = "v=dnsw test";

    /// <summary>A TXT answer of about 3 KB: over UDP with a 4096-byte EDNS buffer it leaves the server as IP fragments.</summary>
    public const string BigTxtName = "big.dnsw.test";

    /// <summary>The 12 strings of <see cref="BigTxtName"/>, 240 bytes each.</summary>
    public static string[] BigTxtStrings { get; } =
        Enumerable.Range(0, 12).Select(i => $"chunk{i:D2}-" + new string((char)('a' + i), 232)).ToArray();

    /// <summary>Answered NXDOMAIN (the zone is local to dnsmasq).</summary>
    public const string MissingName = "missing.dnsw.test";

    /// <summary>Resolves to the server itself, so curl's HTTP attempt after its DoH lookup is refused at once.</summary>
    public const string WebName = "web.dnsw.test";

    /// <summary>Served by the client's loopback dnsmasq.</summary>
    public const string LoopbackName = "local.dnsw.test";
    public const string LoopbackV4 = "10.53.1.1";
    public const string LoopbackV6 = "fd00:53:1::1";

    /// <summary>SNI kdig sends for DoT and for DoH (curl's DoH to an IP literal sends none).</summary>
    public const string DotServerName = "dot.dnsw.test";
    public const string DohServerName = "doh.dnsw.test";

    public const int DotPort = 853;
    public const int DohPort = 443;

    /// <summary>The tools the scenario drives.</summary>
    public static readonly IReadOnlyList<string> RequiredTools =
        ["ip", "ss", "setsid", "dnsmasq", "kresd", "dig", "kdig", "curl", "dumpcap", "gtlsclient"];

    /// <summary>SNI of the QUIC v1 client Initial (HTTP/3 to UDP 443); the client finds it in the namespace's own hosts file.</summary>
    public const string QuicServerName = "quic.dnsw.test";

    /// <summary>
    /// SNI of the QUIC draft-29 client Initial to UDP 853 (DoQ's port). The ngtcp2 client here cannot send
    /// RFC 9369 v2 packets; v2 is covered by the RFC's own vectors in the wire tests.
    /// </summary>
    public const string QuicDraftServerName = "quic29.dnsw.test";

    private static readonly TimeSpan s_clientTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Why the scenario cannot run here (not root, a tool missing), or null when it can.</summary>
    public static string? SkipReason() => HostTools.NotRootReason() ?? HostTools.MissingToolsReason([.. RequiredTools]);

    /// <summary>
    /// Builds the topology, runs every client step (each checked: a broken server fails the scenario with the
    /// command's output), stops the capture, copies the pcapng to <paramref name="outputPcapng"/> and tears
    /// everything down. Skips the test when not root or a tool is missing.
    /// </summary>
    public static async Task<DnsTrafficScenarioResult> RunAsync(string outputPcapng, CancellationToken cancellationToken = default)
    {
        string? skip = SkipReason();
        if (skip is not null)
        {
            Assert.Skip(skip);
        }

        var total = Stopwatch.StartNew();
        await using TestNet net = await TestNet.CreateAsync();
        string server = await net.AddNamespaceAsync("server");
        string client = await net.AddNamespaceAsync("client");
        VethPair veth = await net.AddVethAsync(server, client);
        await net.AddAddressAsync(server, veth.InterfaceA, ServerV4 + "/24");
        await net.AddAddressAsync(client, veth.InterfaceB, ClientV4 + "/24");
        await net.AddAddressAsync(server, veth.InterfaceA, ServerV6 + "/64");
        await net.AddAddressAsync(client, veth.InterfaceB, ClientV6 + "/64");

        Task<NetnsProcess> upstream = net.StartServerAsync(
            server,
            "dnsmasq-server",
            "dnsmasq",
            DnsmasqArgs(net, "server", [ServerV4, ServerV6], ServerRecords()),
            [Listener.Udp(53, ServerV4), Listener.Tcp(53, ServerV4), Listener.Udp(53, ServerV6), Listener.Tcp(53, ServerV6)]);
        Task<NetnsProcess> loopback = net.StartServerAsync(
            client,
            "dnsmasq-loopback",
            "dnsmasq",
            DnsmasqArgs(net, "loopback", ["127.0.0.1", "::1"], [$"--host-record={LoopbackName},{LoopbackV4},{LoopbackV6}"]),
            [Listener.Udp(53, "127.0.0.1"), Listener.Tcp(53, "::1")]);
        Task<NetnsProcess> resolver = StartKresdAsync(net, server);
        await Task.WhenAll(upstream, loopback, resolver);
        TimeSpan setup = total.Elapsed;

        // The QUIC client takes a host name for SNI; it gets it from a hosts file, never from a resolver.
        await net.SetHostsAsync(client, [(ServerV4, QuicServerName), (ServerV4, QuicDraftServerName)]);

        DumpcapCapture capture = await net.StartCaptureAsync(client, [veth.InterfaceB, "lo"], net.TempPath("scenario.pcapng"));
        var traffic = Stopwatch.StartNew();
        var steps = new List<ScenarioStep>();
        string queries = net.TempPath("dnsperf-queries.txt");
        await File.WriteAllLinesAsync(queries, LoadQueries(), cancellationToken);
        foreach (ClientStep step in ClientSteps(queries))
        {
            CommandResult result = await net.ExecAsync(client, step.Tool, step.Args, s_clientTimeout, cancellationToken);
            string? problem = step.Check(result);
            if (problem is not null)
            {
                throw new InvalidOperationException(
                    $"Scenario step '{step.Name}' failed: {problem}\n{result.Describe()}\n\n{(await resolver).Describe()}\n\n{(await upstream).Describe()}");
            }

            steps.Add(new ScenarioStep(step.Name, step.Expectation, result));
        }

        TimeSpan trafficTime = traffic.Elapsed;
        long packets = await capture.StopAsync();
        string? dir = Path.GetDirectoryName(Path.GetFullPath(outputPcapng));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        File.Copy(capture.OutputPath, outputPcapng, overwrite: true);
        await net.DisposeAsync();
        return new DnsTrafficScenarioResult(
            outputPcapng,
            veth.InterfaceB,
            "lo",
            packets,
            steps,
            setup,
            trafficTime,
            total.Elapsed);
    }

    private static string[] ServerRecords() =>
    [
        $"--host-record={HostName},{HostV4},{HostV6}",
        $"--host-record={WebName},{ServerV4},{ServerV6}",
        $"--cname={AliasName},{HostName}",
        $"--cname={ChainName},{AliasName}",
        $"--txt-record={TxtName},{TxtValue}",
        $"--host-record={LoadName},10.53.0.81,fd00:53::81",
        $"--cname={LoadAliasName},{LoadName}",
        $"--txt-record={LoadName},load",
        $"--txt-record={BigTxtName}," + string.Join(",", BigTxtStrings),
    ];

    private static string[] DnsmasqArgs(TestNet net, string label, string[] listenAddresses, string[] records) =>
    [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--edns-packet-max=4096", // newer dnsmasq default to 1232; the fragmented-answer steps need more
        "--no-hosts",
        "--port=53",
        "--listen-address=" + string.Join(',', listenAddresses),
        "--bind-interfaces",
        "--user=root",
        "--group=root",
        "--pid-file=" + net.TempPath($"dnsmasq-{label}.pid"),
        "--log-facility=-",
        "--log-queries",
        // Names under the zone that have no record get NXDOMAIN instead of REFUSED (no upstream).
        $"--local=/{Zone}/",
        .. records,
    ];

    // No net.tls(): kresd makes an ephemeral self-signed certificate, which is all kdig and curl -k need.
    private static Task<NetnsProcess> StartKresdAsync(TestNet net, string server) =>
        KresdServer.StartAsync(
            net,
            server,
            "kresd",
            [
                .. new[] { ServerV4, ServerV6 }.SelectMany(address => new[]
                {
                    $"net.listen('{address}', {DotPort}, {{ kind = 'tls' }})",
                    $"net.listen('{address}', {DohPort}, {{ kind = 'doh2' }})",
                }),
                $"policy.add(policy.all(policy.FORWARD('{ServerV4}@53')))",
            ],
            [Listener.Tcp(DotPort, ServerV4), Listener.Tcp(DohPort, ServerV4), Listener.Tcp(DotPort, ServerV6), Listener.Tcp(DohPort, ServerV6)]);

    /// <summary>Queries for dnsperf: a thousand messages with varied ids, names, types and answers for the frame-by-frame comparison.</summary>
    public const int LoadQueryCount = 1000;

    /// <summary>Names only the load step asks for, so the single-query assertions stay unambiguous.</summary>
    public const string LoadName = "load.dnsw.test";

    public const string LoadAliasName = "load-alias.dnsw.test";

    private static IEnumerable<string> LoadQueries() =>
        Enumerable.Range(0, LoadQueryCount).Select(i => (i % 4) switch
        {
            0 => $"{LoadName} A",
            1 => $"{LoadAliasName} AAAA",
            2 => $"n{i}.{MissingName} A",
            _ => $"{LoadName} TXT",
        });

    private static IEnumerable<ClientStep> ClientSteps(string loadQueries)
    {
        string[] dig = ["+time=2", "+tries=1"];
        string[] kdig = ["+time=2", "+retry=0"];

        yield return Dns("udp-a", "dig", [$"@{ServerV4}", HostName, "A", .. dig], "NOERROR", HostV4);
        yield return Dns("tcp-aaaa", "dig", [$"@{ServerV4}", HostName, "AAAA", "+tcp", .. dig], "NOERROR", HostV6);
        yield return Dns("udp6-cname-chain", "dig", [$"@{ServerV6}", ChainName, .. dig], "NOERROR", AliasName, HostName, HostV4);
        yield return Dns("udp-nxdomain", "dig", [$"@{ServerV4}", MissingName, "A", .. dig], "NXDOMAIN");
        yield return Dns("udp-txt", "dig", [$"@{ServerV4}", TxtName, "TXT", .. dig], "NOERROR", TxtValue);
        yield return Dns("tcp6-txt", "dig", [$"@{ServerV6}", TxtName, "TXT", "+tcp", .. dig], "NOERROR", TxtValue);
        yield return Dns("udp-fragmented", "dig", [$"@{ServerV4}", BigTxtName, "TXT", "+bufsize=4096", .. dig], "NOERROR", BigTxtStrings[11]);
        yield return Dns("udp6-fragmented", "dig", [$"@{ServerV6}", BigTxtName, "TXT", "+bufsize=4096", .. dig], "NOERROR", BigTxtStrings[11]);
        yield return Dns("kdig-tcp", "kdig", [$"@{ServerV4}", "+tcp", ChainName, "A", .. kdig], "NOERROR", HostV4);
        yield return Dns("dot", "kdig", [$"@{ServerV4}", "+tls", $"+tls-sni={DotServerName}", HostName, "A", .. kdig], "NOERROR", HostV4);
        yield return Dns("dot6", "kdig", [$"@{ServerV6}", "+tls", $"+tls-sni={DotServerName}", HostName, "AAAA", .. kdig], "NOERROR", HostV6);
        yield return Dns("doh", "kdig", [$"@{ServerV4}", "+https", $"+tls-sni={DohServerName}", ChainName, "AAAA", .. kdig], "NOERROR", HostV6);
        yield return new ClientStep(
            "curl-doh",
            "curl",
            ["--silent", "--show-error", "--max-time", "3", "--doh-url", $"https://{ServerV4}/dns-query", "--doh-insecure", "-k", $"http://{WebName}/"],
            "exit 0 or 7 (resolved by DoH; the HTTP port is closed)",
            r => r.ExitCode is 0 or 7 ? null : $"curl exit {r.ExitCode} (6 means the DoH lookup failed)");
        yield return new ClientStep(
            "dnsperf-load",
            "dnsperf",
            ["-s", ServerV4, "-d", loadQueries, "-n", "1", "-c", "1", "-Q", "1000", "-t", "2"],
            $"{LoadQueryCount} queries answered, none lost",
            r =>
            {
                Match lost = Regex.Match(r.StdOut, @"Queries lost:\s+(\d+)");
                Match done = Regex.Match(r.StdOut, @"Queries completed:\s+(\d+)");
                return !r.Succeeded ? $"exit {r.ExitCode}"
                    : !lost.Success || !done.Success ? "no dnsperf statistics in the output"
                    : lost.Groups[1].Value != "0" ? $"{lost.Groups[1].Value} queries lost"
                    : done.Groups[1].Value != LoadQueryCount.ToString(System.Globalization.CultureInfo.InvariantCulture) ? $"{done.Groups[1].Value} queries completed"
                    : null;
            });

        // Nothing listens on UDP 443/853: the client's Initials (and the ICMP errors) are what we want on the wire.
        yield return Quic("quic-v1", [QuicServerName, "443"]);
        yield return Quic("quic-draft29", ["-v", "0xff00001d", QuicDraftServerName, "853"]);
        yield return Dns("loopback-udp", "dig", ["@127.0.0.1", LoopbackName, "A", .. dig], "NOERROR", LoopbackV4);
        yield return Dns("loopback6-tcp", "dig", ["@::1", LoopbackName, "AAAA", "+tcp", .. dig], "NOERROR", LoopbackV6);
    }

    private static ClientStep Quic(string name, string[] args) =>
        new(name, "gtlsclient", ["-q", "--timeout=1s", "--handshake-timeout=2s", .. args], "the client ran (no server answers)",
            r => r.TimedOut ? "timed out" : r.ExitCode is 126 or 127 ? $"gtlsclient did not run (exit {r.ExitCode})" : null);

    private static ClientStep Dns(string name, string tool, string[] args, string status, params string[] mustContain)
    {
        string expectation = mustContain.Length == 0 ? status : $"{status} with {string.Join(", ", mustContain)}";
        return new ClientStep(name, tool, args, expectation, r =>
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

    [GeneratedRegex(@"status: ([A-Z]+)")]
    private static partial Regex StatusRegex();

    private sealed record ClientStep(string Name, string Tool, string[] Args, string Expectation, Func<CommandResult, string?> Check);
}

/// <summary>The outcome of <see cref="DnsTrafficScenario.RunAsync"/>.</summary>
/// <param name="PcapngPath">The capture (two interfaces: <paramref name="VethInterface"/> and <paramref name="LoopbackInterface"/>).</param>
/// <param name="VethInterface">The client's veth name as recorded in the pcapng IDB.</param>
/// <param name="LoopbackInterface">"lo".</param>
/// <param name="PacketsCaptured">dumpcap's own count.</param>
/// <param name="Steps">Every client command in order, with its output.</param>
/// <param name="SetupTime">Namespaces, veth and servers up.</param>
/// <param name="TrafficTime">All client steps.</param>
/// <param name="Elapsed">The whole run, teardown included.</param>
public sealed record DnsTrafficScenarioResult(
    string PcapngPath,
    string VethInterface,
    string LoopbackInterface,
    long PacketsCaptured,
    IReadOnlyList<ScenarioStep> Steps,
    TimeSpan SetupTime,
    TimeSpan TrafficTime,
    TimeSpan Elapsed);

/// <summary>One client command of the scenario.</summary>
public sealed record ScenarioStep(string Name, string Expectation, CommandResult Result);
