using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.E2E;

/// <summary>
/// `dnsw` help and the human report, compared with files under Snapshots/. A deliberate change of the output
/// is recorded by running the tests with DNSW_UPDATE_SNAPSHOTS=1 and committing the new files.
/// </summary>
public sealed class CliSnapshotTests
{

    [Theory]
    [InlineData("help-root.txt", new[] { "--help" })]
    [InlineData("help-leak-watch.txt", new[] { "leak", "watch", "--help" })]
    [InlineData("help-tun.txt", new[] { "tun", "--help" })]
    [InlineData("help-leak.txt", new[] { "leak", "--help" })]
    [InlineData("help-leak-report.txt", new[] { "leak", "report", "--help" })]
    [InlineData("help-leak-status.txt", new[] { "leak", "status", "--help" })]
    [InlineData("help-proxy.txt", new[] { "proxy", "--help" })]
    [InlineData("help-jail.txt", new[] { "jail", "--help" })]
    [InlineData("help-install.txt", new[] { "install", "--help" })]
    public async Task Help_MatchesSnapshot(string snapshot, string[] args)
    {
        CommandResult run = await ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, run.Describe());
        AssertSnapshot(snapshot, run.StdOut);
    }

    [Fact]
    public async Task HumanReport_MatchesSnapshot()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dnsw-snapshot-{Guid.NewGuid():N}.pcapng");
        try
        {
            WriteCapture(path);
            // Event lines are in the reader's time zone, with its offset: UTC here, so the snapshot is the same everywhere.
            CommandResult run = await ProcessRunner.RunAsync("env", ["TZ=UTC", DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--pcap", path], TimeSpan.FromSeconds(60));
            Assert.True(run.ExitCode == 2, run.Describe());
            AssertSnapshot("leak-watch-human.txt", run.StdOut);

            CommandResult india = await ProcessRunner.RunAsync("env", ["TZ=Asia/Kolkata", DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--pcap", path], TimeSpan.FromSeconds(60));
            Assert.StartsWith("05:30:00.000+05:30 Leak-A P1", india.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("\u001b[", run.StdOut + india.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The same report on a terminal (a pseudo-terminal from <c>script</c>, TERM set): Spectre's breakdown charts by
    /// type and severity and bar charts for resolvers and the timeline, in colour, instead of the <c>#</c> bars a pipe gets.
    /// </summary>
    [Fact]
    public async Task HumanReport_OnATerminal_DrawsCharts()
    {
        HostTools.RequireTools("script");
        string path = Path.Combine(Path.GetTempPath(), $"dnsw-terminal-{Guid.NewGuid():N}.pcapng");
        try
        {
            WriteCapture(path);
            string[] argv = [DnswProgram.Program, .. DnswProgram.Prefix, "leak", "watch", "--pcap", path];
            string command = string.Join(' ', argv.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
            CommandResult run = await ProcessRunner.RunAsync(
                "sh", ["-c", "TERM=xterm-256color COLUMNS=120 exec script -qec \"$1\" /dev/null </dev/null", "sh", command], TimeSpan.FromSeconds(60));
            Assert.True(run.ExitCode == 2, run.Describe());
            Assert.Contains("\u001b[38;", run.StdOut, StringComparison.Ordinal);
            // Event lines in their severity's colour on a terminal: both events here are P1, red.
            Assert.Equal(2, Regex.Matches(run.StdOut, @"\u001b\[31m\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d Leak-A P1 [^\u001b]*\u001b\[0m").Count);
            string screen = Regex.Replace(run.StdOut, @"\u001b(\[[0-9;?]*[A-Za-z]|[=>])", "").Replace("\r", "", StringComparison.Ordinal);
            Assert.Contains("■ Leak-A 2", screen, StringComparison.Ordinal);
            Assert.Contains("■ P1 2", screen, StringComparison.Ordinal);
            Assert.Matches(new Regex(@"^ +203\.0\.113\.53:53 +█+ 1 *$", RegexOptions.Multiline), screen);
            Assert.Matches(new Regex(@"^ +\[2001:db8::53\]:53 +█+ 1 *$", RegexOptions.Multiline), screen);
            Assert.Matches(new Regex(@"^ +00:00:00 +█+ 2 *$", RegexOptions.Multiline), screen);
            Assert.DoesNotContain("###", screen, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A small, fixed capture: a query and its answer on eth0, an NXDOMAIN on wlan0, garbage on port 53.</summary>
    private static void WriteCapture(string path)
    {
        using var writer = new PcapNgWriter(File.Create(path));
        int eth0 = writer.AddInterface(LinkType.Raw, "eth0");
        int wlan0 = writer.AddInterface(LinkType.Raw, "wlan0");
        long t = 1_767_225_600_000_000_000L; // 2026-01-01T00:00:00Z
        IpAddr client = IpAddr.Parse("192.168.1.20"), resolver = IpAddr.Parse("203.0.113.53");
        IpAddr client6 = IpAddr.Parse("2001:db8::20"), resolver6 = IpAddr.Parse("2001:db8::53");

        byte[] query = Query("example.test", 0x1111, DnsType.A);
        writer.WritePacket(eth0, t, Udp(client, resolver, 40000, 53, query));
        writer.WritePacket(eth0, t + 2_000_000, Udp(resolver, client, 53, 40000, Answer(query, "198.51.100.80")));
        byte[] missing = Query("missing.example.test", 0x2222, DnsType.AAAA);
        writer.WritePacket(wlan0, t + 5_000_000, Udp(client6, resolver6, 40001, 53, missing));
        writer.WritePacket(wlan0, t + 6_000_000, Udp(resolver6, client6, 53, 40001, NxDomain(missing)));
        writer.WritePacket(wlan0, t + 7_000_000, Udp(client6, resolver6, 40002, 53, "not dns"u8.ToArray()));
    }

    private static byte[] Query(string name, ushort id, DnsType type)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, type, true, null, out int n));
        return buffer[..n];
    }

    private static byte[] Answer(byte[] query, string address)
    {
        byte[] buffer = new byte[512];
        var writer = new DnsMessageWriter(buffer);
        Assert.True(writer.TryBeginResponse(query, DnsRcode.NoError));
        Assert.True(writer.TryWriteA(DnsSection.Answer, "example.test", 300, IpAddr.Parse(address)));
        Assert.True(writer.TryFinish(out int n));
        return buffer[..n];
    }

    private static byte[] NxDomain(byte[] query)
    {
        byte[] buffer = new byte[512];
        var writer = new DnsMessageWriter(buffer);
        Assert.True(writer.TryBeginResponse(query, DnsRcode.NxDomain));
        Assert.True(writer.TryFinish(out int n));
        return buffer[..n];
    }

    private static byte[] Udp(IpAddr src, IpAddr dst, ushort sport, ushort dport, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sport, dport, payload, out int n));
        return buffer[..n];
    }

    private static void AssertSnapshot(string name, string actual, [CallerFilePath] string sourceFile = "")
    {
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        string file = Path.Combine(Path.GetDirectoryName(sourceFile)!, "Snapshots", name);
        if (Environment.GetEnvironmentVariable("DNSW_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(file, actual);
            return;
        }

        Assert.True(File.Exists(file), $"no snapshot {file}; run with DNSW_UPDATE_SNAPSHOTS=1 to record it");
        Assert.Equal(File.ReadAllText(file), actual);
    }
}
