using System.Globalization;
using System.Text.Json;
using DnsWarden.Wire.Dns;

namespace DnsWarden.E2E;

/// <summary>Live <c>dnsw leak watch</c> as a user meets it: without privileges, and asking which interfaces it can open.</summary>
public sealed class CliLiveTests
{

    [Fact]
    public async Task WithoutCapturePrivileges_OneLineSaysWhy_NotAStackTrace()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("setpriv", "ip");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nopriv");

        // Root, but with CAP_NET_RAW and CAP_NET_ADMIN gone from the bounding set: what an unprivileged user meets.
        CommandResult run = await net.ExecAsync(ns, "setpriv",
            ["--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin", "--", DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--iface", "lo", "--duration", "1s"]);

        Assert.True(run.ExitCode == 4, run.Describe());
        string[] lines = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.Equal("dnsw: cannot capture on lo: permission denied — run as root or grant CAP_NET_RAW and CAP_NET_ADMIN to dnsw", line.Trim());
        Assert.DoesNotContain("Exception", run.StdOut + run.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnATerminal_TheStatusLineShowsTimeWatchedAndLeft_AndRates_AndIntoAPipeThereIsNone()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "script", "dig", "bash");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("status");

        // script(1) gives the watch a terminal; dig asks the namespace's own loopback (nothing answers) while it runs.
        string[] watch = [DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--iface", "lo", "--duration", "4s", "--no-bpf"];
        string command = string.Join(' ', watch.Select(a => $"'{a}'"));
        string queries = "while kill -0 $w 2>/dev/null; do dig @127.0.0.1 +tries=1 +time=1 status.dnsw.test >/dev/null; sleep 0.1; done; wait $w";
        CommandResult tty = await net.ExecAsync(ns, "bash", ["-c", $"script -qfec \"{command}\" /dev/null & w=$!; {queries}"], TimeSpan.FromSeconds(60));
        Assert.True(tty.ExitCode is 0 or 2, tty.Describe());
        // Redrawn in place: elapsed and left, packets and DNS with their rates, leaks by type, drops.
        Assert.Matches(@"\r\u001b\[K0:0\d \(0:0\d left\)  packets [1-9]\d* \(\d+/s\)  DNS [1-9]\d* \(\d+/s\)  leaks A \d+ B \d+ C \d+ D \d+ exfil \d+  drops \d+", tty.StdOut);

        // Into a pipe: the same watch draws no status line at all.
        CommandResult piped = await net.ExecAsync(ns, "bash", ["-c", $"{command} & w=$!; {queries}"], TimeSpan.FromSeconds(60));
        Assert.True(piped.ExitCode is 0 or 2, piped.Describe());
        Assert.DoesNotContain("\u001b[K", piped.StdOut + piped.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain(" left)  packets ", piped.StdOut + piped.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IfaceDiag_ListsTheNamespacesInterfaces_AndWhetherEachOpens()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip");
        await using TestNet net = await TestNet.CreateAsync();
        string a = await net.AddNamespaceAsync("diaga");
        string b = await net.AddNamespaceAsync("diagb");
        VethPair veth = await net.AddVethAsync(a, b);

        CommandResult run = await net.ExecAsync(b, DnswProgram.Program, [.. DnswProgram.Prefix, "leak", "watch", "--iface-diag"]);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("lo", run.StdOut, StringComparison.Ordinal);
        Assert.Contains(veth.InterfaceB, run.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(veth.InterfaceA, run.StdOut, StringComparison.Ordinal); // the peer lives in the other namespace
        Assert.Contains("can capture", run.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LiveWatch_NamesTheVeryProcessThatSentEachQuery()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "bash");
        await using TestNet net = await TestNet.CreateAsync();
        string serverNs = await net.AddNamespaceAsync("asrv");
        string clientNs = await net.AddNamespaceAsync("acli");
        VethPair veth = await net.AddVethAsync(serverNs, clientNs);
        await net.AddAddressAsync(serverNs, veth.InterfaceA, "203.0.113.1/24");
        await net.AddAddressAsync(clientNs, veth.InterfaceB, "203.0.113.2/24");
        await net.AddAddressAsync(serverNs, veth.InterfaceA, "fd00:53:a::1/64");
        await net.AddAddressAsync(clientNs, veth.InterfaceB, "fd00:53:a::2/64");
        await net.StartServerAsync(
            serverNs,
            "dnsmasq",
            "dnsmasq",
            ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=203.0.113.1",
             "--listen-address=fd00:53:a::1", "--bind-interfaces", "--user=root", "--group=root", "--pid-file=" + net.TempPath("dnsmasq.pid"),
             "--log-facility=-", "--host-record=who.dnsw.test,10.9.9.9,fd00:9::9"],
            [Listener.Udp(53, "203.0.113.1"), Listener.Tcp(53, "203.0.113.1")]);
        await net.WaitForAddressesAsync(clientNs);
        await net.WaitForAddressesAsync(serverNs);

        string leaks = net.TempPath("leaks.jsonl");
        NetnsProcess watch = net.StartProcess(clientNs, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", veth.InterfaceB, "--duration", "0", "--format", "json", "--privacy", "full", "--out", leaks]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(20));

        // Each client prints its own pid, sends one query from a socket it opened (bash's /dev/udp and /dev/tcp) and keeps
        // the socket a second while it reads (a builtin, so bash stays bash): the lookup runs at packet time, and a socket that still exists is found. (A one-shot
        // client such as dig closes its socket within a millisecond of its answer; its events then say "socket gone".)
        int udpPid = await Client(net, clientNs, $"exec 3<>/dev/udp/203.0.113.1/53; printf '{Escaped(Query("who.dnsw.test", 0x1111, DnsType.A, tcp: false))}' >&3; read -t 1 -N 65535 -u 3 reply 2>/dev/null; exit 0");
        int tcpPid = await Client(net, clientNs, $"exec 3<>/dev/tcp/203.0.113.1/53; printf '{Escaped(Query("who.dnsw.test", 0x2222, DnsType.A, tcp: true))}' >&3; read -t 1 -N 65535 -u 3 reply 2>/dev/null; exit 0");
        int v6Pid = await Client(net, clientNs, $"exec 3<>/dev/udp/fd00:53:a::1/53; printf '{Escaped(Query("who.dnsw.test", 0x3333, DnsType.AAAA, tcp: false))}' >&3; read -t 1 -N 65535 -u 3 reply 2>/dev/null; exit 0");

        // Every client has finished, so its packets passed the capture; on Ctrl-C the watch reads its buffers to the end.

        watch.Signal(ProcessSignal.Interrupt);
        Task finished = await Task.WhenAny(watch.Exited, Task.Delay(TimeSpan.FromSeconds(15)));
        Assert.True(finished == watch.Exited, "dnsw did not stop on Ctrl-C: " + watch.Describe());
        Assert.True(watch.ExitCode == 2, watch.Describe());

        List<JsonElement> events = [.. (await File.ReadAllLinesAsync(leaks)).Select(l => JsonDocument.Parse(l).RootElement.Clone()).Where(e => e.GetProperty("event").GetString() == "leak")];
        AssertAttributed(events, "udp53", "A", "203.0.113.1:53", udpPid, "bash");
        AssertAttributed(events, "tcp53", "A", "203.0.113.1:53", tcpPid, "bash");
        AssertAttributed(events, "udp53", "AAAA", "[fd00:53:a::1]:53", v6Pid, "bash");
    }

    private static byte[] Query(string name, ushort id, DnsType type, bool tcp)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer.AsSpan(tcp ? 2 : 0), id, name, type, true, null, out int n));
        if (tcp)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(buffer, (ushort)n); // RFC 1035 §4.2.2 length prefix
            n += 2;
        }

        return buffer[..n];
    }

    /// <summary>Bytes as a printf format of \\xHH escapes (bash's printf builtin writes them as raw bytes).</summary>
    private static string Escaped(byte[] bytes) => string.Concat(bytes.Select(b => "\\x" + b.ToString("x2", CultureInfo.InvariantCulture)));

    private static void AssertAttributed(List<JsonElement> events, string transport, string qtype, string dst, int pid, string name)
    {
        JsonElement e = Assert.Single(events, x => x.GetProperty("transport").GetString() == transport
            && x.GetProperty("qtype").GetString() == qtype && EventFields.Dst(x) == dst);
        Assert.Equal("A", e.GetProperty("leak_type").GetString());
        JsonElement process = e.GetProperty("process");
        Assert.True(process.ValueKind == JsonValueKind.Object, e.ToString());
        Assert.Equal(pid, process.GetProperty("pid").GetInt32());
        Assert.Equal(name, process.GetProperty("name").GetString());
        Assert.Equal(0, process.GetProperty("uid").GetInt32());
        Assert.Contains(name, process.GetProperty("cmdline").GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(process.GetProperty("parents").EnumerateArray());
        Assert.Equal("high", e.GetProperty("attribution").GetProperty("confidence").GetString());
    }

    private static async Task<int> Client(TestNet net, string ns, string script)
    {
        CommandResult run = await net.ExecAsync(ns, "bash", ["-c", "echo $$; " + script]);
        string first = run.EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
        return int.Parse(first, CultureInfo.InvariantCulture);
    }
}
