using System.Globalization;
using DnsWarden.Leak.Report;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary>The human leak summary shared by <c>leak watch</c> and <c>leak report</c>.</summary>
internal static class ReportRenderer
{
    public static void Render(IAnsiConsole console, LeakSummary summary, string? policy, string? privacy)
    {
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
        if (policy is not null || privacy is not null)
        {
            console.MarkupLine($"[grey]policy: {Markup.Escape(policy ?? "-")}; privacy: {Markup.Escape(privacy ?? "-")}[/]");
        }

        if (summary.TopProcesses.Count > 0)
        {
            console.MarkupLine("[bold]top leaking processes[/]");
            foreach ((string name, int count) in summary.TopProcesses)
            {
                console.MarkupLine($"  {count,6}  {Markup.Escape(name)}");
            }
        }

        if (summary.TopDestinations.Count > 0)
        {
            console.MarkupLine("[bold]top resolver destinations[/]");
            foreach ((string dst, int count) in summary.TopDestinations)
            {
                console.MarkupLine($"  {count,6}  {Markup.Escape(dst)}");
            }
        }

        if (summary.First is { } first && summary.Last is { } last)
        {
            console.MarkupLine($"[bold]timeline[/] {first.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z – {last.UtcDateTime:HH:mm:ss}Z, {summary.BucketSeconds} s buckets");
            IReadOnlyList<TimelineBucket> buckets = summary.Timeline();
            int max = buckets.Max(b => b.Events);
            foreach (TimelineBucket b in buckets)
            {
                int bar = Math.Max(1, b.Events * 40 / max);
                console.MarkupLine($"  {b.Start.UtcDateTime:HH:mm:ss}  {new string('#', bar)} {b.Events}");
            }

            foreach (BurstHint h in summary.Bursts())
            {
                console.MarkupLine($"[yellow]burst[/] at {h.Start.UtcDateTime:HH:mm:ss}Z: {Markup.Escape(h.Hint)}");
            }
        }
    }
}
