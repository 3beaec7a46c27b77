using System.Globalization;
using DnsWarden.Leak.Report;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// The human leak summary shared by <c>leak watch</c> and <c>leak report</c>. On a terminal the counts are drawn as
/// Spectre charts (a breakdown by type and by severity, bars for processes, resolvers and the timeline); written to a
/// file or a pipe they stay plain text with <c>#</c> bars, stable for scripts and the snapshot tests.
/// </summary>
internal static class ReportRenderer
{
    /// <summary>The leak types' colours, the same as the HTML report's (Okabe–Ito: told apart with colour-blindness too).</summary>
    private static readonly Dictionary<string, Color> s_typeColours = new(StringComparer.Ordinal)
    {
        ["A"] = new Color(0xe6, 0x9f, 0x00),
        ["B"] = new Color(0xd5, 0x5e, 0x00),
        ["C"] = new Color(0x00, 0x72, 0xb2),
        ["D"] = new Color(0xcc, 0x79, 0xa7),
        ["exfiltration"] = new Color(0x00, 0x9e, 0x73),
    };

    private static readonly Dictionary<string, Color> s_severityColours = new(StringComparer.Ordinal)
    {
        ["P0"] = new Color(0x7f, 0x00, 0x00),
        ["P1"] = new Color(0xc0, 0x39, 0x2b),
        ["P2"] = new Color(0xe6, 0x7e, 0x22),
        ["P3"] = new Color(0x8a, 0x8f, 0x98),
    };

    private const int ChartWidth = 72;

    public static void Render(IAnsiConsole console, LeakSummary summary, string? policy, string? privacy)
    {
        bool charts = console.Profile.Capabilities.Ansi;
        var table = new Table().Border(TableBorder.Rounded).Title("leaks");
        table.AddColumn("type");
        table.AddColumn(new TableColumn("events").RightAligned());
        table.AddColumn("meaning");
        string[] meanings =
        [
            "A", "plaintext DNS outside the safe path",
            "B", "proxy-required name resolved outside the safe path",
            "C", "encrypted DNS outside approved egress",
            "D", "answer used over another egress than the DNS took",
            "exfiltration", "tunnelling/exfiltration indicator",
        ];
        for (int i = 0; i < meanings.Length; i += 2)
        {
            string key = meanings[i];
            string label = key == "exfiltration" ? key : "Leak-" + key;
            table.AddRow(label, summary.ByType.GetValueOrDefault(key).ToString(CultureInfo.InvariantCulture), meanings[i + 1]);
        }

        table.AddRow("total", summary.Events.ToString(CultureInfo.InvariantCulture),
            string.Join("  ", summary.BySeverity.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: {kv.Value}")));
        console.Write(table);
        if (charts && summary.Events > 0)
        {
            Breakdown(console, summary.ByType, s_typeColours, k => k == "exfiltration" ? k : "Leak-" + k);
            Breakdown(console, summary.BySeverity, s_severityColours, k => k);
        }

        if (policy is not null || privacy is not null)
        {
            console.MarkupLine($"[grey]policy: {Markup.Escape(policy ?? "-")}; privacy: {Markup.Escape(privacy ?? "-")}[/]");
        }

        TopList(console, charts, "top leaking processes", summary.TopProcesses);
        TopList(console, charts, "top resolver destinations", summary.TopDestinations);
        if (summary.First is { } first && summary.Last is { } last)
        {
            console.MarkupLine($"[bold]timeline[/] {first.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z – {last.UtcDateTime:HH:mm:ss}Z, {summary.BucketSeconds} s buckets");
            IReadOnlyList<TimelineBucket> buckets = summary.Timeline();
            if (charts)
            {
                // One bar per bucket, coloured by the type that dominated it.
                var chart = new BarChart().Width(ChartWidth);
                foreach (TimelineBucket b in buckets)
                {
                    string top = b.ByType.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;
                    chart.AddItem(b.Start.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture), b.Events, s_typeColours.GetValueOrDefault(top, Color.Grey));
                }

                console.Write(new Padder(chart).PadLeft(2).PadTop(0).PadBottom(0));
            }
            else
            {
                int max = buckets.Max(b => b.Events);
                foreach (TimelineBucket b in buckets)
                {
                    int bar = Math.Max(1, b.Events * 40 / max);
                    console.MarkupLine($"  {b.Start.UtcDateTime:HH:mm:ss}  {new string('#', bar)} {b.Events}");
                }
            }

            foreach (BurstHint h in summary.Bursts())
            {
                console.MarkupLine($"[yellow]burst[/] at {h.Start.UtcDateTime:HH:mm:ss}Z: {Markup.Escape(h.Hint)}");
            }
        }
    }

    private static void Breakdown(IAnsiConsole console, IReadOnlyDictionary<string, int> counts, Dictionary<string, Color> colours, Func<string, string> label)
    {
        var chart = new BreakdownChart().Width(ChartWidth);
        foreach ((string key, Color colour) in colours)
        {
            if (counts.GetValueOrDefault(key) is int n and > 0)
            {
                chart.AddItem(Markup.Escape(label(key)), n, colour);
            }
        }

        console.Write(chart);
    }

    private static void TopList(IAnsiConsole console, bool charts, string title, IReadOnlyList<KeyValuePair<string, int>> top)
    {
        if (top.Count == 0)
        {
            return;
        }

        console.MarkupLine($"[bold]{title}[/]");
        if (charts)
        {
            var chart = new BarChart().Width(ChartWidth);
            foreach ((string name, int count) in top)
            {
                chart.AddItem(Markup.Escape(name), count, Color.SteelBlue);
            }

            console.Write(new Padder(chart).PadLeft(2).PadTop(0).PadBottom(0));
            return;
        }

        foreach ((string name, int count) in top)
        {
            console.MarkupLine($"  {count,6}  {Markup.Escape(name)}");
        }
    }
}
