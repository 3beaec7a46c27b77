namespace DnsWarden.E2E;

/// <summary>Live <c>dnsw leak watch</c> as a user meets it: without privileges, and asking which interfaces it can open.</summary>
public sealed class CliLiveTests
{
    private static readonly string s_dnsw = Path.Combine(AppContext.BaseDirectory, "dnsw.dll");

    [Fact]
    public async Task WithoutCapturePrivileges_OneLineSaysWhy_NotAStackTrace()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("setpriv", "ip");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nopriv");

        // Root, but with CAP_NET_RAW and CAP_NET_ADMIN gone from the bounding set: what an unprivileged user meets.
        CommandResult run = await net.ExecAsync(ns, "setpriv",
            ["--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin", "--", "dotnet", s_dnsw, "leak", "watch", "--iface", "lo", "--duration", "1s"]);

        Assert.True(run.ExitCode == 4, run.Describe());
        string[] lines = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.Equal("dnsw: cannot capture on lo: permission denied — run as root or grant CAP_NET_RAW and CAP_NET_ADMIN to dnsw", line.Trim());
        Assert.DoesNotContain("Exception", run.StdOut + run.StdErr, StringComparison.Ordinal);
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

        CommandResult run = await net.ExecAsync(b, "dotnet", [s_dnsw, "leak", "watch", "--iface-diag"]);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("lo", run.StdOut, StringComparison.Ordinal);
        Assert.Contains(veth.InterfaceB, run.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(veth.InterfaceA, run.StdOut, StringComparison.Ordinal); // the peer lives in the other namespace
        Assert.Contains("can capture", run.StdOut, StringComparison.Ordinal);
    }
}
