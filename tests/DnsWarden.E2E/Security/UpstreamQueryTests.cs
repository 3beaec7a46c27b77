using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// The upstream never sees the client's bytes (issue 14, item 13): a query carrying an extra record in every section
/// and ~3.3 KB of EDNS options (Client Subnet, a cookie, 3,000 bytes of an unknown option) goes through the proxy and
/// through the jail; a capture on the upstream's side shows one small query — one question, one OPT without options,
/// none of the client's markers — while the client still gets its answer with its own ID.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class UpstreamQueryTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private const string Name = "web.sec.test";

    [Fact]
    public async Task ThroughTheProxyTheUpstreamGetsASmallCleanQuery()
    {
        fixture.Check();
        const int Port = 5431;
        NetnsProcess proxy = await fixture.StartProxyAsync("upstream-query", $$"""
            { "listen": ["{{SecurityNetFixture.HostV4}}:{{Port}}"], "upstreams": ["udp://{{SecurityNetFixture.DnsmasqV4}}"], "cache": { "enabled": false } }
            """, Port);
        string capture = fixture.Net.TempPath("upstream-query-proxy.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        CommandResult sent = await fixture.Net.ExecAsync(fixture.Inet, "python3",
            [fixture.Script("fatquery.py"), SecurityNetFixture.HostV4, Port.ToString(CultureInfo.InvariantCulture), Name], TimeSpan.FromSeconds(20));
        await dump.StopAsync();
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));

        await AssertCleanUpstreamQueryAsync(capture);
        AssertAnswered(sent);
    }

    [Fact]
    public async Task ThroughTheJailTheUpstreamGetsASmallCleanQuery()
    {
        fixture.Check();
        string policy = fixture.Net.TempPath("upstream-query-jail.json");
        await File.WriteAllTextAsync(policy, """{ "allow": ["sec.test"], "default_action": "block" }""");
        string capture = fixture.Net.TempPath("upstream-query-jail.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);

        // The jailed command aims straight at the upstream; the jail sends every DNS packet to its stub. The program
        // goes on the command line: the jailed user cannot read the test's own directory.
        CommandResult sent = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--mode", "policy", "--policy", policy, "--upstream", "udp://" + SecurityNetFixture.DnsmasqV4,
             "--", "/usr/bin/python3", "-c", SecurityScripts.FatQuery, SecurityNetFixture.DnsmasqV4, "53", Name],
            TimeSpan.FromSeconds(60));
        await dump.StopAsync();

        await AssertCleanUpstreamQueryAsync(capture);
        AssertAnswered(sent);
    }

    private static void AssertAnswered(CommandResult sent)
    {
        Assert.True(sent.ExitCode == 0, sent.Describe());
        string line = sent.StdOut.Trim();
        Assert.Matches(@"^sent 3\d{3} answer id=0xbeef rcode=0 ancount=1 len=\d+$", line);
    }

    private async Task AssertCleanUpstreamQueryAsync(string capture)
    {
        // Every datagram that reached the upstream's address (a lost one may be sent again): size, counts, options, bytes.
        CommandResult r = await ProcessRunner.RunAsync("tshark",
        [
            "-r", capture, "-Y", $"ip.dst == {SecurityNetFixture.DnsmasqV4}",
            "-T", "fields", "-E", "separator=|", "-e", "ip.len", "-e", "ip.flags.mf", "-e", "ip.frag_offset", "-e", "udp.length", "-e", "dns.qry.name", "-e", "dns.count.queries", "-e", "dns.count.answers",
            "-e", "dns.count.auth_rr", "-e", "dns.count.add_rr", "-e", "dns.rr.udp_payload_size", "-e", "dns.opt.code", "-e", "dns.flags.checkdisable", "-e", "udp.payload",
        ]);
        r.EnsureSuccess();
        string[] datagrams = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(datagrams);
        foreach (string datagram in datagrams)
        {
            string[] f = datagram.Split('|');
            Assert.True(f[1] is "0" or "False" && f[2] == "0", $"the query upstream was fragmented ({f[0]}-byte IP fragment): {datagram}");
            f = f[3..];
            int udpLength = int.Parse(f[0], CultureInfo.InvariantCulture);
            Assert.True(udpLength <= 8 + 12 + Name.Length + 2 + 4 + 11, $"{udpLength}-byte datagram upstream: {datagram}");
            Assert.Equal(Name, f[1]);
            Assert.Equal(("1", "0", "0", "1"), (f[2], f[3], f[4], f[5]));
            Assert.Equal("1232", f[6]);   // the client's 4,096 clamped
            Assert.Equal("", f[7]);       // no EDNS option at all: no Client Subnet, no cookie
            Assert.Equal("1", f[8]);      // CD as the client sent it
            string payload = f[9].Replace(":", "", StringComparison.Ordinal);
            foreach (string marker in new[] { "COOKIE01", "smuggled", "SSSSSSSS", "XXXXXXXX" })
            {
                Assert.DoesNotContain(Convert.ToHexStringLower(System.Text.Encoding.ASCII.GetBytes(marker)), payload, StringComparison.Ordinal);
            }
        }

        Assert.True(fixture.QueriesSeen(Name) > 0);
    }
}
