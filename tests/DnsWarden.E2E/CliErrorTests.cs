using System.Net;
using System.Net.Sockets;

namespace DnsWarden.E2E;

/// <summary>
/// Errors as GNU tools give them, from the real binary: one line on stderr naming what is wrong (the file, the
/// option, the address and protocol), then where to read more for a usage error; no .NET text, no help dump, and
/// the documented exit status.
/// </summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-cli-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(new[] { "leak", "watch", "--bogus" }, "dnsw: Unrecognized command or argument '--bogus'.", "dnsw leak watch")]
    [InlineData(new[] { "leak", "watch", "--duration", "soon" }, "dnsw: --duration: 'soon' is not a duration (expected a number and a unit: ms, s, m, h or d, e.g. 500ms, 1.5s, 2m (a number alone is seconds))", "dnsw leak watch")]
    [InlineData(new string[0], "dnsw: Required command was not provided.", "dnsw")]
    [InlineData(new[] { "proxy", "--upstream", "10.0.0.1:53" }, "dnsw: --upstream: '10.0.0.1:53' is not an upstream URL (expected udp://, tcp://, tls:// or https:// and an address)", "dnsw proxy")]
    [InlineData(new[] { "jail", "--upstream", "10.0.0.1:53", "--", "true" }, "dnsw: --upstream: '10.0.0.1:53' is not an upstream URL (expected udp://, tcp://, tls:// or https:// and an address)", "dnsw jail")]
    [InlineData(new[] { "tun", "--netns", "n", "--upstream", "10.0.0.1:53" }, "dnsw: --upstream: '10.0.0.1:53' is not an upstream URL (expected udp://, tcp://, tls:// or https:// and an address)", "dnsw tun")]
    // A mistyped option before "--" is not taken for the command to run (nor is anything set up for it).
    [InlineData(new[] { "jail", "--alow", "a.test", "--", "true" }, "dnsw: Unrecognized command or argument '--alow'.", "dnsw jail")]
    [InlineData(new[] { "jail", "--bogus" }, "dnsw: Unrecognized command or argument '--bogus'.", "dnsw jail")]
    [InlineData(new[] { "jail", "--privacy", "some", "--", "true" }, "dnsw: Argument 'some' not recognized. Must be one of: 'full', 'redacted', 'minimal'", "dnsw jail")]
    public async Task AUsageError_IsOneLineAndAPointerToHelp(string[] args, string line, string command)
    {
        CommandResult run = await Dnsw(args);

        Assert.True(run.ExitCode == 1, run.Describe());
        Assert.Equal("", run.StdOut);
        Assert.Equal([line, $"Try '{command} --help' for more information."], Lines(run.StdErr));
    }

    [Fact]
    public async Task Help_IsStillHelp()
    {
        CommandResult run = await Dnsw(["leak", "watch", "--help"]);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("--pcap", run.StdOut, StringComparison.Ordinal);
        Assert.Equal("", run.StdErr);
    }

    [Fact]
    public async Task OutputPaths_ThatAreDirectoriesOrMissing_AreOneLineEach()
    {
        string pcap = Path.Combine(_dir, "empty.pcap");
        await File.WriteAllBytesAsync(pcap, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0]);
        string missingDir = Path.Combine(_dir, "no", "such", "dir", "x.jsonl");

        (string[] Args, string Expected)[] cases =
        [
            (["leak", "watch", "--pcap", pcap, "--out", _dir], $"dnsw: --out {_dir}: Is a directory"),
            (["leak", "watch", "--pcap", pcap, "--observations", _dir], $"dnsw: --observations {_dir}: Is a directory"),
            (["leak", "watch", "--pcap", pcap, "--out", missingDir], $"dnsw: --out {missingDir}: No such file or directory"),
            (["leak", "report", _dir], $"dnsw: {_dir}: Is a directory"),
            (["leak", "report", Path.Combine(_dir, "nope.jsonl")], $"dnsw: {Path.Combine(_dir, "nope.jsonl")}: No such file or directory"),
        ];
        foreach ((string[] args, string expected) in cases)
        {
            CommandResult run = await Dnsw(args);

            Assert.True(run.ExitCode == 3, run.Describe());
            Assert.Equal([expected], Lines(run.StdErr));
            Assert.DoesNotContain("   at ", run.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", run.StdOut, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AProxyWhoseAddressIsTaken_SaysWhichAddressAndProtocol()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        CommandResult run = await Dnsw(["proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "udp://127.0.0.1:9"]);

        Assert.True(run.ExitCode == 4, run.Describe());
        Assert.Equal([$"dnsw proxy: cannot listen on udp 127.0.0.1:{port}: Address already in use"], Lines(run.StdErr));
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Task<CommandResult> Dnsw(string[] args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));
}
