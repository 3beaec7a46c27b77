using System.Globalization;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Evidence;
using DnsWarden.Leak.Report;
using DnsWarden.Report.Html;

namespace DnsWarden.Report.Leak;

/// <summary>
/// The leak report as one HTML page (<c>leak watch --html</c>, <c>leak report --html</c>), from the same summary the
/// terminal and JSON renderers use and the events themselves: cards by type and severity, a timeline coloured by
/// type, bars by process and resolver, the process → interface → resolver flow, the events table with filters and
/// each event's evidence, and the policy and privacy mode in force (docs/REPORT.md).
/// </summary>
public static class LeakHtmlReport
{
    /// <summary>Types in the order the page shows them, with what each means.</summary>
    public static IReadOnlyList<(string Key, string Label, string Meaning)> Types { get; } =
    [
        ("A", "Leak-A", "plaintext DNS outside the safe path"),
        ("B", "Leak-B", "proxy-required name resolved outside the safe path"),
        ("C", "Leak-C", "encrypted DNS outside approved egress"),
        ("D", "Leak-D", "answer used over another egress than the DNS took"),
        ("exfiltration", "exfiltration", "tunnelling/exfiltration indicator"),
    ];

    public static IReadOnlyList<(string Key, string Meaning)> Severities { get; } =
    [
        ("P0", "the hidden name itself"),
        ("P1", "leak on a physical link"),
        ("P2", "leak elsewhere"),
        ("P3", "low confidence"),
    ];

    public static string Render(LeakSummary summary, IReadOnlyList<LeakEvent> events, long notListed, LeakReportContext context)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(context);
        var w = new HtmlWriter();
        Header(w, summary, context);
        w.Open("main").Line();
        Cards(w, summary);
        Timeline(w, summary);
        Bars(w, summary);
        Flow(w, summary);
        EventsTable(w, summary, events, notListed, context);
        Policy(w, summary, context);
        w.Close("main").Line();
        w.Element("footer", "Written by dnsw. Self-contained: the page loads nothing from any network; its packets, when written, are in the evidence pcapng.");
        return HtmlPage.Document("dnsw leak report", w);
    }

    private static void Header(HtmlWriter w, LeakSummary summary, LeakReportContext context)
    {
        w.Open("header").Element("h1", "DNS leak report");
        string span = summary.First is { } f && summary.Last is { } l ? $"{Time(f)} – {Time(l)} UTC" : "no events";
        w.Element("p", $"{context.Source} · {span} · policy {context.Policy ?? "-"} · privacy {context.Privacy ?? "-"}", ("class", "meta"));
        w.Close("header").Line();
    }

    private static void Cards(HtmlWriter w, LeakSummary summary)
    {
        w.Open("section", ("class", "cards"), ("id", "cards"));
        Card(w, "events", "total", summary.Events, "events");
        foreach ((string key, string label, string meaning) in Types)
        {
            Card(w, "type-" + key, "k-" + key, summary.ByType.GetValueOrDefault(key), label, meaning);
        }

        foreach ((string key, string meaning) in Severities)
        {
            Card(w, "severity-" + key, "k-" + key, summary.BySeverity.GetValueOrDefault(key), key, meaning);
        }

        w.Close("section").Line();
    }

    internal static void Card(HtmlWriter w, string id, string kind, long value, string label, string? meaning = null)
    {
        w.Open("div", ("class", "card " + kind), ("data-card", id), ("data-value", HtmlWriter.Num(value)))
            .Element("span", HtmlWriter.Num(value), ("class", "n"))
            .Element("span", label, ("class", "l"));
        if (meaning is not null)
        {
            w.Element("span", meaning, ("class", "l"));
        }

        w.Close("div");
    }

    private static void Timeline(HtmlWriter w, LeakSummary summary)
    {
        w.Open("section", ("id", "timeline")).Element("h2", $"Timeline ({summary.BucketSeconds.ToString(CultureInfo.InvariantCulture)} s per column, UTC)");
        SvgCharts.Timeline(
            w, "timeline", [.. summary.Timeline().Select(b => new StackedColumn(b.Start, b.ByType))], summary.BucketSeconds,
            [.. Types.Select(t => (t.Key, t.Label))]);
        w.Open("div", ("class", "legend"));
        foreach ((string key, string label, _) in Types)
        {
            w.Open("span").Element("span", null, ("class", "swatch k-" + key)).Text(label).Close("span");
        }

        w.Close("div");
        foreach (BurstHint h in summary.Bursts())
        {
            w.Element("p", $"burst at {Time(h.Start)} UTC: {h.Hint}", ("class", "note"));
        }

        w.Close("section").Line();
    }

    private static void Bars(HtmlWriter w, LeakSummary summary)
    {
        w.Open("section", ("class", "two"));
        w.Open("div", ("id", "processes")).Element("h2", "Leaking processes");
        SvgCharts.Bars(
            w, "processes", [.. summary.TopProcesses.Select(kv => new BarItem(kv.Key, kv.Value))],
            "No process named: capture files carry no socket owner (live watches name the process).");
        w.Close("div");
        w.Open("div", ("id", "resolvers")).Element("h2", "Resolvers leaked to");
        SvgCharts.Bars(w, "resolvers", [.. summary.TopDestinations.Select(kv => new BarItem(kv.Key, kv.Value))], "none");
        w.Close("div");
        w.Close("section").Line();
    }

    private static void Flow(HtmlWriter w, LeakSummary summary)
    {
        w.Open("section", ("id", "flow")).Element("h2", "Where the DNS went: process → interface → resolver");
        SvgCharts.Flow(w, "flow", [.. summary.Paths.Select(p => new FlowPath(p.Process, p.Interface, p.Destination, p.Events))], ("process", "interface", "resolver"));
        w.Close("section").Line();
    }

    private static void EventsTable(HtmlWriter w, LeakSummary summary, IReadOnlyList<LeakEvent> events, long notListed, LeakReportContext context)
    {
        w.Open("section", ("id", "events-section")).Element("h2", "Events");
        w.Open("div", ("class", "filters"));
        Filter(w, "type", "type", [.. Types.Where(t => summary.ByType.GetValueOrDefault(t.Key) > 0).Select(t => (t.Key, t.Label))]);
        Filter(w, "severity", "severity", [.. Severities.Where(s => summary.BySeverity.GetValueOrDefault(s.Key) > 0).Select(s => (s.Key, s.Key))]);
        Filter(w, "process", "process", [.. Distinct(events, ProcessName).Select(p => (p, p))]);
        Filter(w, "iface", "interface", [.. Distinct(events, e => e.Interface).Select(i => (i, i))]);
        w.Open("span").Text("showing ").Element("span", HtmlWriter.Num(events.Count), ("id", "shown")).Text($" of {events.Count.ToString(CultureInfo.InvariantCulture)} listed").Close("span");
        w.Close("div");
        if (notListed > 0)
        {
            w.Element("p", $"The first {events.Count.ToString(CultureInfo.InvariantCulture)} events are listed; {notListed.ToString(CultureInfo.InvariantCulture)} more are counted above and are in the events file.", ("class", "note"));
        }

        w.Open("table", ("id", "events")).Open("thead").Open("tr");
        foreach (string h in new[] { "#", "time (UTC)", "type", "severity", "transport", "process", "interface", "source → destination", "what", "evidence" })
        {
            w.Element("th", h);
        }

        w.Close("tr").Close("thead").Open("tbody").Line();
        for (int i = 0; i < events.Count; i++)
        {
            Row(w, i + 1, events[i], context);
        }

        w.Close("tbody").Close("table").Close("section").Line();
    }

    private static void Filter(HtmlWriter w, string key, string label, IReadOnlyList<(string Value, string Text)> options)
    {
        w.Open("label").Text(label + " ").Open("select", ("data-filter", key), ("name", key));
        w.Element("option", "all", ("value", ""));
        foreach ((string value, string text) in options)
        {
            w.Element("option", text, ("value", value));
        }

        w.Close("select").Close("label");
    }

    private static void Row(HtmlWriter w, int number, LeakEvent e, LeakReportContext context)
    {
        string type = TypeKey(e);
        string process = ProcessName(e);
        w.Open("tr", ("class", "ev"), ("id", "event-" + number.ToString(CultureInfo.InvariantCulture)), ("data-type", type), ("data-severity", e.Severity.ToString()), ("data-process", process), ("data-iface", e.Interface));
        w.Element("td", HtmlWriter.Num(number), ("class", "num"));
        w.Element("td", Time(e.Timestamp), ("class", "mono"));
        w.Open("td").Element("span", TypeLabel(type), ("class", "tag k-" + type)).Close("td");
        w.Open("td").Element("span", e.Severity.ToString(), ("class", "tag k-" + e.Severity)).Close("td");
        w.Element("td", $"{e.Transport} ({e.Confidence.ToString().ToLowerInvariant()})");
        w.Element("td", process);
        w.Element("td", $"{e.Interface} ({e.RouteClass})");
        w.Element("td", $"{e.Source ?? "-"} → {e.Destination}", ("class", "mono"));
        w.Element("td", What(e), ("class", "mono"));
        w.Open("td").Open("details").Element("summary", $"{e.Evidence.Count.ToString(CultureInfo.InvariantCulture)} reasons");
        w.Open("ul");
        foreach (string why in e.Evidence)
        {
            w.Element("li", why);
        }

        w.Close("ul").Open("dl");
        Fact(w, "frame", HtmlWriter.Num(e.Frame));
        Fact(w, "correlation", e.CorrelationId);
        Fact(w, "attribution", e.Attribution.Reason is { } reason ? $"{Lower(e.Attribution.Confidence)}: {reason}" : Lower(e.Attribution.Confidence));
        if (e.Process is { } p)
        {
            Fact(w, "pid", HtmlWriter.Num(p.Pid));
            Fact(w, "exe", p.Exe);
            Fact(w, "uid", p.Uid?.ToString(CultureInfo.InvariantCulture));
            Fact(w, "command line", p.CommandLine);
            Fact(w, "parents", p.Parents.Count == 0 ? null : string.Join(" ← ", p.Parents.Select(a => $"{a.Name} ({a.Pid.ToString(CultureInfo.InvariantCulture)})")));
        }

        Fact(w, "server name", e.ServerName);
        Fact(w, "provider", e.Provider);
        if (e.GeoIp is { } g)
        {
            Fact(w, "geoip", string.Join(", ", new[] { g.CountryCode, g.CountryName, g.Asn is { } asn ? "AS" + asn.ToString(CultureInfo.InvariantCulture) : null, g.AsOrganization }.Where(s => s is not null)));
        }

        if (e.Connection is { } c)
        {
            Fact(w, "connection", $"{c.Kind} to {c.Destination} via {c.Interface} ({c.RouteClass}){(c.ServerName is null ? "" : ", SNI " + c.ServerName)}, frame {c.Frame.ToString(CultureInfo.InvariantCulture)}");
        }

        if (e.Exfiltration is { } x)
        {
            Fact(w, "exfiltration", string.Create(CultureInfo.InvariantCulture,
                $"{x.BaseDomain}: score {x.Score}, {x.Queries} queries, {x.UniqueSubdomains} unique names, mean entropy {x.MeanEntropy:0.00}, longest label {x.MaxLabelLength}, TXT/NULL {x.TxtNullShare:P0}, NXDOMAIN {x.NxdomainShare:P0} in {x.WindowSeconds:0.#} s"));
        }

        string filter = $"frame.comment contains \"{EvidenceRecorder.CommentPrefix(number)}\"";
        Fact(w, "packets", context.EvidenceFile is { } pcap ? $"{pcap}, Wireshark filter: {filter}" : $"with --write-pcap, Wireshark filter: {filter}");
        w.Close("dl").Close("details").Close("td");
        w.Close("tr").Line();
    }

    private static void Policy(HtmlWriter w, LeakSummary summary, LeakReportContext context)
    {
        w.Open("section", ("id", "policy")).Element("h2", "Policy and privacy");
        w.Open("dl");
        Fact(w, "policy", context.Policy ?? "(not recorded)");
        Fact(w, "privacy", context.Privacy ?? "(not recorded)");
        Fact(w, "source", context.Source);
        Fact(w, "events", HtmlWriter.Num(summary.Events));
        Fact(w, "by transport", string.Join(", ", summary.ByTransport.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value.ToString(CultureInfo.InvariantCulture)}")));
        if (context.Capture is { } t)
        {
            Fact(w, "frames", HtmlWriter.Num(t.Frames));
            Fact(w, "DNS messages", HtmlWriter.Num(t.DnsMessages));
            Fact(w, "TLS ClientHellos", HtmlWriter.Num(t.TlsClientHellos));
            Fact(w, "QUIC Initials", HtmlWriter.Num(t.QuicInitials));
            Fact(w, "malformed", string.Join(", ", t.Malformed.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value.ToString(CultureInfo.InvariantCulture)}")) is { Length: > 0 } m ? m : "0");
            foreach ((string iface, long kernel, long pcap) in t.Drops)
            {
                Fact(w, "drops " + iface, $"kernel {kernel.ToString(CultureInfo.InvariantCulture)}, pcap {pcap.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        Fact(w, "evidence", context.EvidenceFile ?? "(no pcapng written)");
        w.Close("dl");
        w.Element("p", "Privacy applies to what is written: names, sources and processes appear here as the events file holds them. The evidence pcapng holds the packets as captured.", ("class", "note"));
        w.Close("section").Line();
    }

    internal static void Fact(HtmlWriter w, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        w.Element("dt", name).Element("dd", value);
    }

    private static string What(LeakEvent e)
    {
        if (e.Exfiltration is { } x)
        {
            return $"{x.BaseDomain} score {x.Score.ToString(CultureInfo.InvariantCulture)}, {x.UniqueSubdomains.ToString(CultureInfo.InvariantCulture)} names";
        }

        if (e.LeakType == LeakType.D && e.Connection is { } c)
        {
            return $"{e.QName ?? "-"} {e.QType}, then {c.Destination} via {c.Interface}";
        }

        return e.QName is { } q ? $"{q} {e.QType}" : e.ServerName is { } sni ? "SNI " + sni : e.LeakType == LeakType.C ? "no SNI" : "";
    }

    private static IEnumerable<string> Distinct(IReadOnlyList<LeakEvent> events, Func<LeakEvent, string> pick) =>
        events.Select(pick).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    private static string ProcessName(LeakEvent e) => e.Process?.Name ?? LeakSummary.NoProcess;

    private static string TypeKey(LeakEvent e) => e.Kind == "exfiltration" ? "exfiltration" : e.LeakType?.ToString() ?? "?";

    private static string TypeLabel(string key) => key == "exfiltration" ? key : "Leak-" + key;

    private static string Lower(Confidence c) => c.ToString().ToLowerInvariant();

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
