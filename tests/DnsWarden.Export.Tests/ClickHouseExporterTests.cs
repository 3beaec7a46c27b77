using System.Text;
using System.Text.Json;

namespace DnsWarden.Export.Tests;

/// <summary>
/// The exporter's thread, queue and spool against a stand-in transport (the real server is in the end-to-end
/// tests): order, outages, refusals, lost replies, and drops that are counted instead of waited for.
/// </summary>
public sealed class ClickHouseExporterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dnsw-export-test-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _lines = [];

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private ExportSettings Settings(int batch = 3, int queue = 1000, long spool = 1 << 20) => new()
    {
        Endpoint = new ClickHouseEndpoint("127.0.0.1", 1, "dnsw"),
        Host = "h",
        Sensor = "s",
        BatchRows = batch,
        BatchInterval = TimeSpan.FromHours(1),
        QueueRows = queue,
        SpoolDirectory = _dir,
        SpoolMaxBytes = spool,
        FlushTimeout = TimeSpan.FromSeconds(10),
    };

    private ClickHouseExporter Start(ExportSettings settings, FakeTransport transport)
    {
        Assert.True(ClickHouseExporter.TryStart(settings, l => { lock (_lines) { _lines.Add(l); } }, out ClickHouseExporter? e, out string? error, transport), error);
        return e!;
    }

    private static LeakRow Row(int i) => new() { Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(i), Kind = "leak", Frame = i };

    [Fact]
    public void Rows_ArriveInOrder_InBatchesOfTheConfiguredSize()
    {
        var t = new FakeTransport();
        ClickHouseExporter e = Start(Settings(batch: 3), t);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(e.TryAdd(Row(i)));
        }

        ExportStatistics s = e.Stop();
        Assert.Equal(10, s.RowsSent);
        Assert.Equal(4, s.BatchesSent);
        Assert.Equal([3, 3, 3, 1], t.Stored.Select(b => b.Frames.Count));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), t.Stored.SelectMany(b => b.Frames));
        Assert.All(t.Stored, b => Assert.Equal("leak_events", b.Table));
        Assert.Equal(0, s.SpoolRows);
        Assert.Empty(Directory.GetFiles(_dir));
        e.Dispose();
    }

    [Fact]
    public void DuringAnOutage_RowsWaitInTheSpool_AndTheNextRunSendsThemFirst()
    {
        var down = new FakeTransport { Answer = _ => new InsertOutcome(InsertStatus.Unreachable, "clickhouse://127.0.0.1:1/dnsw unreachable: Connection refused") };
        ExportSettings settings = Settings(batch: 2) with { FlushTimeout = TimeSpan.Zero };
        ClickHouseExporter first = Start(settings, down);
        for (int i = 0; i < 5; i++)
        {
            first.TryAdd(Row(i));
        }

        ExportStatistics s = first.Stop();
        Assert.Equal(0, s.RowsSent);
        Assert.Equal(5, s.SpoolRows);
        Assert.Contains(first.Summary(), l => l.Contains("5 rows", StringComparison.Ordinal) && l.Contains("left in the spool", StringComparison.Ordinal));
        first.Dispose();
        Assert.Single(_lines, l => l.Contains("unreachable", StringComparison.Ordinal));

        var up = new FakeTransport();
        ClickHouseExporter second = Start(Settings(batch: 2), up);
        second.TryAdd(Row(5));
        ExportStatistics after = second.Stop();
        second.Dispose();
        Assert.Equal(6, after.RowsSent);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), up.Stored.SelectMany(b => b.Frames));
    }

    [Fact]
    public void ABatchWhoseReplyWasLost_IsSentAgainWithTheSameEventIds()
    {
        int calls = 0;
        var t = new FakeTransport();
        t.Answer = b => Interlocked.Increment(ref calls) == 2 ? new InsertOutcome(InsertStatus.Unreachable, "reset after the server stored it") : InsertOutcome.Stored;
        t.StoreEvenWhenFailing = true;
        ClickHouseExporter e = Start(Settings(batch: 2), t);
        for (int i = 0; i < 6; i++)
        {
            e.TryAdd(Row(i));
        }

        ExportStatistics s = e.Stop();
        e.Dispose();
        Assert.Equal(6, s.RowsSent);
        Guid[] ids = [.. t.Stored.SelectMany(b => b.Ids)];
        Assert.Equal(8, ids.Length);                 // the second batch is stored twice …
        Assert.Equal(6, ids.Distinct().Count());     // … under the same ids, which the table keeps once
    }

    [Fact]
    public void ARefusingServer_IsSaidOnce_AndTheRowsStayInTheSpool()
    {
        var t = new FakeTransport { Answer = _ => new InsertOutcome(InsertStatus.Refused, "code 60: Table dnsw.nope doesn't exist. (HTTP 404)", 60) };
        ClickHouseExporter e = Start(Settings(batch: 1), t);
        for (int i = 0; i < 4; i++)
        {
            e.TryAdd(Row(i));
        }

        ExportStatistics s = e.Stop();
        e.Dispose();
        Assert.Equal(0, s.RowsSent);
        Assert.Equal(4, s.SpoolRows);
        Assert.Equal(4, Directory.GetFiles(_dir, "*.batch").Length);
        string line = Assert.Single(_lines);
        Assert.Equal("dnsw: export: clickhouse://127.0.0.1:1/dnsw refused the rows: code 60: Table dnsw.nope doesn't exist. (HTTP 404); 1 rows kept in the spool " + _dir + ", retried", line);
    }

    [Fact]
    public void AFullQueue_DropsAndCounts_WithoutWaiting()
    {
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var t = new FakeTransport
        {
            Answer = _ =>
            {
                entered.Set();
                release.Wait();
                return InsertOutcome.Stored;
            },
        };
        ClickHouseExporter e = Start(Settings(batch: 1, queue: 4), t);
        Assert.True(e.TryAdd(Row(0)));
        entered.Wait();                               // the exporter's thread is inside an insert now
        int accepted = Enumerable.Range(1, 10).Count(i => e.TryAdd(Row(i)));
        Assert.Equal(4, accepted);
        Assert.Equal(6, e.Statistics.RowsDroppedQueueFull);
        release.Set();
        ExportStatistics s = e.Stop();
        Assert.Equal(5, s.RowsSent);
        Assert.Contains(e.Summary(), l => l.StartsWith("EXPORT DROPPED 6 ROWS: 6 because the queue was full", StringComparison.Ordinal));
        e.Dispose();
    }

    [Fact]
    public void AFullSpool_DropsTheNewBatch_AndCountsItsRows()
    {
        var t = new FakeTransport { Answer = _ => new InsertOutcome(InsertStatus.Unreachable, "down") };
        ClickHouseExporter e = Start(Settings(batch: 2, spool: 900) with { FlushTimeout = TimeSpan.Zero }, t);
        for (int i = 0; i < 20; i++)
        {
            e.TryAdd(Row(i));
        }

        ExportStatistics s = e.Stop();
        e.Dispose();
        Assert.True(s.RowsDroppedSpoolFull > 0);
        Assert.Equal(20, s.SpoolRows + s.RowsDroppedSpoolFull);
        Assert.True(s.SpoolBytes <= 900);
    }

    private sealed class FakeTransport : IClickHouseTransport
    {
        public Func<byte[], InsertOutcome> Answer { get; set; } = _ => InsertOutcome.Stored;

        public bool StoreEvenWhenFailing { get; set; }

        public List<(string Table, List<long> Frames, List<Guid> Ids)> Stored { get; } = [];

        public InsertOutcome Insert(string table, ReadOnlyMemory<byte> rows, CancellationToken cancellationToken)
        {
            byte[] bytes = rows.ToArray();
            InsertOutcome outcome = Answer(bytes);
            if (outcome.Status == InsertStatus.Stored || StoreEvenWhenFailing)
            {
                var frames = new List<long>();
                var ids = new List<Guid>();
                foreach (string line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    using JsonDocument d = JsonDocument.Parse(line);
                    frames.Add(d.RootElement.GetProperty("frame").GetInt64());
                    ids.Add(d.RootElement.GetProperty("event_id").GetGuid());
                }

                Stored.Add((table, frames, ids));
            }

            return outcome;
        }

        public void Dispose()
        {
        }
    }
}
