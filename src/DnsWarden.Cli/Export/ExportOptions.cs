using System.CommandLine;
using System.Globalization;
using DnsWarden.Export;
using DnsWarden.Policy;

namespace DnsWarden.Cli.Export;

/// <summary>
/// The <c>--export</c> options shared by <c>leak watch</c>, <c>proxy</c>, <c>jail</c> and <c>tun</c> (docs/EXPORT.md):
/// where rows go, as whom, into which tables, stamped with which host and sensor, how they are batched and spooled.
/// </summary>
internal sealed class ExportOptions
{
    /// <summary>The password can come from the environment instead of a file (never from a flag: ps shows flags).</summary>
    public const string PasswordVariable = "DNSW_CLICKHOUSE_PASSWORD";

    private readonly string _sensor;

    public ExportOptions(string defaultSensor)
    {
        _sensor = defaultSensor;
        Url.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !ClickHouseEndpoint.TryParse(text, out _, out string? error))
            {
                r.AddError("--export: " + error);
            }
        });
        Tables.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!ExportSettings.TryParseTable(s, out _, out _, out string? error))
                {
                    r.AddError("--export-table: " + error);
                }
            }
        });
        Batch.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && n < 1)
            {
                r.AddError("--export-batch: must be at least 1");
            }
        });
        Queue.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && n < 1)
            {
                r.AddError("--export-queue: must be at least 1");
            }
        });
        Interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && (!PolicyDuration.TryParse(text, out TimeSpan t) || t <= TimeSpan.Zero))
            {
                r.AddError($"--export-interval: '{text}' is not a positive duration (e.g. 1s, 500ms)");
            }
        });
        SpoolSize.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !ExportSettings.TryParseSize(text, out _))
            {
                r.AddError($"--export-spool-size: '{text}' is not a size (e.g. 256M, 1G, 1048576)");
            }
        });
        Retention.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && n < 0)
            {
                r.AddError("--export-retention: days must be 0 (keep everything) or more");
            }
        });
    }

    public Option<string?> Url { get; } = new("--export") { HelpName = "URL", Description = "Also write the rows to ClickHouse: clickhouse://HOST[:PORT]/DATABASE (PORT: the HTTP interface, default 8123; docs/EXPORT.md)." };

    public Option<string?> User { get; } = new("--export-user") { HelpName = "NAME", Description = "ClickHouse user (default: the server's default user)." };

    public Option<FileInfo?> PasswordFile { get; } = new("--export-password-file") { HelpName = "FILE", Description = $"Read the ClickHouse password from this file's first line (or set {PasswordVariable})." };

    public Option<string[]> Tables { get; } = new("--export-table")
    {
        HelpName = "KIND=NAME",
        Description = "Use another table: leak=NAME, query=NAME or decision=NAME (repeatable; defaults leak_events, dns_queries, guard_decisions).",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string?> Sensor { get; } = new("--export-sensor") { HelpName = "ID", Description = "Sensor id stamped on every row (default: the command, e.g. leak-watch)." };

    public Option<string?> Host { get; } = new("--export-host") { HelpName = "NAME", Description = "Host name stamped on every row (default: this machine's)." };

    public Option<int?> Batch { get; } = new("--export-batch") { HelpName = "ROWS", Description = $"Rows per insert at most (default {ExportSettings.DefaultBatchRows})." };

    public Option<string?> Interval { get; } = new("--export-interval") { HelpName = "TIME", Description = "Longest a row waits for its batch, e.g. 1s (default), 200ms." };

    public Option<int?> Queue { get; } = new("--export-queue") { HelpName = "ROWS", Description = $"Rows held in memory for the exporter; past it rows are dropped and counted (default {ExportSettings.DefaultQueueRows})." };

    public Option<DirectoryInfo?> Spool { get; } = new("--export-spool") { HelpName = "DIR", Description = "Spool directory for batches not yet stored (default /var/spool/dnsw/SENSOR; made 0700)." };

    public Option<string?> SpoolSize { get; } = new("--export-spool-size") { HelpName = "SIZE", Description = "Most the spool may hold, e.g. 256M (default), 1G; past it new batches are dropped and counted." };

    public Option<bool> CreateSchema { get; } = new("--export-create-schema") { Description = "Create the database and tables if missing (docs/clickhouse/*.sql)." };

    public Option<int?> Retention { get; } = new("--export-retention") { HelpName = "DAYS", Description = "Keep this many days: older day partitions are dropped at start and hourly (default 0: keep all)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Url);
        command.Options.Add(User);
        command.Options.Add(PasswordFile);
        command.Options.Add(Tables);
        command.Options.Add(Sensor);
        command.Options.Add(Host);
        command.Options.Add(Batch);
        command.Options.Add(Interval);
        command.Options.Add(Queue);
        command.Options.Add(Spool);
        command.Options.Add(SpoolSize);
        command.Options.Add(CreateSchema);
        command.Options.Add(Retention);
    }

    /// <summary>The settings when <c>--export</c> was given; null settings and null error when it was not.</summary>
    public bool TryBuild(ParseResult parse, out ExportSettings? settings, out string? error)
    {
        settings = null;
        error = null;
        if (parse.GetValue(Url) is not { } url)
        {
            return true;
        }

        ClickHouseEndpoint.TryParse(url, out ClickHouseEndpoint? endpoint, out _);
        if (!TryReadPassword(parse.GetValue(PasswordFile), out string? password, out error))
        {
            return false;
        }

        var tables = new Dictionary<ExportTable, string>(ExportSettings.DefaultTables);
        foreach (string s in parse.GetValue(Tables) ?? [])
        {
            ExportSettings.TryParseTable(s, out ExportTable table, out string? name, out _);
            tables[table] = name!;
        }

        string sensor = parse.GetValue(Sensor) ?? _sensor;
        TimeSpan interval = ExportSettings.DefaultBatchInterval;
        if (parse.GetValue(Interval) is { } i)
        {
            PolicyDuration.TryParse(i, out interval);
        }

        long spoolBytes = ExportSettings.DefaultSpoolBytes;
        if (parse.GetValue(SpoolSize) is { } size)
        {
            ExportSettings.TryParseSize(size, out spoolBytes);
        }

        settings = new ExportSettings
        {
            Endpoint = endpoint!,
            User = parse.GetValue(User),
            Password = password,
            Tables = tables,
            Host = parse.GetValue(Host) ?? Environment.MachineName,
            Sensor = sensor,
            BatchRows = parse.GetValue(Batch) ?? ExportSettings.DefaultBatchRows,
            BatchInterval = interval,
            QueueRows = parse.GetValue(Queue) ?? ExportSettings.DefaultQueueRows,
            SpoolDirectory = parse.GetValue(Spool)?.FullName ?? ExportSettings.DefaultSpoolDirectory(sensor),
            SpoolMaxBytes = spoolBytes,
            CreateSchema = parse.GetValue(CreateSchema),
            RetentionDays = parse.GetValue(Retention) ?? 0,
        };
        return true;
    }

    /// <summary>Starts the exporter; problems it meets later go to <paramref name="stderr"/> as one line each.</summary>
    public static ClickHouseExporter? Start(ExportSettings settings, TextWriter stderr, out string? error) =>
        ClickHouseExporter.TryStart(settings, Reporter(stderr), out ClickHouseExporter? exporter, out error) ? exporter : null;

    /// <summary>Starts the exporter over a spool the caller opened.</summary>
    public static ClickHouseExporter Start(ExportSettings settings, Spool spool, TextWriter stderr) =>
        ClickHouseExporter.Start(settings, Reporter(stderr), spool);

    private static Action<string> Reporter(TextWriter stderr) => line =>
    {
        lock (stderr)
        {
            stderr.WriteLine(line);
            stderr.Flush();
        }
    };

    /// <summary>Stops the exporter (sending what it can within its flush time) and writes its summary lines.</summary>
    public static void Finish(ClickHouseExporter exporter, TextWriter stderr)
    {
        exporter.Stop();
        foreach (string line in exporter.Summary())
        {
            stderr.WriteLine("dnsw: " + line);
        }

        stderr.Flush();
        exporter.Dispose();
    }

    internal static bool TryReadPassword(FileInfo? file, out string? password, out string? error)
    {
        error = null;
        password = Environment.GetEnvironmentVariable(PasswordVariable);
        if (file is null)
        {
            return true;
        }

        try
        {
            using var reader = new StreamReader(file.FullName);
            password = reader.ReadLine() ?? "";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"--export-password-file {file.FullName}: {CliText.Describe(e)}");
            return false;
        }
    }
}
