using System.Runtime.Versioning;

namespace DnsWarden.E2E.Proxy;

/// <summary>
/// The short variant of scripts/soak-proxy.sh (the ten-minute run is in docs/BENCHMARKS.md): load at 80 % of the
/// proxy's peak, a flood of malformed and oversized datagrams and stalled TCP clients, the upstream killed and
/// started again twice. The script judges: the proxy alive, every outage answer SERVFAIL or stale, the upstream's
/// answers back within 1 s of its return, resident memory flat over the second half.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SoakTests
{
    [Fact]
    public async Task AMinuteOfLoadFloodAndUpstreamOutages_TheProxyStaysUpRecoversAndHoldsItsMemory()
    {
        if ((HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "dnsmasq", "dnsperf", "dig", "python3")) is string skip)
        {
            Assert.Skip(skip);
        }

        if (!DnswProgram.IsNative)
        {
            Assert.Skip("the soak drives the native binary; run with DNSW_BINARY (scripts/test.sh does)");
        }

        string script = Path.Combine(RepositoryRoot(), "scripts", "soak-proxy.sh");
        CommandResult r = await ProcessRunner.RunAsync("bash", [script, "60", "15", "3"], timeout: TimeSpan.FromMinutes(3));
        string[] lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(r.ExitCode == 0 && lines.Length > 0 && lines[^1] == "soak: ok", r.StdOut + r.StdErr);
        Assert.Contains(lines, l => l.StartsWith("soak: upstream back to first upstream answer (ms): ", StringComparison.Ordinal) && !l.EndsWith("none", StringComparison.Ordinal));
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "scripts", "soak-proxy.sh")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("scripts/soak-proxy.sh not found above " + AppContext.BaseDirectory);
    }
}
