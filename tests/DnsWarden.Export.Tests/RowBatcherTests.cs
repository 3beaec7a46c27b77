using System.Text;
using System.Text.Json;

namespace DnsWarden.Export.Tests;

/// <summary>Batches by size and by time, per table; rows stamped with host, sensor and ids that repeat only with the batch.</summary>
public sealed class RowBatcherTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);

    private static LeakRow Leak(int i) => new() { Timestamp = s_t0.AddTicks(i * 1234567), Kind = "leak", LeakType = "A", Severity = "P1", Destination = "198.51.100.53:53" };

    [Fact]
    public void AFullBatch_IsSealedAtOnce_AndAPartialOneOnlyWhenDue()
    {
        var b = new RowBatcher("h1", "s1", maxRows: 3, maxDelay: TimeSpan.FromSeconds(1), runKey: 7);
        Assert.False(b.Add(Leak(0), s_t0));
        Assert.False(b.Add(Leak(1), s_t0));
        Assert.Empty(b.Seal(s_t0.AddMilliseconds(999)));
        Assert.True(b.Add(Leak(2), s_t0));
        SealedBatch full = Assert.Single(b.Seal(s_t0));
        Assert.Equal(3, full.Rows);

        b.Add(Leak(3), s_t0.AddSeconds(5));
        Assert.Equal(s_t0.AddSeconds(6), b.NextDue);
        Assert.Empty(b.Seal(s_t0.AddSeconds(5.5)));
        Assert.Single(b.Seal(s_t0.AddSeconds(6)));
        Assert.Null(b.NextDue);
        Assert.Equal(0, b.Pending);
    }

    [Fact]
    public void Tables_AreBatchedApart_AndSealedOldestFirst()
    {
        var b = new RowBatcher("h1", "s1", maxRows: 100, maxDelay: TimeSpan.FromSeconds(1), runKey: 7);
        b.Add(new QueryRow { Timestamp = s_t0, Source = "proxy", Verdict = "forwarded" }, s_t0);
        b.Add(Leak(0), s_t0);
        b.Add(new DecisionRow { Timestamp = s_t0, Source = "jail", Kind = "unresolved", Port = 80 }, s_t0);
        b.Add(new QueryRow { Timestamp = s_t0, Source = "proxy", Verdict = "cached" }, s_t0);
        IReadOnlyList<SealedBatch> all = b.Seal(s_t0, all: true);
        Assert.Equal([ExportTable.DnsQueries, ExportTable.LeakEvents, ExportTable.GuardDecisions], all.Select(x => x.Table));
        Assert.Equal([2, 1, 1], all.Select(x => x.Rows));
    }

    [Fact]
    public void EveryRow_CarriesHostSensorAndAnIdOfItsBatchAndPlace_AsOneJsonLine()
    {
        var b = new RowBatcher("host-a", "leak-watch", maxRows: 10, maxDelay: TimeSpan.FromSeconds(1), runKey: 0x0102030405060708);
        b.Add(Leak(0), s_t0);
        b.Add(Leak(1), s_t0);
        SealedBatch batch = Assert.Single(b.Seal(s_t0, all: true));
        string[] lines = Encoding.UTF8.GetString(batch.Payload).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using JsonDocument first = JsonDocument.Parse(lines[0]);
        using JsonDocument second = JsonDocument.Parse(lines[1]);
        Assert.Equal("host-a", first.RootElement.GetProperty("host").GetString());
        Assert.Equal("leak-watch", first.RootElement.GetProperty("sensor").GetString());
        Assert.Equal("2026-12-06 10:00:00", first.RootElement.GetProperty("ts").GetString());
        Assert.Equal(0u, first.RootElement.GetProperty("ts_ns").GetUInt32());
        Assert.Equal(123456700u, second.RootElement.GetProperty("ts_ns").GetUInt32());
        Guid id0 = first.RootElement.GetProperty("event_id").GetGuid();
        Guid id1 = second.RootElement.GetProperty("event_id").GetGuid();
        Assert.Equal(RowBatcher.EventId(0x0102030405060708, 1, 0), id0);
        Assert.Equal(RowBatcher.EventId(0x0102030405060708, 1, 1), id1);
        Assert.EndsWith("-000100000000", id0.ToString(), StringComparison.Ordinal);   // batch 1, row 0 in the low half
        Assert.EndsWith("-000100000001", id1.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(id0.ToString()[..18], id1.ToString()[..18]);                   // the high half differs too
    }

    [Fact]
    public void EventIds_AreDistinct_WithinARunAndAcrossRuns()
    {
        var seen = new HashSet<Guid>();
        foreach (ulong run in new ulong[] { 0, 1, 0xFFFFFFFFFFFFFFFF, 0x0102030405060708 })
        {
            for (uint batch = 0; batch < 40; batch++)
            {
                for (uint row = 0; row < 40; row++)
                {
                    Assert.True(seen.Add(RowBatcher.EventId(run, batch, row)));
                }
            }
        }
    }

    [Fact]
    public void TextThatIsNotValidUtf16_StillGivesOneValidJsonLine()
    {
        var b = new RowBatcher("h", "s", maxRows: 10, maxDelay: TimeSpan.FromSeconds(1), runKey: 1);
        b.Add(Leak(0), s_t0);
        b.Add(new LeakRow { Timestamp = s_t0, QName = "bad\ud800name\u0000\n" }, s_t0);
        b.Add(Leak(1), s_t0);
        SealedBatch batch = Assert.Single(b.Seal(s_t0, all: true));
        Assert.Equal(3, batch.Rows);
        string[] lines = Encoding.UTF8.GetString(batch.Payload).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l => JsonDocument.Parse(l).Dispose());
    }

    [Fact]
    public void ARow_ReadsBackToTheSameInstant_To100Nanoseconds()
    {
        var b = new RowBatcher("h", "s", maxRows: 10, maxDelay: TimeSpan.FromSeconds(1), runKey: 1);
        LeakRow original = Leak(9);
        b.Add(original, s_t0);
        string line = Encoding.UTF8.GetString(Assert.Single(b.Seal(s_t0, all: true)).Payload).TrimEnd('\n');
        LeakRow back = JsonSerializer.Deserialize(line, ExportJsonContext.Default.LeakRow)!;
        Assert.Equal(original.Timestamp, back.Timestamp);
        Assert.Equal(original.EventId, back.EventId);
        Assert.Equal("198.51.100.53:53", back.Destination);
    }
}
