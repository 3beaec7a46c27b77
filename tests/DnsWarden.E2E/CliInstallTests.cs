namespace DnsWarden.E2E;

/// <summary>
/// <c>dnsw install</c> under a temporary prefix, read back with the tools a user has: the binary runs, `man -l` shows
/// every command's page, bash and fish complete from the installed scripts, zsh parses its function, and
/// systemd-analyze accepts the unit. Plus --version on every command.
/// </summary>
public sealed class CliInstallTests : IDisposable
{
    private static readonly string[] s_commands = ["", "leak", "leak watch", "leak report", "leak status", "proxy", "jail", "tun", "install"];

    private readonly string _prefix = Directory.CreateTempSubdirectory("dnsw-install-").FullName;

    public void Dispose() => Directory.Delete(_prefix, recursive: true);

    [Fact]
    public async Task Install_PutsEveryPieceUnderThePrefix_AndEachWorks()
    {
        HostTools.RequireTools("man", "bash", "zsh", "fish", "systemd-analyze");
        if (!DnswProgram.IsNative)
        {
            Assert.Skip("install copies the native binary; run with DNSW_BINARY (scripts/test.sh does)");
        }

        CommandResult install = await Dnsw(["install", "--prefix", _prefix]);
        Assert.True(install.ExitCode == 0, install.Describe());
        string bin = Path.Combine(_prefix, "bin", "dnsw");
        Assert.Contains($"installed {bin}", install.StdOut, StringComparison.Ordinal);

        // The binary itself.
        CommandResult version = await ProcessRunner.RunAsync(bin, ["--version"]);
        Assert.Equal((await Dnsw(["--version"])).StdOut, version.StdOut);

        // A man page per command, rendered by man(1) from the file.
        foreach (string command in s_commands)
        {
            string page = Path.Combine(_prefix, "share", "man", "man1", string.Join('-', ("dnsw " + command).Trim().Split(' ')) + ".1");
            CommandResult man = await ProcessRunner.RunAsync("env", ["LC_ALL=C", "MANWIDTH=200", "man", "-P", "cat", "-l", page]);
            Assert.True(man.ExitCode == 0 && man.StdErr.Length == 0, man.Describe());
            CommandResult help = await Dnsw([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
            foreach (string option in help.StdOut.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("--", StringComparison.Ordinal)).Select(l => l.Split(' ')[0].TrimEnd(',')))
            {
                Assert.True(man.StdOut.Contains(option, StringComparison.Ordinal), $"{page} lacks {option}\n{man.StdOut}");
            }
        }

        Assert.Contains("dnsw-leak-watch(1)", (await ProcessRunner.RunAsync("env", ["LC_ALL=C", "man", "-P", "cat", "-l", Path.Combine(_prefix, "share", "man", "man1", "dnsw-leak.1")])).StdOut, StringComparison.Ordinal);

        // bash: complete a subcommand, an option's fixed values, and a path after --pcap.
        string bash = Path.Combine(_prefix, "share", "bash-completion", "completions", "dnsw");
        Assert.Equal("watch", await BashComplete(bash, "dnsw", "leak", "wa"));
        Assert.Equal("full minimal redacted", await BashComplete(bash, "dnsw", "proxy", "--privacy", ""));
        Assert.Equal("--pcap", await BashComplete(bash, "dnsw", "leak", "watch", "--pc"));
        Assert.Equal(bash, await BashComplete(bash, "dnsw", "leak", "watch", "--pcap", bash[..^2]));

        // fish: its own completion engine asked what it would offer.
        string fish = Path.Combine(_prefix, "share", "fish", "vendor_completions.d", "dnsw.fish");
        CommandResult fishWatch = await ProcessRunner.RunAsync("fish", ["--no-config", "-c", $"source {fish}; complete -C 'dnsw leak wa'"]);
        Assert.True(fishWatch.ExitCode == 0, fishWatch.Describe());
        Assert.StartsWith("watch\t", fishWatch.StdOut, StringComparison.Ordinal);
        CommandResult fishPrivacy = await ProcessRunner.RunAsync("fish", ["--no-config", "-c", $"source {fish}; complete -C 'dnsw proxy --privacy '"]);
        Assert.Equal(["full", "minimal", "redacted"], fishPrivacy.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).Order());

        // zsh: the function parses.
        CommandResult zsh = await ProcessRunner.RunAsync("zsh", ["-n", Path.Combine(_prefix, "share", "zsh", "site-functions", "_dnsw")]);
        Assert.True(zsh.ExitCode == 0 && zsh.StdErr.Length == 0, zsh.Describe());

        // systemd: the unit names the installed binary and systemd-analyze finds nothing wrong with it.
        string unit = Path.Combine(_prefix, "lib", "systemd", "system", "dnsw-proxy.service");
        Assert.Contains($"ExecStart={bin} proxy --config /etc/dnsw/proxy.json", await File.ReadAllTextAsync(unit), StringComparison.Ordinal);
        CommandResult verify = await ProcessRunner.RunAsync("systemd-analyze", ["verify", "--man=no", unit]);
        Assert.True(verify.ExitCode == 0 && verify.StdErr.Trim().Length == 0, verify.Describe());
    }

    [Fact]
    public async Task EveryCommand_SaysItsNameAndVersion()
    {
        string expected = (await Dnsw(["--version"])).StdOut.Trim();
        Assert.Matches(@"^dnsw \d+\.\d+\.\d+", expected);
        foreach (string command in s_commands)
        {
            CommandResult run = await Dnsw([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--version"]);
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Equal(expected, run.StdOut.Trim());
        }
    }

    /// <summary>What the installed bash function offers for the words typed (the last one being completed).</summary>
    private static async Task<string> BashComplete(string script, params string[] words)
    {
        string array = string.Join(' ', words.Select(w => "'" + w + "'"));
        CommandResult run = await ProcessRunner.RunAsync("bash", ["--norc", "-c", $"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={words.Length - 1}; _dnsw; printf '%s\\n' \"${{COMPREPLY[@]}}\" | sort | paste -sd' '"]);
        Assert.True(run.ExitCode == 0, run.Describe());
        return run.StdOut.Trim();
    }

    private static Task<CommandResult> Dnsw(string[] args) =>
        ProcessRunner.RunAsync(DnswProgram.Program, [.. DnswProgram.Prefix, .. args], TimeSpan.FromSeconds(60));
}
