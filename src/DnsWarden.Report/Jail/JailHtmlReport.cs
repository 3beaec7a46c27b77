using System.Globalization;
using DnsWarden.Guard.Jail.Report;
using DnsWarden.Report.Html;
using DnsWarden.Report.Leak;

namespace DnsWarden.Report.Jail;

/// <summary>
/// A jail run as one HTML page (<c>dnsw jail --report</c>): the stub's verdicts, the names it let resolve and the
/// names it denied, and the destinations the egress rules refused — one section per part of <see cref="JailReport"/>,
/// built with the same page, escaping and charts as the leak report.
/// </summary>
public static class JailHtmlReport
{
    /// <summary>Names and destinations drawn as bars; the tables list every one kept.</summary>
    private const int TopBars = 15;

    public static string Render(JailReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var w = new HtmlWriter();
        w.Open("header").Element("h1", "DNS jail report");
        w.Element("p", $"{string.Join(' ', report.Command)} · exit {report.ExitStatus.ToString(CultureInfo.InvariantCulture)} · {Time(report.Started)} – {Time(report.Ended)} UTC · mode {report.Mode} · privacy {report.Privacy}", ("class", "meta"));
        w.Close("header").Line().Open("main").Line();

        long queries = report.QueriesByVerdict.Values.Sum();
        long allowed = report.QueriesByVerdict.Where(kv => JailReport.IsAllowed(kv.Key)).Sum(kv => kv.Value);
        long refused = report.Refused.Sum(r => r.Packets) + report.RefusedNotListed;
        w.Open("section", ("class", "cards"), ("id", "cards"));
        LeakHtmlReport.Card(w, "queries", "total", queries, "DNS queries");
        LeakHtmlReport.Card(w, "allowed", "k-allowed", allowed, "resolved", "forwarded, cached or local");
        LeakHtmlReport.Card(w, "denied", "k-denied", queries - allowed, "not resolved", "sinkholed, blocked, failed");
        LeakHtmlReport.Card(w, "refused", "k-refused", refused, "refused packets", "egress the policy does not allow, inbound connections");
        foreach ((string verdict, long count) in report.QueriesByVerdict.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            LeakHtmlReport.Card(w, "verdict-" + verdict, JailReport.IsAllowed(verdict) ? "k-allowed" : "k-denied", count, verdict);
        }

        w.Close("section").Line();

        List<JailNameCount> allowedNames = [.. report.Names.Where(n => JailReport.IsAllowed(n.Verdict))];
        List<JailNameCount> deniedNames = [.. report.Names.Where(n => !JailReport.IsAllowed(n.Verdict))];
        w.Open("section", ("class", "two"));
        w.Open("div", ("id", "allowed")).Element("h2", "Names resolved (allowed)");
        SvgCharts.Bars(w, "allowed", [.. allowedNames.Take(TopBars).Select(n => new BarItem(NameLabel(n), n.Queries, "bar-allowed"))], "none");
        w.Close("div");
        w.Open("div", ("id", "denied")).Element("h2", "Names denied (sinkholed, blocked, failed)");
        SvgCharts.Bars(w, "denied", [.. deniedNames.Take(TopBars).Select(n => new BarItem(NameLabel(n), n.Queries, "bar-denied"))], "none");
        w.Close("div");
        w.Close("section").Line();

        w.Open("section", ("id", "refused")).Element("h2", "Refused destinations");
        SvgCharts.Bars(
            w, "refused", [.. report.Refused.Take(TopBars).Select(r => new BarItem($"{r.Kind} {r.Protocol} {(r.Source is null ? "" : "from " + r.Source + " to ")}{Endpoint(r)}", r.Packets, "bar-refused"))],
            "Nothing was refused: the command reached only what the stub resolved.");
        Table(w, "refused-table", ["kind", "protocol", "source", "destination", "packets"], report.Refused.Select(r => new[] { r.Kind, r.Protocol, r.Source ?? "the jail", Endpoint(r), HtmlWriter.Num(r.Packets) }));
        if (report.RefusedNotListed > 0)
        {
            w.Element("p", $"{report.RefusedNotListed.ToString(CultureInfo.InvariantCulture)} more refused packets were counted, not kept one by one.", ("class", "note"));
        }

        w.Close("section").Line();

        w.Open("section", ("id", "names")).Element("h2", "Every name the stub answered");
        Table(w, "names-table", ["name", "verdict", "queries"], report.Names.Select(n => new[] { NameLabel(n), n.Verdict, HtmlWriter.Num(n.Queries) }));
        if (report.NamesNotListed > 0)
        {
            w.Element("p", $"{report.NamesNotListed.ToString(CultureInfo.InvariantCulture)} more queries, for names past the first {JailQueryTally.MaxNames.ToString(CultureInfo.InvariantCulture)}, were counted only.", ("class", "note"));
        }

        w.Close("section").Line();

        w.Open("section", ("id", "run")).Element("h2", "The run");
        w.Open("dl");
        LeakHtmlReport.Fact(w, "command", string.Join(' ', report.Command));
        LeakHtmlReport.Fact(w, "exit status", HtmlWriter.Num(report.ExitStatus));
        LeakHtmlReport.Fact(w, "mode", report.Mode);
        LeakHtmlReport.Fact(w, "policy", report.Policy);
        LeakHtmlReport.Fact(w, "privacy", report.Privacy);
        LeakHtmlReport.Fact(w, "duration", string.Create(CultureInfo.InvariantCulture, $"{(report.Ended - report.Started).TotalSeconds:0.###} s"));
        w.Close("dl").Close("section").Line();
        w.Close("main").Line();
        w.Element("footer", "Written by dnsw jail. Self-contained: the page loads nothing from any network.");
        return HtmlPage.Document("dnsw jail report", w);
    }

    private static void Table(HtmlWriter w, string id, string[] headers, IEnumerable<string[]> rows)
    {
        w.Open("table", ("id", id)).Open("thead").Open("tr");
        foreach (string h in headers)
        {
            w.Element("th", h);
        }

        w.Close("tr").Close("thead").Open("tbody").Line();
        foreach (string[] row in rows)
        {
            w.Open("tr");
            foreach (string cell in row)
            {
                w.Element("td", cell, ("class", "mono"));
            }

            w.Close("tr").Line();
        }

        w.Close("tbody").Close("table");
    }

    private static string NameLabel(JailNameCount n) => n.Name ?? "(name hidden: privacy minimal)";

    private static string Endpoint(JailRefusal r) =>
        (r.Destination.Contains(':', StringComparison.Ordinal) ? "[" + r.Destination + "]" : r.Destination) + ":" + r.Port.ToString(CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
