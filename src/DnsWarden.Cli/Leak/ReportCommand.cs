using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;
using DnsWarden.Report.Leak;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary><c>dnsw leak report FILE</c>: rebuilds the summary from a saved events file (<c>leak watch --out</c>).</summary>
internal static class ReportCommand
{
    /// <summary>A line longer than this is not an event (events are a few hundred bytes).</summary>
    private const int MaxLineLength = 1 << 20;

    /// <summary>Bad lines named one by one, then only counted.</summary>
    private const int MaxListedErrors = 10;

    public static Command Build()
    {
        var file = new Argument<FileInfo?>("events") { Description = "Events file written by `dnsw leak watch --out` (JSON lines).", Arity = ArgumentArity.ZeroOrOne };
        var from = new ReportFromClickHouse();
        var format = new Option<string>("--format")
        {
            Description = "human: tables; json: the summary as one JSON object; ecs: the same in Elastic Common Schema (docs/ECS.md).",
            DefaultValueFactory = _ => "human",
        };
        format.AcceptOnlyFromAmong("human", "json", "ecs");
        var list = new Option<bool>("--list") { Description = "Events file: list the events, one line each, before the summary (human format) or as JSON lines (json or ecs format)." };
        var types = new Option<string[]>("--type")
        {
            Description = "Events file: only events of this type: A, B, C, D or exfiltration (repeatable).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        types.AcceptOnlyFromAmong("A", "B", "C", "D", "exfiltration");
        var processes = new Option<string[]>("--process")
        {
            Description = "Events file: only events sent by, or on behalf of, this process name or pid; \"unattributed\" for events no process was named for (repeatable).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var html = new Option<FileInfo?>("--html") { Description = "Also write the report as one self-contained HTML page (charts, events with their evidence, filters) to this file." };
        var command = new Command("report", "Summarise a saved events file: counts by type, top processes and resolvers, timeline and bursts; list and filter its events.")
        {
            file, format, list, types, processes, html,
        };
        from.AddTo(command);
        command.SetAction(parse =>
        {
            bool json = parse.GetValue(format) is "json" or "ecs";
            bool ecs = parse.GetValue(format) == "ecs";
            if (parse.GetValue(from.Url) is not null)
            {
                return parse.GetValue(file) is null ? from.Run(parse, json, ecs) : Usage("give an events file or --from, not both");
            }

            if (parse.GetValue(file) is not { } f)
            {
                return Usage("give an events file (dnsw leak watch --out) or --from clickhouse://…");
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            DateTimeOffset? since = parse.GetValue(from.Since) is { } s && ReportFromClickHouse.TryParseTime(s, now, out DateTimeOffset a) ? a : null;
            DateTimeOffset? until = parse.GetValue(from.Until) is { } u && ReportFromClickHouse.TryParseTime(u, now, out DateTimeOffset b) ? b : null;
            var filter = new EventFilter(parse.GetValue(types) ?? [], parse.GetValue(processes) ?? [], since, until);
            return Run(f, json, ecs, parse.GetValue(list), filter, parse.GetValue(html));
        });
        return command;
    }

    private static int Usage(string text)
    {
        Console.Error.WriteLine("dnsw leak report: " + text);
        return ExitCodes.Usage;
    }

    private static int Run(FileInfo file, bool json, bool ecs, bool list, EventFilter filter, FileInfo? html)
    {
        using FileStream? htmlFile = html is null ? null : OutputFiles.TryOpen("--html", html.FullName, append: false, Console.Error, 1 << 16);
        if (html is not null && htmlFile is null)
        {
            return ExitCodes.InputError;
        }

        var listed = new List<LeakEvent>();
        var summary = new LeakSummary();
        LeakReportEvents? page = htmlFile is null ? null : new LeakReportEvents();
        var errors = new List<string>();
        int bad = 0;
        string? policy = null;
        string? privacy = null;
        try
        {
            using var reader = new StreamReader(file.FullName, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false);
            int lineNumber = 0;
            while (ReadLine(reader, out string? line, out bool tooLong))
            {
                lineNumber++;
                if (tooLong)
                {
                    bad++;
                    Note(errors, $"{file.FullName}:{lineNumber}: line longer than {MaxLineLength} bytes (expected one JSON event per line)");
                    continue;
                }

                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                if (LeakEventJson.TryParse(line, out LeakEvent? e, out bool isSummary, out string? error))
                {
                    if (filter.Matches(e!))
                    {
                        summary.Add(e!);
                        page?.Add(e!);
                        if (list)
                        {
                            listed.Add(e!);
                        }
                    }
                }
                else if (isSummary)
                {
                    ReadSummaryLabels(line, ref policy, ref privacy);
                }
                else
                {
                    bad++;
                    Note(errors, $"{file.FullName}:{lineNumber}: {(line.Contains("\"@timestamp\"", StringComparison.Ordinal) ? "an Elastic Common Schema line (leak watch --format ecs); leak report reads events written in the json format" : error)}");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            Console.Error.WriteLine($"dnsw: {file.FullName}: {(ex is DecoderFallbackException ? "not UTF-8 text (expected JSON lines)" : CliText.Describe(ex, file.FullName))}");
            return ExitCodes.InputError;
        }

        List(listed, json, ecs);
        Render(summary, json, policy, privacy, ecs);

        bool written = page is null || OutputFiles.TryWrite(htmlFile!, LeakHtmlReport.Render(
            summary, page.Listed, page.NotListed, new LeakReportContext { Source = "events file " + file.Name, Policy = policy, Privacy = privacy }), "--html");

        foreach (string e in errors)
        {
            Console.Error.WriteLine("dnsw: " + e);
        }

        if (bad > 0)
        {
            if (bad > errors.Count)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dnsw: {bad - errors.Count} more bad lines"));
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dnsw: {bad} line(s) skipped as malformed; the summary covers the {summary.Events} good event(s)"));
            return ExitCodes.InputError;
        }

        if (!written)
        {
            return ExitCodes.InputError;
        }

        return summary.Events > 0 ? ExitCodes.LeaksFound : ExitCodes.Ok;
    }

    /// <summary>The summary as one JSON object or as tables; shared with the report from ClickHouse.</summary>
    internal static void Render(LeakSummary summary, bool json, string? policy, string? privacy, bool ecs = false)
    {
        if (json)
        {
            using Stream stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout, LeakEventJson.WriterOptions))
            {
                if (ecs)
                {
                    LeakSummaryEcs.Write(w, summary, policy, privacy, capture: null, DateTimeOffset.UtcNow);
                }
                else
                {
                    summary.WriteJson(w, policy, privacy, capture: null);
                }
            }

            stdout.WriteByte((byte)'\n');
        }
        else
        {
            ReportRenderer.Render(Terminal.Stdout, summary, policy, privacy);
        }
    }

    /// <summary>The listed events: JSON lines, or one line each (<see cref="EventLine"/>).</summary>
    private static void List(List<LeakEvent> events, bool json, bool ecs)
    {
        if (events.Count == 0)
        {
            return;
        }

        if (!json)
        {
            foreach (LeakEvent e in events)
            {
                Console.Out.WriteLine(EventLine.Coloured(e, !Console.IsOutputRedirected));
            }

            Console.Out.Flush();
            return;
        }

        using Stream stdout = Console.OpenStandardOutput();
        using var w = new Utf8JsonWriter(stdout, LeakEventJson.WriterOptions);
        foreach (LeakEvent e in events)
        {
            if (ecs)
            {
                LeakEventEcs.Write(w, e);
            }
            else
            {
                LeakEventJson.Write(w, e);
            }

            w.Flush();
            stdout.WriteByte((byte)'\n');
            w.Reset();
        }
    }

    private static void Note(List<string> errors, string message)
    {
        if (errors.Count < MaxListedErrors)
        {
            errors.Add(message);
        }
    }

    /// <summary>Reads a line without ever holding more than <see cref="MaxLineLength"/> characters of it.</summary>
    private static bool ReadLine(StreamReader reader, out string? line, out bool tooLong)
    {
        line = null;
        tooLong = false;
        if (reader.Peek() < 0)
        {
            return false;
        }

        var sb = new StringBuilder();
        int c;
        while ((c = reader.Read()) >= 0 && c != '\n')
        {
            if (sb.Length < MaxLineLength)
            {
                sb.Append((char)c);
            }
            else
            {
                tooLong = true;
            }
        }

        line = sb.ToString().TrimEnd('\r');
        return true;
    }

    private static void ReadSummaryLabels(string line, ref string? policy, ref string? privacy)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("policy", out JsonElement p) && p.ValueKind == JsonValueKind.String)
            {
                policy = p.GetString();
            }

            if (doc.RootElement.TryGetProperty("privacy", out JsonElement q) && q.ValueKind == JsonValueKind.String)
            {
                privacy = q.GetString();
            }
        }
        catch (JsonException)
        {
            // The summary line only labels the report; the events are what counts.
        }
    }
}
