namespace DnsWarden.E2E.Proxy;

/// <summary>
/// The proxy's own lines as a service writes them: under systemd with standard error to the journal (a stream socket
/// whose device and inode $JOURNAL_STREAM names, systemd.exec(5)), each line starts with its syslog priority, so
/// <c>journalctl -p warning</c> finds the failures; anywhere else the lines are plain.
/// </summary>
public sealed class ProxyJournalTests
{
    // The journal's end: a stream socket as standard error, $JOURNAL_STREAM set as systemd sets it (or naming another
    // inode, or unset), the first line read, SIGTERM (unless the port was taken: then the proxy ends by itself), the
    // rest read to the end and the exit status last.
    private const string Journal = """
        import os, signal, socket, subprocess, sys
        mode, port = sys.argv[1], int(sys.argv[2])
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        st = os.fstat(theirs.fileno())
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if mode == "journal": env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        if mode == "other": env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"
        taken = None
        if len(sys.argv) > 3 and sys.argv[3] == "taken":
            taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            taken.bind(("127.0.0.1", port))
        p = subprocess.Popen(sys.argv[4:], stderr=theirs, stdout=subprocess.DEVNULL, env=env)
        theirs.close()
        lines = ours.makefile("rb")
        first = lines.readline()
        sys.stdout.buffer.write(first)
        sys.stdout.flush()
        if taken is None:
            p.send_signal(signal.SIGTERM)
        sys.stdout.buffer.write(lines.read())
        print("exit", p.wait())
        """;

    private static int s_port = 5600;

    private static async Task<CommandResult> ProxyAsync(TestNet net, string ns, string mode, bool taken = false)
    {
        int port = Interlocked.Increment(ref s_port);
        // The upstream is never asked: no query is sent, only the service's lines are read.
        return await net.ExecAsync(ns, "/usr/bin/python3",
            ["-c", Journal, mode, port.ToString(System.Globalization.CultureInfo.InvariantCulture), taken ? "taken" : "free",
             DnswProgram.Program, .. DnswProgram.Prefix, "proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "udp://127.0.0.1:9"], TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task ToTheJournal_EachLineCarriesItsPriority_ElsewhereLinesArePlain()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("journal");

        CommandResult journal = await ProxyAsync(net, ns, "journal");
        Assert.True(journal.Succeeded, journal.Describe());
        string[] lines = journal.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("<6>dnsw proxy: serving udp+tcp 127.0.0.1:", lines[0], StringComparison.Ordinal);
        Assert.All(lines[..^1], l => Assert.Matches("^<[0-7]>dnsw proxy: ", l));
        Assert.Equal("exit 0", lines[^1]);

        // A failure is an error to the journal: <3>, what journalctl -p err shows.
        CommandResult refused = await ProxyAsync(net, ns, "journal", taken: true);
        string failure = refused.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Matches(@"^<3>dnsw proxy: cannot listen on udp 127\.0\.0\.1:\d+: Address already in use$", failure);
        Assert.EndsWith("exit 4", refused.StdOut.TrimEnd(), StringComparison.Ordinal);

        // Standard error that is not the journal's stream: no prefix, whatever the environment says.
        foreach (string mode in new[] { "unset", "other" })
        {
            CommandResult plain = await ProxyAsync(net, ns, mode);
            Assert.True(plain.Succeeded, plain.Describe());
            Assert.StartsWith("dnsw proxy: serving udp+tcp 127.0.0.1:", plain.StdOut, StringComparison.Ordinal);
            Assert.DoesNotMatch("(?m)^<[0-7]>", plain.StdOut);
        }
    }
}
