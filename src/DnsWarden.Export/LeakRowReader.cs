using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DnsWarden.Export;

/// <summary>
/// Reads <c>leak_events</c> back for <c>leak report --from</c>: each event once (FINAL folds a batch that was stored
/// twice), optionally only some hosts and a time range, oldest first.
/// </summary>
public static class LeakRowReader
{
    /// <summary>
    /// Hands every matching row to <paramref name="row"/>; a line that is not a row goes to <paramref name="bad"/>
    /// with its number and why. Returns null when the query ran, else what the server or the network said.
    /// </summary>
    public static string? Read(
        ClickHouseHttp http, string table, IReadOnlyCollection<string> hosts, DateTimeOffset? since, DateTimeOffset? until,
        Action<LeakRow> row, Action<string> bad, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(bad);
        string sql = Query(http.Endpoint.Database, table, hosts, since, until);
        long line = 0;
        return http.Query(sql, text =>
        {
            line++;
            LeakRow? r;
            try
            {
                r = JsonSerializer.Deserialize(text, ExportJsonContext.Default.LeakRow);
            }
            catch (JsonException e)
            {
                bad(string.Create(CultureInfo.InvariantCulture, $"row {line}: {e.Message}"));
                return;
            }

            if (r is null)
            {
                bad(string.Create(CultureInfo.InvariantCulture, $"row {line}: null"));
            }
            else if ((since is null || r.Timestamp >= since) && (until is null || r.Timestamp <= until))
            {
                row(r);
            }
        }, cancellationToken);
    }

    /// <summary>The query: whole seconds in SQL (DateTime), the sub-second edge checked on each row.</summary>
    public static string Query(string database, string table, IReadOnlyCollection<string> hosts, DateTimeOffset? since, DateTimeOffset? until)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        var where = new List<string>();
        if (hosts.Count > 0)
        {
            where.Add("host IN (" + string.Join(", ", hosts.Select(Quote)) + ")");
        }

        if (since is { } s)
        {
            where.Add($"ts >= toDateTime({Quote(s.UtcDateTime.ToString(ClickHouseDateTimeConverter.Format, CultureInfo.InvariantCulture))}, 'UTC')");
        }

        if (until is { } u)
        {
            where.Add($"ts <= toDateTime({Quote(u.UtcDateTime.ToString(ClickHouseDateTimeConverter.Format, CultureInfo.InvariantCulture))}, 'UTC')");
        }

        return $"SELECT * FROM {database}.{table} FINAL{(where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")} ORDER BY ts, ts_ns, event_id FORMAT JSONEachRow";
    }

    /// <summary>A ClickHouse string literal: backslash and quote escaped, control bytes as \xHH.</summary>
    public static string Quote(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length + 2).Append('\'');
        foreach (char c in text)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '\'' => sb.Append(@"\'"),
                < ' ' => sb.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)),
                _ => sb.Append(c),
            };
        }

        return sb.Append('\'').ToString();
    }
}
