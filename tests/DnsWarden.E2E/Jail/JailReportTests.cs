using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// <c>dnsw jail --report FILE</c>: a real jail run in policy mode (one name allowed, the rest blocked, an unresolved
/// destination and DoT tried) writes the page; its counts equal the run's own query log and refusal lines
/// (<c>--query-log</c>), and headless Chromium renders it offline.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailReportTests(JailNetFixture fixture) : IClassFixture<JailNetFixture>
{
    [Fact]
    public async Task Report_HasTheVerdictsNamesAndRefusals_OfTheRunsOwnLog()
    {
        fixture.Check();
        string policy = fixture.Net.TempPath("jail-report-policy.json");
        await File.WriteAllTextAsync(policy, """{ "allow": ["web.jail.test"], "default_action": "block", "block_action": "nxdomain" }""");
        string report = fixture.Net.TempPath("jail-report.html"), log = fixture.Net.TempPath("jail-report.jsonl");
        string script = string.Join("\n",
            $"echo page=$(curl -s -m 5 http://{JailNetFixture.WebName}/)",
            $"dig @{JailNetFixture.ResolverV4} other.jail.test +time=2 +tries=1 >/dev/null",
            $"dig @{JailNetFixture.ResolverV4} ads.jail.test +time=2 +tries=1 >/dev/null",
            $"curl -s -m 3 http://{JailNetFixture.OtherWebV4}/ >/dev/null || echo unresolved=blocked",
            $"kdig @{JailNetFixture.ResolverV4} +tls {JailNetFixture.WebName} +time=1 +retry=0 >/dev/null 2>&1 || echo dot=blocked",
            "exit 3");
        CommandResult r = await fixture.Net.ExecAsync(
            fixture.Host, DnswProgram.Program,
            [
                .. DnswProgram.Prefix, "jail", "--mode", "policy", "--policy", policy, "--upstream", "udp://" + JailNetFixture.ResolverV4,
                "--privacy", "full", "--query-log", log, "--report", report, "--", "bash", "-c", script,
            ],
            TimeSpan.FromSeconds(90));
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("page=jail web", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("unresolved=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("dot=blocked", r.StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists(report), r.Describe());

        JsonElement[] lines = [.. File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement[] queries = [.. lines.Where(e => EventFields.Event(e) == "query")];
        JsonElement[] refused = [.. lines.Where(e => e.TryGetProperty("event", out JsonElement ev) && ev.GetString() == "blocked_connection")];
        string html = await File.ReadAllTextAsync(report);
        // A line stands for its "count" queries when the log folded repeats into it.
        Assert.Equal(queries.Sum(Queries), Card(html, "queries"));
        Assert.Equal(queries.Where(e => e.GetProperty("verdict").GetString() is "forwarded" or "cached" or "local").Sum(Queries), Card(html, "allowed"));
        Assert.Equal(queries.Where(e => e.GetProperty("verdict").GetString() == "blocked").Sum(Queries), Card(html, "verdict-blocked"));
        Assert.Equal(refused.Length, Card(html, "refused"));
        Assert.True(refused.Length > 0);

        string? skip = HeadlessChromium.SkipReason();
        if (skip is not null)
        {
            Assert.Skip(skip);
        }

        HeadlessChromium browser = await HeadlessChromium.StartAsync(fixture.Net);
        string url = new Uri(report).AbsoluteUri;
        CommandResult page = await browser.DumpDomAsync(url);
        string dom = page.StdOut;
        Assert.Equal(Card(html, "queries"), Card(dom, "queries"));
        Assert.Contains("<title>dnsw jail report</title>", dom, StringComparison.Ordinal);
        Assert.Contains("web.jail.test", Section(dom, "allowed"), StringComparison.Ordinal);
        Assert.Contains("other.jail.test", Section(dom, "denied"), StringComparison.Ordinal);
        Assert.Contains("ads.jail.test", Section(dom, "denied"), StringComparison.Ordinal);
        Assert.DoesNotContain("other.jail.test", Section(dom, "allowed"), StringComparison.Ordinal);
        string destinations = Section(dom, "refused-table");
        Assert.Contains($"{JailNetFixture.OtherWebV4}:80", destinations, StringComparison.Ordinal);
        Assert.Contains($"{JailNetFixture.ResolverV4}:853", destinations, StringComparison.Ordinal);

        string png = fixture.Net.TempPath("jail-report.png");
        await browser.ScreenshotAsync(url, png, 1400, 1800);
        string? keep = Environment.GetEnvironmentVariable("DNSW_E2E_ARTIFACTS");
        if (!string.IsNullOrEmpty(keep))
        {
            string dir = Path.Combine(keep, "jail");
            Directory.CreateDirectory(dir);
            File.Copy(png, Path.Combine(dir, "jail-report.png"), overwrite: true);
            File.Copy(report, Path.Combine(dir, "jail-report.html"), overwrite: true);
        }
    }

    private static int Queries(JsonElement line) => line.TryGetProperty("count", out JsonElement n) ? n.GetInt32() : 1;

    private static int Card(string html, string id)
    {
        Match m = Regex.Match(html, $"data-card=\"{Regex.Escape(id)}\" data-value=\"\\d+\"><span class=\"n\">(\\d+)</span>");
        Assert.True(m.Success, "no card " + id);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>The markup from the element with this id to the end of the section or box it opens.</summary>
    private static string Section(string html, string id)
    {
        int start = html.IndexOf($"id=\"{id}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, "no element " + id);
        int end = html.IndexOf(id.EndsWith("-table", StringComparison.Ordinal) ? "</table>" : "</div>", start, StringComparison.Ordinal);
        return html[start..end];
    }
}
