using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;
using DnsWarden.Report.Leak;

namespace DnsWarden.Report.Tests;

public sealed partial class LeakHtmlReportTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    internal static LeakEvent Event(
        double seconds, LeakType? type, Severity severity, string iface = "eth0", string dst = "198.51.100.53:53", string? qname = "www.example.test",
        string? process = null, IReadOnlyList<string>? evidence = null, ConnectionFacts? connection = null) => new()
        {
            Kind = type is null ? "exfiltration" : "leak",
            Timestamp = s_t0.AddSeconds(seconds),
            LeakType = type,
            Severity = severity,
            Transport = "udp53",
            Confidence = Confidence.High,
            QName = qname,
            QType = "A",
            Interface = iface,
            RouteClass = "physical",
            Source = "192.168.1.10:40000",
            Destination = dst,
            Process = process is null ? null : new ProcessInfo(4242, process, "/usr/bin/" + process, 1000, process + " --flag", [new ProcessAncestor(1, "init")]),
            Attribution = process is null ? Attribution.FromFile : new Attribution(Confidence.High, null),
            Evidence = evidence ?? ["plaintext DNS query outside the safe path"],
            Frame = 7,
            CorrelationId = "q7",
            Connection = connection,
        };

    private static (string Html, LeakSummary Summary) Render(params LeakEvent[] events)
    {
        var summary = new LeakSummary();
        var listed = new LeakReportEvents();
        foreach (LeakEvent e in events)
        {
            summary.Add(e);
            listed.Add(e);
        }

        string html = LeakHtmlReport.Render(summary, listed.Listed, listed.NotListed, new LeakReportContext
        {
            Source = "capture files test.pcapng",
            Policy = "profile full-tunnel",
            Privacy = "full",
            EvidenceFile = "evidence.pcapng",
        });
        return (html, summary);
    }

    private static LeakEvent[] Mixed() =>
    [
        Event(0, LeakType.A, Severity.P1),
        Event(0.2, LeakType.A, Severity.P1, process: "curl"),
        Event(1, LeakType.C, Severity.P1, dst: "203.0.113.53:853", qname: null),
        Event(2, LeakType.D, Severity.P2, iface: "tun0", connection: new ConnectionFacts("tcp-syn", "eth0", "physical", "203.0.113.80:443", null, 9)),
        Event(3, null, Severity.P2, iface: "tun0", process: "iodine"),
    ];

    [Fact]
    public void Cards_EqualTheSummarysCounts()
    {
        (string html, LeakSummary summary) = Render(Mixed());
        Assert.Equal(summary.Events, Card(html, "events"));
        foreach ((string key, int count) in summary.ByType)
        {
            Assert.Equal(count, Card(html, "type-" + key));
        }

        foreach ((string key, int count) in summary.BySeverity)
        {
            Assert.Equal(count, Card(html, "severity-" + key));
        }
    }

    [Fact]
    public void EveryEvent_HasARow_WithWhatTheFiltersCompare()
    {
        LeakEvent[] events = Mixed();
        (string html, _) = Render(events);
        MatchCollection rows = RowRegex().Matches(html);
        Assert.Equal(events.Length, rows.Count);
        Assert.Equal(["A", "A", "C", "D", "exfiltration"], rows.Select(m => m.Groups["type"].Value));
        Assert.Equal(["(no process)", "curl", "(no process)", "(no process)", "iodine"], rows.Select(m => m.Groups["process"].Value));
        Assert.Equal(["eth0", "eth0", "eth0", "tun0", "tun0"], rows.Select(m => m.Groups["iface"].Value));
        Assert.Contains("frame.comment contains &quot;dnsw event 4:&quot;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileNames_ArriveAsText_NoMarkupOfTheirs()
    {
        var events = new List<LeakEvent>();
        foreach (string h in Hostile.All)
        {
            events.Add(Event(events.Count, LeakType.A, Severity.P1, iface: h, dst: h, qname: h, process: h, evidence: [h]));
        }

        (string html, _) = Render([.. events]);
        foreach (string h in Hostile.All)
        {
            Assert.DoesNotContain(h, html, StringComparison.Ordinal);
        }

        // Our one script element, our one style element, nothing else that a browser would run or load.
        Assert.Single(Regex.Matches(html, "<script", RegexOptions.IgnoreCase));
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(EventHandlerAttribute, html); // no tag of the page carries an on… handler
        Assert.Contains("&lt;/script&gt;&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Page_LoadsNothing_AndItsPolicyAllowsOnlyItsOwnStyleAndScript()
    {
        (string html, _) = Render(Mixed());
        foreach (string reference in new[] { "http:", "https:", "src=", "href=", "url(", "@import", "//cdn", "@font-face" })
        {
            Assert.DoesNotContain(reference, html, StringComparison.OrdinalIgnoreCase);
        }

        Match csp = Regex.Match(html, "http-equiv=\"Content-Security-Policy\" content=\"([^\"]+)\"");
        Assert.True(csp.Success);
        string policy = csp.Groups[1].Value;
        Assert.StartsWith("default-src &#39;none&#39;", policy, StringComparison.Ordinal);
        string script = Regex.Match(html, "<script>(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        string style = Regex.Match(html, "<style>(.*?)</style>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains($"script-src &#39;sha256-{Sha256(script)}&#39;", policy, StringComparison.Ordinal);
        Assert.Contains($"style-src &#39;sha256-{Sha256(style)}&#39;", policy, StringComparison.Ordinal);
    }

    [Fact]
    public void Charts_DrawTheTimelineByType_TheBars_AndTheFlow()
    {
        (string html, _) = Render(Mixed());
        Assert.Contains("data-chart=\"timeline\"", html, StringComparison.Ordinal);
        Assert.Equal(4, Regex.Matches(html, "data-series=").Count);
        Assert.Contains("data-series=\"A\" data-value=\"2\"", html, StringComparison.Ordinal);
        Assert.Contains("data-chart=\"processes\"", html, StringComparison.Ordinal);
        Assert.Contains("data-chart=\"resolvers\"", html, StringComparison.Ordinal);
        Assert.Contains("data-node=\"tun0\" data-value=\"2\"", html, StringComparison.Ordinal);
        Assert.Contains("data-node=\"eth0\" data-value=\"3\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Listing_IsBounded_TheRestCounted()
    {
        var listed = new LeakReportEvents();
        LeakEvent e = Event(0, LeakType.A, Severity.P1);
        for (int i = 0; i < LeakReportEvents.MaxListed + 5; i++)
        {
            listed.Add(e);
        }

        Assert.Equal(LeakReportEvents.MaxListed, listed.Listed.Count);
        Assert.Equal(5, listed.NotListed);
    }

    [Fact]
    public void NoEvents_StillAWholePage()
    {
        (string html, _) = Render();
        Assert.Equal(0, Card(html, "events"));
        Assert.Contains("</html>", html, StringComparison.Ordinal);
        Assert.Empty(RowRegex().Matches(html));
    }

    /// <summary>An element with an event-handler attribute, reading attributes as the page writes them (double-quoted values).</summary>
    internal static readonly Regex EventHandlerAttribute = new("<[a-zA-Z][a-zA-Z0-9-]*(?:\\s+[a-zA-Z:-]+(?:=\"[^\"]*\")?)*(?:\\s+|(?<=\"))on[a-z]+\\s*=", RegexOptions.IgnoreCase);

    private static int Card(string html, string id)
    {
        Match m = Regex.Match(html, $"data-card=\"{Regex.Escape(id)}\" data-value=\"(\\d+)\"><span class=\"n\">(\\d+)</span>");
        Assert.True(m.Success, "no card " + id);
        Assert.Equal(m.Groups[1].Value, m.Groups[2].Value);
        return int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Sha256(string text) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [GeneratedRegex("<tr class=\"ev\" id=\"event-\\d+\" data-type=\"(?<type>[^\"]*)\" data-severity=\"(?<severity>[^\"]*)\" data-process=\"(?<process>[^\"]*)\" data-iface=\"(?<iface>[^\"]*)\">")]
    private static partial Regex RowRegex();
}
