using System.Text.RegularExpressions;
using DnsWarden.Guard.Jail.Report;
using DnsWarden.Report.Jail;

namespace DnsWarden.Report.Tests;

public sealed class JailHtmlReportTests
{
    private static JailReport Report(IReadOnlyList<JailNameCount> names, IReadOnlyList<JailRefusal> refused) => new()
    {
        Command = ["curl", "https://www.example.test/"],
        Mode = "policy",
        Policy = "/etc/dnsw/policy.json",
        Privacy = "full",
        Started = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero),
        Ended = new DateTimeOffset(2026, 11, 24, 12, 0, 2, TimeSpan.Zero),
        ExitStatus = 7,
        QueriesByVerdict = new Dictionary<string, long> { ["forwarded"] = 3, ["sinkholed"] = 2, ["blocked"] = 1, ["cached"] = 0 },
        Names = names,
        Refused = refused,
    };

    [Fact]
    public void Cards_NamesAndRefusals_Sorted_IntoAllowedAndDenied()
    {
        string html = JailHtmlReport.Render(Report(
            [new JailNameCount("www.example.test", "forwarded", 3), new JailNameCount("evil.example.test", "sinkholed", 2), new JailNameCount("ads.example.test", "blocked", 1)],
            [new JailRefusal("unresolved", "tcp", "203.0.113.9", 443, 4), new JailRefusal("dot", "tcp", "2001:db8::53", 853, 1)]));
        Assert.Contains("data-card=\"queries\" data-value=\"6\"", html, StringComparison.Ordinal);
        Assert.Contains("data-card=\"allowed\" data-value=\"3\"", html, StringComparison.Ordinal);
        Assert.Contains("data-card=\"denied\" data-value=\"3\"", html, StringComparison.Ordinal);
        Assert.Contains("data-card=\"refused\" data-value=\"5\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-card=\"verdict-cached\"", html, StringComparison.Ordinal);
        string allowed = Section(html, "allowed"), denied = Section(html, "denied");
        Assert.Contains("www.example.test", allowed, StringComparison.Ordinal);
        Assert.DoesNotContain("evil.example.test", allowed, StringComparison.Ordinal);
        Assert.Contains("evil.example.test", denied, StringComparison.Ordinal);
        Assert.Contains("ads.example.test", denied, StringComparison.Ordinal);
        Assert.Contains("[2001:db8::53]:853", html, StringComparison.Ordinal);
        Assert.Contains("203.0.113.9:443", html, StringComparison.Ordinal);
    }

    [Fact]
    public void InboundRefusal_NamesItsSender_AndTheJailsOwnDoNot()
    {
        string html = JailHtmlReport.Render(Report(
            [],
            [new JailRefusal("inbound", "tcp", "10.77.0.2", 22, 2) { Source = "198.51.100.7" }, new JailRefusal("quic", "udp", "203.0.113.9", 443, 1)]));
        Assert.Contains("data-card=\"refused\" data-value=\"3\"", html, StringComparison.Ordinal);
        string table = html[html.IndexOf("id=\"refused-table\"", StringComparison.Ordinal)..];
        Assert.Contains("<td class=\"mono\">198.51.100.7</td><td class=\"mono\">10.77.0.2:22</td>", table, StringComparison.Ordinal);
        Assert.Contains("<td class=\"mono\">the jail</td><td class=\"mono\">203.0.113.9:443</td>", table, StringComparison.Ordinal);
        Assert.Contains("inbound tcp from 198.51.100.7 to 10.77.0.2:22", html, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileNames_ArriveAsText()
    {
        string html = JailHtmlReport.Render(Report([.. Hostile.All.Select(h => new JailNameCount(h, "forwarded", 1))], []));
        foreach (string h in Hostile.All)
        {
            Assert.DoesNotContain(h, html, StringComparison.Ordinal);
        }

        Assert.Single(Regex.Matches(html, "<script", RegexOptions.IgnoreCase));
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(LeakHtmlReportTests.EventHandlerAttribute, html);
    }

    [Fact]
    public void MinimalPrivacy_SaysTheNamesAreHidden()
    {
        string html = JailHtmlReport.Render(Report([new JailNameCount(null, "forwarded", 3)], []));
        Assert.Contains("(name hidden: privacy minimal)", html, StringComparison.Ordinal);
    }

    private static string Section(string html, string id)
    {
        int start = html.IndexOf($"id=\"{id}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, id);
        int end = html.IndexOf("</div>", start, StringComparison.Ordinal);
        return html[start..end];
    }
}
