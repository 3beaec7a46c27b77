using System.Diagnostics;
using System.Globalization;
using DnsWarden.Export;

namespace DnsWarden.Benchmarks;

/// <summary>
/// <c>export-throughput URL ROWS [BATCH] [ROWS-FILE]</c>: pushes ROWS leak rows (shaped like the leak watch's Leak-A
/// events) through <see cref="ClickHouseExporter"/> — queue, batcher, spool, HTTP — and times it from the first row to
/// the last batch stored. With ROWS-FILE it also writes the same rows as JSONEachRow there, for clickhouse-client to
/// insert as the peer figure (the server's own client and protocol).
/// </summary>
public static class ExportThroughput
{
    public static void Run(string url, int rows, int batch, string? rowsFile)
    {
        if (!ClickHouseEndpoint.TryParse(url, out ClickHouseEndpoint? endpoint, out string? error))
        {
            Console.Error.WriteLine(error);
            return;
        }

        string spool = Directory.CreateTempSubdirectory("dnsw-bench-spool-").FullName;
        try
        {
            var settings = new ExportSettings
            {
                Endpoint = endpoint,
                Host = "bench-host",
                Sensor = "bench",
                BatchRows = batch,
                QueueRows = rows,
                SpoolDirectory = spool,
                CreateSchema = true,
                FlushTimeout = TimeSpan.FromMinutes(5),
            };
            LeakRow[] data = [.. Enumerable.Range(0, rows).Select(Row)];
            if (rowsFile is not null)
            {
                var batcher = new RowBatcher("bench-host", "peer", rows, TimeSpan.FromHours(1));
                foreach (LeakRow r in Enumerable.Range(0, rows).Select(Row))
                {
                    batcher.Add(r, DateTimeOffset.UtcNow);
                }

                File.WriteAllBytes(rowsFile, batcher.Seal(DateTimeOffset.UtcNow, all: true)[0].Payload);
            }

            if (!ClickHouseExporter.TryStart(settings, Console.Error.WriteLine, out ClickHouseExporter? exporter, out error))
            {
                Console.Error.WriteLine(error);
                return;
            }

            var clock = Stopwatch.StartNew();
            foreach (LeakRow r in data)
            {
                exporter!.TryAdd(r);
            }

            double queued = clock.Elapsed.TotalSeconds;
            ExportStatistics s = exporter!.Stop();
            double total = clock.Elapsed.TotalSeconds;
            exporter.Dispose();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rows {rows}, batch {batch}: sent {s.RowsSent} in {s.BatchesSent} batches, {total:F3} s = {s.RowsSent / total:F0} rows/s; TryAdd {queued / rows * 1e9:F0} ns/row; dropped {s.RowsDropped}"));
        }
        finally
        {
            Directory.Delete(spool, recursive: true);
        }
    }

    private static LeakRow Row(int i) => new()
    {
        Timestamp = DateTimeOffset.UnixEpoch.AddDays(20_400).AddTicks(i * 10_000L),
        Kind = "leak",
        LeakType = "A",
        Severity = "P1",
        Transport = "udp53",
        Confidence = "high",
        QName = "*.site" + (i % 7).ToString(CultureInfo.InvariantCulture) + ".test",
        QType = "A",
        BaseDomain = "site" + (i % 7).ToString(CultureInfo.InvariantCulture) + ".test",
        Interface = "eth0",
        RouteClass = "physical",
        Source = "192.168.1.0/24",
        Destination = "198.51.100.53:53",
        AttributionConfidence = "none",
        AttributionReason = "capture file: no socket to ask",
        Evidence = ["plaintext DNS query outside the safe path", "interface eth0 is physical (physical interface name (eth*)), not a safe route class or safe interface in proxy-stub", "destination 198.51.100.53:53 is not a safe resolver"],
        Frame = i,
    };
}
