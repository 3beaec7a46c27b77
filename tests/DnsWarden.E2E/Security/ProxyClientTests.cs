using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Security;

/// <summary>
/// <c>dnsw proxy</c> is no open resolver and no reflector, and one client cannot starve the rest (issue 14, item 12):
/// a client outside the listening subnet is refused; a flooding client gets at most its rate of answers while a
/// well-behaved neighbour keeps getting answers; one client's 1,024 idle TCP connections leave room for others. The
/// far side: dnsmasq's log (refused names never reach it), a capture of what the flooder received, the clients' own results.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ProxyClientTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private static string Config(int port, string extra = "") => $$"""
        { "listen": ["{{SecurityNetFixture.HostV4}}:{{port}}"], "upstreams": ["udp://{{SecurityNetFixture.DnsmasqV4}}"]{{extra}} }
        """;

    [Fact]
    public async Task AClientOutsideTheListeningSubnetIsRefusedOverUdpAndTcp()
    {
        fixture.Check();
        const int Port = 5461;
        NetnsProcess proxy = await fixture.StartProxyAsync("clients-default", Config(Port), Port);
        CommandResult refused = await fixture.DigAsync(fixture.Far, SecurityNetFixture.FarV4, SecurityNetFixture.HostV4, Port, "far-udp.sec.test");
        Assert.Contains("status: REFUSED", refused.StdOut, StringComparison.Ordinal);
        Assert.Contains($"clients 127.0.0.0/8 ::1/128 10.64.0.0/24", proxy.StdErr, StringComparison.Ordinal);
        CommandResult closed = await fixture.DigAsync(fixture.Far, SecurityNetFixture.FarV4, SecurityNetFixture.HostV4, Port, "far-tcp.sec.test", "+tcp");
        Assert.DoesNotContain("status: NOERROR", closed.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("ANSWER SECTION", closed.StdOut, StringComparison.Ordinal);
        CommandResult lan = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.ClientV4, SecurityNetFixture.HostV4, Port, SecurityNetFixture.WebName, "+short");
        Assert.Equal(SecurityNetFixture.WebV4, lan.EnsureSuccess().StdOut.Trim());
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
        Assert.Matches(@"client_refused [2-9]", proxy.StdErr);

        // --allow-client replaces the default: now the far network is served and the LAN is not.
        NetnsProcess widened = await fixture.StartProxyAsync("clients-far", Config(Port), Port, SecurityNetFixture.HostV4, "--allow-client", "10.65.0.0/24");
        CommandResult far = await fixture.DigAsync(fixture.Far, SecurityNetFixture.FarV4, SecurityNetFixture.HostV4, Port, "far-allowed.sec.test");
        Assert.Contains("status: NXDOMAIN", far.StdOut, StringComparison.Ordinal); // dnsmasq's answer: it was asked
        CommandResult lanNow = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.ClientV4, SecurityNetFixture.HostV4, Port, "lan-refused.sec.test");
        Assert.Contains("status: REFUSED", lanNow.StdOut, StringComparison.Ordinal);
        await widened.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));

        await fixture.WaitForDnsmasqLogAsync("clients");
        Assert.Equal(0, fixture.QueriesSeen("far-udp.sec.test"));
        Assert.Equal(0, fixture.QueriesSeen("far-tcp.sec.test"));
        Assert.Equal(0, fixture.QueriesSeen("lan-refused.sec.test"));
        Assert.True(fixture.QueriesSeen("far-allowed.sec.test") > 0);
    }

    [Fact]
    public async Task AFloodingClientGetsItsRateAndAWellBehavedNeighbourKeepsGettingAnswers()
    {
        fixture.Check();
        const int Port = 5462;
        const int Rate = 200;
        NetnsProcess proxy = await fixture.StartProxyAsync("clients-rrl", Config(Port, ", \"metrics\": { \"listen\": \"127.0.0.1:9462\" }"), Port);
        string capture = fixture.Net.TempPath("rrl.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture,
            $"udp and host {SecurityNetFixture.FlooderV4} and port {Port.ToString(CultureInfo.InvariantCulture)}");
        string queries = fixture.Net.TempPath("rrl-queries.txt");
        await File.WriteAllLinesAsync(queries, [SecurityNetFixture.WebName + " A"]);

        // 5,000 queries a second from one address for as long as the neighbour needs.
        NetnsProcess flooder = fixture.Net.StartProcess(fixture.Inet, "flooder", "dnsperf",
            ["-a", SecurityNetFixture.FlooderV4, "-s", SecurityNetFixture.HostV4, "-p", Port.ToString(CultureInfo.InvariantCulture), "-d", queries, "-l", "120", "-Q", "5000", "-q", "1000", "-t", "1"]);
        await WaitForRateLimitedAsync(flooder);

        for (int i = 0; i < 30; i++)
        {
            CommandResult r = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.NeighbourV4, SecurityNetFixture.HostV4, Port, SecurityNetFixture.WebName, "+short");
            Assert.Equal(SecurityNetFixture.WebV4, r.EnsureSuccess().StdOut.Trim());
        }

        Assert.False(flooder.HasExited, "the flood ended before the neighbour was done");
        await flooder.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        await dump.StopAsync();
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));

        // What the flooder received: full answers at most at its rate (plus one second's burst), the rest dropped or
        // truncated (no larger than the query); in bytes, less than it sent.
        CommandResult r2 = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-T", "fields", "-E", "separator=|",
            "-e", "frame.time_epoch", "-e", "ip.src", "-e", "udp.length", "-e", "dns.count.answers", "-e", "dns.flags.truncated"]);
        r2.EnsureSuccess();
        var responses = new List<(double Time, int Length, int Answers, bool Truncated)>();
        long queryBytes = 0;
        foreach (string line in r2.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('|');
            if (f[1] == SecurityNetFixture.HostV4)
            {
                responses.Add((double.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture),
                    int.Parse(f[3], CultureInfo.InvariantCulture), f[4] is "1" or "True"));
            }
            else
            {
                queryBytes += int.Parse(f[2], CultureInfo.InvariantCulture);
            }
        }

        double seconds = responses.Max(x => x.Time) - responses.Min(x => x.Time);
        int full = responses.Count(x => x.Answers > 0);
        Assert.True(full <= (Rate * (seconds + 1)) + Rate, $"{full} full answers in {seconds:F1} s");
        Assert.Contains(responses, x => x.Truncated && x.Answers == 0);
        long responseBytes = responses.Sum(x => (long)x.Length);
        Assert.True(responseBytes < queryBytes, $"{responseBytes} bytes answered to {queryBytes} bytes asked");
        Assert.Matches(@"rate_limited [1-9]", proxy.StdErr);
    }

    [Fact]
    public async Task OneClientsThousandIdleTcpConnectionsLeaveRoomForAnother()
    {
        fixture.Check();
        const int Port = 5463;
        NetnsProcess proxy = await fixture.StartProxyAsync("clients-tcp", Config(Port), Port);
        NetnsProcess holder = fixture.Net.StartProcess(fixture.Inet, "holdtcp", "python3",
            ["-u", fixture.Script("holdtcp.py"), SecurityNetFixture.HostV4, Port.ToString(CultureInfo.InvariantCulture), SecurityNetFixture.FlooderV4, "1024"]);
        await holder.WaitForOutputAsync("connected ", TimeSpan.FromSeconds(60));

        // The proxy keeps the holder's share and closes the rest on arrival.
        int held = await EstablishedFromAsync(SecurityNetFixture.FlooderV4, Port);
        Assert.True(held <= 64, $"{held} connections of one client held");

        CommandResult other = await fixture.DigAsync(fixture.Inet, SecurityNetFixture.NeighbourV4, SecurityNetFixture.HostV4, Port, SecurityNetFixture.WebName, "+tcp", "+short");
        Assert.Equal(SecurityNetFixture.WebV4, other.EnsureSuccess().StdOut.Trim());
        await holder.StopAsync(ProcessSignal.Kill);
        await proxy.StopAsync(ProcessSignal.Terminate, TimeSpan.FromSeconds(10));
    }

    /// <summary>Waits until the proxy's metrics count rate-limited queries: the flood is on and being limited.</summary>
    private async Task WaitForRateLimitedAsync(NetnsProcess flooder)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            CommandResult m = await fixture.Net.ExecAsync(fixture.Host, "curl", ["-s", "http://127.0.0.1:9462/metrics"], TimeSpan.FromSeconds(10));
            Match limited = Regex.Match(m.StdOut, @"dnsw_queries_total\{protocol=""udp"",outcome=""rate_limited""\} (\d+)");
            if (limited.Success && long.Parse(limited.Groups[1].Value, CultureInfo.InvariantCulture) > 0)
            {
                return;
            }

            Assert.False(flooder.HasExited, flooder.Describe());
            Assert.True(DateTime.UtcNow < deadline, "no query was rate limited:\n" + m.StdOut);
            await Task.Delay(100);
        }
    }

    /// <summary>The established connections the proxy holds from <paramref name="client"/>, once the count stops falling.</summary>
    private async Task<int> EstablishedFromAsync(string client, int port)
    {
        int last = int.MaxValue;
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            CommandResult ss = await fixture.Net.ExecAsync(fixture.Host, "ss", ["-Htn", "state", "established", "( sport = :" + port.ToString(CultureInfo.InvariantCulture) + " )"]);
            int now = ss.StdOut.Split('\n').Count(l => l.Contains(client + ":", StringComparison.Ordinal));
            if (now <= 64 || now == last)
            {
                return now;
            }

            last = now;
            await Task.Delay(200);
        }

        return last;
    }
}
