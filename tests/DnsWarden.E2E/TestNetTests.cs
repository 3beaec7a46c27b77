using System.Globalization;

namespace DnsWarden.E2E;

/// <summary>The topology helper itself: reachability, isolation from the root namespace, teardown, sweeping.</summary>
public sealed class TestNetTests
{
    [Fact]
    public async Task Namespaces_PingEachOther_OverVethAndThroughRouter()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ping");
        await using TestNet net = await TestNet.CreateAsync();
        string a = await net.AddNamespaceAsync("a");
        string r = await net.AddNamespaceAsync("router");
        string b = await net.AddNamespaceAsync("b");
        VethPair ar = await net.AddVethAsync(a, r);
        VethPair rb = await net.AddVethAsync(r, b);
        await net.AddAddressAsync(a, ar.InterfaceA, "10.201.1.2/24");
        await net.AddAddressAsync(r, ar.InterfaceB, "10.201.1.1/24");
        await net.AddAddressAsync(a, ar.InterfaceA, "fd00:201:1::2/64");
        await net.AddAddressAsync(r, ar.InterfaceB, "fd00:201:1::1/64");
        await net.AddAddressAsync(r, rb.InterfaceA, "198.51.100.1/24");
        await net.AddAddressAsync(b, rb.InterfaceB, "198.51.100.2/24");
        await net.AddAddressAsync(r, rb.InterfaceA, "2001:db8:201::1/64");
        await net.AddAddressAsync(b, rb.InterfaceB, "2001:db8:201::2/64");
        await net.EnableForwardingAsync(r);
        await net.AddRouteAsync(a, "198.51.100.0/24", via: "10.201.1.1");
        await net.AddRouteAsync(b, "10.201.1.0/24", via: "198.51.100.1");
        await net.AddRouteAsync(a, "2001:db8:201::/64", via: "fd00:201:1::1");
        await net.AddRouteAsync(b, "fd00:201:1::/64", via: "2001:db8:201::1");

        CommandResult forwarding = await net.ExecAsync(r, "cat", ["/proc/sys/net/ipv4/ip_forward"]);
        Assert.Equal("1", forwarding.EnsureSuccess().StdOut.Trim());

        await Ping(net, a, "10.201.1.1");
        await Ping(net, r, "10.201.1.2");
        await Ping(net, a, "fd00:201:1::1");
        await Ping(net, a, "198.51.100.2");
        await Ping(net, b, "10.201.1.2");
        await Ping(net, b, "fd00:201:1::2");

        // Nothing routes out: no default route in any namespace.
        foreach (string ns in net.Namespaces)
        {
            CommandResult v4 = await net.ExecAsync(ns, "ip", ["-4", "route", "show", "default"]);
            CommandResult v6 = await net.ExecAsync(ns, "ip", ["-6", "route", "show", "default"]);
            Assert.Equal(string.Empty, v4.EnsureSuccess().StdOut.Trim());
            Assert.Equal(string.Empty, v6.EnsureSuccess().StdOut.Trim());
        }

        await AssertRootHasNothingOf(net);
    }

    [Fact]
    public async Task Server_StartsAndListens_ClientGetsAnswer_NothingLeaksToRoot()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("dnsmasq", "dig");
        NetnsProcess server;
        string serverNs;
        string tempDir;
        await using (TestNet net = await TestNet.CreateAsync())
        {
            serverNs = await net.AddNamespaceAsync("srv");
            string clientNs = await net.AddNamespaceAsync("cli");
            VethPair veth = await net.AddVethAsync(serverNs, clientNs);
            await net.AddAddressAsync(serverNs, veth.InterfaceA, "203.0.113.1/24");
            await net.AddAddressAsync(clientNs, veth.InterfaceB, "203.0.113.2/24");
            server = await net.StartServerAsync(
                serverNs,
                "dnsmasq",
                "dnsmasq",
                ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--listen-address=203.0.113.1",
                 "--bind-interfaces", "--user=root", "--group=root", "--pid-file=" + net.TempPath("dnsmasq.pid"),
                 "--log-facility=-", "--host-record=probe.dnsw.test,10.9.9.9"],
                [Listener.Udp(53, "203.0.113.1"), Listener.Tcp(53, "203.0.113.1")]);
            tempDir = net.TempDirectory;

            CommandResult dig = await net.ExecAsync(clientNs, "dig", ["@203.0.113.1", "probe.dnsw.test", "A", "+short", "+time=2", "+tries=1"]);
            Assert.Equal("10.9.9.9", dig.EnsureSuccess().StdOut.Trim());

            // setsid + exec-in-place: the handle's pid is the server's own and leads its process group.
            string comm = await File.ReadAllTextAsync($"/proc/{server.Pid.ToString(CultureInfo.InvariantCulture)}/comm");
            Assert.Equal("dnsmasq", comm.Trim());

            await AssertRootHasNothingOf(net);
        }

        Assert.True(server.HasExited, "server still running after teardown");
        Assert.True(await ProcessRunner.WaitForDeathAsync(server.Pid, TimeSpan.FromSeconds(5)), "server pid still alive");
        Assert.DoesNotContain(serverNs, await TestNet.ListNamespacesAsync());
        Assert.False(Directory.Exists(tempDir));
    }

    [Fact]
    public async Task Teardown_RemovesEverything_WhenTheBodyThrows()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("sleep", "dumpcap");
        string[] namespaces = [];
        NetnsProcess? sleeper = null;
        DumpcapCapture? capture = null;
        string tempDir = string.Empty;

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using TestNet net = await TestNet.CreateAsync();
            string x = await net.AddNamespaceAsync("x");
            string y = await net.AddNamespaceAsync("y");
            VethPair veth = await net.AddVethAsync(x, y);
            sleeper = net.StartProcess(x, "sleep", "sleep", ["600"]);
            capture = await net.StartCaptureAsync(x, [veth.InterfaceA]);
            namespaces = [x, y];
            tempDir = net.TempDirectory;
            throw new InvalidOperationException("test body failed");
        });

        Assert.Equal(2, namespaces.Length);
        IReadOnlyList<string> left = await TestNet.ListNamespacesAsync();
        foreach (string ns in namespaces)
        {
            Assert.DoesNotContain(ns, left);
        }

        Assert.NotNull(sleeper);
        Assert.True(await ProcessRunner.WaitForDeathAsync(sleeper.Pid, TimeSpan.FromSeconds(5)), "sleep still alive");
        Assert.NotNull(capture);
        Assert.True(capture.IsStopped, "dumpcap still running");
        Assert.False(Directory.Exists(tempDir), "temp dir left behind");
    }

    [Fact]
    public async Task Sweeper_RemovesNamespacesOfDeadRuns_AndKeepsLiveOnes()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("sleep");

        // Created first so this process's one automatic sweep is over and only the explicit sweep below runs.
        await using TestNet live = await TestNet.CreateAsync();
        string mine = await live.AddNamespaceAsync("live");

        // A pid that has just exited stands in for a crashed earlier test run.
        CommandResult exited = await ProcessRunner.RunAsync("sh", ["-c", "echo $$"]);
        int deadPid = int.Parse(exited.EnsureSuccess().StdOut.Trim(), CultureInfo.InvariantCulture);
        Assert.False(ProcessRunner.IsAlive(deadPid));
        string stale = $"{TestNet.NamePrefix}{deadPid.ToString(CultureInfo.InvariantCulture)}-dead00-crash";
        (await ProcessRunner.RunAsync("ip", ["netns", "add", stale])).EnsureSuccess();
        try
        {
            // A leftover process inside the stale namespace must not keep it alive.
            (await ProcessRunner.RunAsync("ip", ["netns", "exec", stale, "sh", "-c", "setsid sleep 600 >/dev/null 2>&1 < /dev/null &"])).EnsureSuccess();
            CommandResult pids = await ProcessRunner.RunAsync("ip", ["netns", "pids", stale]);
            int leftover = int.Parse(pids.EnsureSuccess().StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(), CultureInfo.InvariantCulture);

            await TestNet.SweepStaleAsync();

            IReadOnlyList<string> left = await TestNet.ListNamespacesAsync();
            Assert.DoesNotContain(stale, left);
            Assert.Contains(mine, left);
            Assert.True(await ProcessRunner.WaitForDeathAsync(leftover, TimeSpan.FromSeconds(5)), "process inside the stale namespace survived the sweep");
        }
        finally
        {
            await ProcessRunner.RunAsync("ip", ["netns", "del", stale]);
        }
    }

    [Fact]
    public async Task AddAddress_RejectsAddressesOutsideTestRanges()
    {
        HostTools.RequireRoot();
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("guard");
        await Assert.ThrowsAsync<ArgumentException>(() => net.AddAddressAsync(ns, "lo", "8.8.8.8/32"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.AddAddressAsync(ns, "lo", "192.0.2.1/32"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.AddAddressAsync(ns, "lo", "2606:4700::1111/128"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.AddRouteAsync(ns, "default", via: "1.1.1.1"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.AddVethAsync(ns, ns, "this-name-is-too-long", "b"));
    }

    private static async Task Ping(TestNet net, string fromNs, string address)
    {
        CommandResult r = await net.ExecAsync(fromNs, "ping", ["-c", "1", "-W", "2", address]);
        Assert.True(r.Succeeded, r.Describe());
    }

    private static async Task AssertRootHasNothingOf(TestNet net)
    {
        // Root namespace: none of our veths (their names carry the run id), none of our addresses.
        CommandResult links = await ProcessRunner.RunAsync("ip", ["-o", "link", "show"]);
        CommandResult veths = await ProcessRunner.RunAsync("ip", ["-o", "link", "show", "type", "veth"]);
        CommandResult addrs = await ProcessRunner.RunAsync("ip", ["-o", "addr", "show"]);
        Assert.DoesNotContain(net.RunId, links.EnsureSuccess().StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("dw" + net.RunId, veths.EnsureSuccess().StdOut, StringComparison.Ordinal);
        foreach (string ns in net.Namespaces)
        {
            // A veth whose peer is in a test namespace would show "link-netns NAME" in the root.
            Assert.DoesNotContain(ns, links.StdOut, StringComparison.Ordinal);
        }

        foreach (string prefix in new[] { "10.201.", "198.51.100.", "203.0.113.", "fd00:201:", "2001:db8:201:" })
        {
            Assert.DoesNotContain(prefix, addrs.EnsureSuccess().StdOut, StringComparison.Ordinal);
        }
    }
}
