using System.Globalization;

namespace DnsWarden.Export;

/// <summary>
/// The tables' definitions (docs/clickhouse/*.sql, built into dnsw) with the configured database and table names,
/// and retention. ClickHouse 18.16 has no table TTL (19.6 brought it), so retention is done the way that works on
/// every version: whole day partitions older than the limit are dropped.
/// </summary>
public static class ClickHouseSchema
{
    /// <summary>The CREATE TABLE statement for <paramref name="table"/>, under the configured names.</summary>
    public static string CreateTable(ExportTable table, string database, string tableName)
    {
        string token = SpoolFileFormat.TableToken(table);
        using Stream stream = typeof(ClickHouseSchema).Assembly.GetManifestResourceStream("schema/" + token + ".sql")
            ?? throw new InvalidOperationException($"schema/{token}.sql is not built into this dnsw");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("dnsw." + token, database + "." + tableName, StringComparison.Ordinal);
    }

    /// <summary>CREATE DATABASE and every table IF NOT EXISTS. Null when it worked, else what the server said.</summary>
    public static string? Create(ClickHouseHttp http, ExportSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(settings);
        string db = settings.Endpoint.Database;
        if (http.Execute($"CREATE DATABASE IF NOT EXISTS {db}", cancellationToken) is { } dbError)
        {
            return "creating database " + db + ": " + dbError;
        }

        foreach (ExportTable t in Enum.GetValues<ExportTable>())
        {
            if (http.Execute(CreateTable(t, db, settings.TableName(t)), cancellationToken) is { } error)
            {
                return $"creating table {db}.{settings.TableName(t)}: {error}";
            }
        }

        return null;
    }

    /// <summary>Drops the day partitions older than <paramref name="days"/> days from each table. Returns how many were dropped, or an error.</summary>
    public static (int Dropped, string? Error) ApplyRetention(ClickHouseHttp http, ExportSettings settings, int days, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(settings);
        string db = settings.Endpoint.Database;
        int dropped = 0;
        foreach (ExportTable t in Enum.GetValues<ExportTable>())
        {
            string table = settings.TableName(t);
            var partitions = new List<string>();
            string? error = http.Query(
                string.Create(CultureInfo.InvariantCulture,
                    $"SELECT DISTINCT partition FROM system.parts WHERE database = '{db}' AND table = '{table}' AND active AND toDate(partition) < today() - {days} FORMAT TSV"),
                partitions.Add,
                cancellationToken);
            if (error is not null)
            {
                return (dropped, $"listing the partitions of {db}.{table}: {error}");
            }

            foreach (string p in partitions)
            {
                // The partition key is toDate(ts): its value prints as YYYY-MM-DD; anything else is not ours to drop.
                if (!DateOnly.TryParseExact(p, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                {
                    continue;
                }

                if (http.Execute($"ALTER TABLE {db}.{table} DROP PARTITION '{p}'", cancellationToken) is { } dropError)
                {
                    return (dropped, $"dropping partition {p} of {db}.{table}: {dropError}");
                }

                dropped++;
            }
        }

        return (dropped, null);
    }
}
