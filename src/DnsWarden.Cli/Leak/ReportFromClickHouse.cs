using System.CommandLine;
using System.Globalization;
using DnsWarden.Cli.Export;
using DnsWarden.Export;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;
using DnsWarden.Policy;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// <c>dnsw leak report --from clickhouse://…</c>: the summary across hosts, built by the same <see cref="LeakSummary"/>
/// from the events the sensors exported — so it equals the report of their events files put together.
/// </summary>
internal sealed class ReportFromClickHouse
{
    public Option<string?> Url { get; } = new("--from") { Description = "Summarise leak events stored in ClickHouse instead of a file: clickhouse://HOST[:PORT]/DATABASE." };

    public Option<string[]> Hosts { get; } = new("--host") { Description = "--from: only these hosts (repeatable; default all).", Arity = ArgumentArity.ZeroOrMore };

    public Option<string?> Since { get; } = new("--since") { Description = "Only events at or after this time (an events file or --from): 2026-12-06T10:00:00Z, or a span back from now (24h, 30m)." };

    public Option<string?> Until { get; } = new("--until") { Description = "Only events at or before this time (same forms as --since)." };

    public Option<string?> User { get; } = new("--user") { Description = "--from: ClickHouse user." };

    public Option<FileInfo?> PasswordFile { get; } = new("--password-file") { Description = $"--from: read the ClickHouse password from this file (or set {ExportOptions.PasswordVariable})." };

    public Option<string?> Table { get; } = new("--table") { Description = "--from: the leak events table (default leak_events)." };

    public ReportFromClickHouse()
    {
        Url.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !ClickHouseEndpoint.TryParse(text, out _, out string? error))
            {
                r.AddError("--from: " + error);
            }
        });
        foreach (Option<string?> o in new[] { Since, Until })
        {
            o.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<string?>() is { } text && !TryParseTime(text, DateTimeOffset.UtcNow, out _))
                {
                    r.AddError($"{o.Name}: '{text}' is not a time (expected 2026-12-06T10:00:00Z or a span back from now such as 24h, 30m)");
                }
            });
        }

        Table.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !ClickHouseEndpoint.IsIdentifier(text))
            {
                r.AddError($"--table: '{text}' is not a plain name (letters, digits, '_')");
            }
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Url);
        command.Options.Add(Hosts);
        command.Options.Add(Since);
        command.Options.Add(Until);
        command.Options.Add(User);
        command.Options.Add(PasswordFile);
        command.Options.Add(Table);
    }

    /// <summary>An RFC 3339 time, or a duration back from <paramref name="now"/>.</summary>
    public static bool TryParseTime(string text, DateTimeOffset now, out DateTimeOffset time)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time)
            && text.Contains('-', StringComparison.Ordinal))
        {
            return true;
        }

        if (PolicyDuration.TryParse(text, out TimeSpan back) && back > TimeSpan.Zero)
        {
            time = now - back;
            return true;
        }

        time = default;
        return false;
    }

    public int Run(ParseResult parse, bool json, bool ecs = false)
    {
        ClickHouseEndpoint.TryParse(parse.GetValue(Url)!, out ClickHouseEndpoint? endpoint, out _);
        if (!ExportOptions.TryReadPassword(parse.GetValue(PasswordFile), out string? password, out string? error))
        {
            Console.Error.WriteLine("dnsw: " + error);
            return ExitCodes.InputError;
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset? since = parse.GetValue(Since) is { } s && TryParseTime(s, now, out DateTimeOffset a) ? a : null;
        DateTimeOffset? until = parse.GetValue(Until) is { } u && TryParseTime(u, now, out DateTimeOffset b) ? b : null;
        var summary = new LeakSummary();
        var bad = new List<string>();
        using var http = new ClickHouseHttp(endpoint!, parse.GetValue(User), password);
        string table = parse.GetValue(Table) ?? ExportSettings.DefaultTables[ExportTable.LeakEvents];
        error = LeakRowReader.Read(http, table, parse.GetValue(Hosts) ?? [], since, until,
            row =>
            {
                if (LeakRows.TryToEvent(row, out LeakEvent? e, out string? why))
                {
                    summary.Add(e!);
                }
                else
                {
                    bad.Add($"event {row.EventId} of {row.Host}: {why}");
                }
            },
            bad.Add);
        if (error is not null)
        {
            Console.Error.WriteLine($"dnsw: {endpoint}/{table}: {error}");
            return ExitCodes.InputError;
        }

        ReportCommand.Render(summary, json, policy: null, privacy: null, ecs);
        foreach (string line in bad.Take(10))
        {
            Console.Error.WriteLine($"dnsw: {endpoint}/{table}: {line}");
        }

        if (bad.Count > 0)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dnsw: {bad.Count} row(s) skipped as malformed; the summary covers the {summary.Events} good event(s)"));
            return ExitCodes.InputError;
        }

        return summary.Events > 0 ? ExitCodes.LeaksFound : ExitCodes.Ok;
    }
}
