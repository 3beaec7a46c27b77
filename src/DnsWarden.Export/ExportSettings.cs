using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace DnsWarden.Export;

/// <summary>Everything <c>--export</c> and its companions say (docs/EXPORT.md).</summary>
public sealed record ExportSettings
{
    public const int DefaultBatchRows = 10_000;
    public const int DefaultQueueRows = 100_000;
    public const long DefaultSpoolBytes = 256L << 20;
    public static readonly TimeSpan DefaultBatchInterval = TimeSpan.FromSeconds(1);

    public required ClickHouseEndpoint Endpoint { get; init; }

    public string? User { get; init; }

    public string? Password { get; init; }

    /// <summary>Configured table names; the defaults are the schema files' names.</summary>
    public IReadOnlyDictionary<ExportTable, string> Tables { get; init; } = DefaultTables;

    /// <summary>Stamped on every row (default: this machine's host name).</summary>
    public required string Host { get; init; }

    /// <summary>Stamped on every row: which dnsw on that host wrote it.</summary>
    public required string Sensor { get; init; }

    public int BatchRows { get; init; } = DefaultBatchRows;

    public TimeSpan BatchInterval { get; init; } = DefaultBatchInterval;

    /// <summary>Rows held in memory before the exporter thread takes them; past it rows are dropped and counted.</summary>
    public int QueueRows { get; init; } = DefaultQueueRows;

    public required string SpoolDirectory { get; init; }

    public long SpoolMaxBytes { get; init; } = DefaultSpoolBytes;

    /// <summary>CREATE DATABASE / TABLE IF NOT EXISTS before the first insert.</summary>
    public bool CreateSchema { get; init; }

    /// <summary>Days of data kept (older day partitions dropped at start and hourly); 0 keeps everything.</summary>
    public int RetentionDays { get; init; }

    /// <summary>How long a stop may spend sending what is spooled before leaving it for the next run.</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public static IReadOnlyDictionary<ExportTable, string> DefaultTables { get; } = new Dictionary<ExportTable, string>
    {
        [ExportTable.LeakEvents] = "leak_events",
        [ExportTable.DnsQueries] = "dns_queries",
        [ExportTable.GuardDecisions] = "guard_decisions",
    };

    public string TableName(ExportTable table) => Tables.TryGetValue(table, out string? name) ? name : DefaultTables[table];

    /// <summary>
    /// <c>KIND=NAME</c> for <c>--export-table</c>: KIND is <c>leak</c>, <c>query</c> or <c>decision</c> (or the
    /// table's default name), NAME a plain identifier.
    /// </summary>
    public static bool TryParseTable(string text, out ExportTable table, [NotNullWhen(true)] out string? name, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        table = default;
        name = null;
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        string kind = eq < 0 ? "" : text[..eq];
        ExportTable? t = kind switch
        {
            "leak" or "leak_events" => ExportTable.LeakEvents,
            "query" or "dns_queries" => ExportTable.DnsQueries,
            "decision" or "guard_decisions" => ExportTable.GuardDecisions,
            _ => null,
        };
        if (t is null)
        {
            error = $"'{text}' is not KIND=NAME with KIND leak, query or decision (e.g. leak=leak_events_v2)";
            return false;
        }

        string n = text[(eq + 1)..];
        if (!ClickHouseEndpoint.IsIdentifier(n))
        {
            error = $"'{text}': table '{n}' is not a plain name (letters, digits, '_'; not starting with a digit)";
            return false;
        }

        table = t.Value;
        name = n;
        error = null;
        return true;
    }

    /// <summary>A size: <c>1048576</c>, <c>512K</c>, <c>64M</c>, <c>1G</c> (powers of 1024; <c>KiB</c>/<c>MiB</c>/<c>GiB</c> and a trailing <c>B</c> taken too).</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        bytes = 0;
        string t = text.Trim();
        int digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits]))
        {
            digits++;
        }

        if (digits == 0 || !long.TryParse(t.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
        {
            return false;
        }

        int shift = t[digits..].ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            _ => -1,
        };
        if (shift < 0 || n > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = n << shift;
        return bytes > 0;
    }

    /// <summary>The spool directory when none is named: one per sensor under /var/spool/dnsw.</summary>
    public static string DefaultSpoolDirectory(string sensor) =>
        Path.Combine("/var/spool/dnsw", string.Concat(sensor.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')));
}
