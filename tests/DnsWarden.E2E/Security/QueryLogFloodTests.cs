using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Security;

/// <summary>
/// A jailed flood does not grow <c>--out</c> without bound (issue 14, item 10): 100,000 distinct queries from inside
/// <c>dnsw jail --out</c> leave a file within the default budget (a 1 MiB burst, then 4 MiB a minute), ending with a
/// <c>log_suppressed</c> line; every query is in the file, folded into a count, or counted as suppressed.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class QueryLogFloodTests(SecurityNetFixture fixture) : IClassFixture<SecurityNetFixture>
{
    private const int Queries = 100_000;

    [Fact]
    public async Task AHundredThousandQueriesLeaveAFileUnderTheCapWithTheSuppressionLine()
    {
        fixture.Check();
        string outFile = fixture.Net.TempPath("flood-out.jsonl");
        string script = string.Join("\n",
            "f=$(mktemp)",
            $"seq 1 {Queries} | sed 's/.*/f&.flood.test A/' > \"$f\"",
            $"dnsperf -s {SecurityNetFixture.DnsmasqV4} -d \"$f\" -n 1 -c 4 -q 200 -t 2 | grep -E 'Queries (sent|completed)'",
            "rm -f \"$f\"");
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--out", outFile, "--privacy", "full", "--", "bash", "-c", script],
            TimeSpan.FromMinutes(5));
        Assert.True(r.ExitCode == 0, r.Describe());
        long completed = long.Parse(Regex.Match(r.StdOut, @"Queries completed:\s+(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(completed >= Queries * 0.99, r.StdOut);

        // The budget: a burst of a quarter of the minute's allowance, then 4 MiB a minute, for as long as the jail ran.
        long size = new FileInfo(outFile).Length;
        const long PerMinute = 4L * 1024 * 1024;
        long cap = (PerMinute / 4) + (long)(PerMinute * r.Elapsed.TotalMinutes) + (64 * 1024);
        Assert.True(size <= cap, $"--out is {size} bytes, over {cap} ({r.Elapsed.TotalSeconds:F1} s)");
        Assert.True(size < 25L * 1024 * 1024 / 10, $"--out is {size} bytes");

        // Every query is accounted for: a line, a line's count, or the suppression lines.
        long logged = 0;
        long suppressed = 0;
        foreach (string line in File.ReadLines(outFile))
        {
            JsonElement e = JsonDocument.Parse(line).RootElement;
            string? kind = EventFields.Event(e);
            if (kind != "query")
            {
                if (kind == "log_suppressed")
                {
                    suppressed += e.GetProperty("suppressed").GetInt64();
                }

                continue;
            }

            if (e.GetProperty("qname").GetString()!.EndsWith(".flood.test", StringComparison.Ordinal))
            {
                logged += e.TryGetProperty("count", out JsonElement c) ? c.GetInt32() : 1;
            }
        }

        Assert.True(suppressed > 0, "no log_suppressed line");
        Assert.True(logged + suppressed >= completed, $"{logged} logged + {suppressed} suppressed < {completed} answered");
        Assert.Matches(@"sinkholed [1-9]\d{4,}", r.StdErr);
    }
}
