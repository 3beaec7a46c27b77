using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace DnsWarden.Export;

/// <summary>A batch ready for the spool: one table's rows as JSONEachRow.</summary>
public sealed record SealedBatch(ExportTable Table, int Rows, byte[] Payload);

/// <summary>
/// Gathers rows into one JSONEachRow batch per table and says when to close them: a table's batch when it reaches
/// <see cref="MaxRows"/>, every batch once the oldest row in it has waited <see cref="MaxDelay"/>. Each row gets its
/// host, sensor and an event id made of the batch's key (a random 64-bit run key and the batch number) and its
/// place in the batch: a batch sent again carries the same ids, which is what lets the tables keep it once.
/// Used by one thread (the exporter's).
/// </summary>
public sealed class RowBatcher
{
    private readonly TableBuffer[] _tables;
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private readonly Utf8JsonWriter _json;
    private readonly ulong _runKey;
    private uint _batchNumber;

    public RowBatcher(string host, string sensor, int maxRows, TimeSpan maxDelay, ulong? runKey = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(sensor);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        Host = host;
        Sensor = sensor;
        MaxRows = maxRows;
        MaxDelay = maxDelay;
        _runKey = runKey ?? BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
        _tables = [.. Enum.GetValues<ExportTable>().Select(_ => new TableBuffer())];
        _json = new Utf8JsonWriter(_scratch);
    }

    public string Host { get; }

    public string Sensor { get; }

    public int MaxRows { get; }

    public TimeSpan MaxDelay { get; }

    /// <summary>Rows gathered and not yet sealed.</summary>
    public int Pending => _tables.Sum(t => t.Rows);

    /// <summary>When the oldest open batch falls due; null when nothing is open.</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            DateTimeOffset? due = null;
            foreach (TableBuffer t in _tables)
            {
                if (t.Rows > 0 && (due is null || t.Opened + MaxDelay < due))
                {
                    due = t.Opened + MaxDelay;
                }
            }

            return due;
        }
    }

    /// <summary>
    /// Stamps and writes the row into its table's batch; true when that batch is now full (seal it). A row that cannot
    /// be written as JSON (text that is not valid UTF-16) throws <see cref="ArgumentException"/> and leaves the batch as it was.
    /// </summary>
    public bool Add(ExportRow row, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(row);
        TableBuffer t = _tables[(int)row.Table];
        uint batch = t.Rows == 0 ? _batchNumber + 1 : t.Number;
        row.Host = Host;
        row.Sensor = Sensor;
        row.EventId = EventId(_runKey, batch, (uint)t.Rows);

        // Written aside first, so a row that fails half-way never leaves half a line in the batch.
        _scratch.ResetWrittenCount();
        _json.Reset(_scratch);
        JsonSerializer.Serialize(_json, row, TypeInfo(row));
        _json.Flush();
        if (t.Rows == 0)
        {
            t.Opened = now;
            t.Number = ++_batchNumber;
        }

        t.Buffer.Write(_scratch.WrittenSpan);
        t.Buffer.Write("\n"u8);
        t.Rows++;
        return t.Rows >= MaxRows;
    }

    /// <summary>The batches that are full or due at <paramref name="now"/> (all open ones when <paramref name="all"/>), oldest first.</summary>
    public IReadOnlyList<SealedBatch> Seal(DateTimeOffset now, bool all = false)
    {
        List<SealedBatch> sealedBatches = [];
        foreach ((TableBuffer t, int i) in _tables.Select((t, i) => (t, i)).OrderBy(x => x.t.Number))
        {
            if (t.Rows > 0 && (all || t.Rows >= MaxRows || now >= t.Opened + MaxDelay))
            {
                sealedBatches.Add(new SealedBatch((ExportTable)i, t.Rows, t.Buffer.WrittenSpan.ToArray()));
                t.Buffer.ResetWrittenCount();
                t.Rows = 0;
            }
        }

        return sealedBatches;
    }

    /// <summary>
    /// (run key XOR a mix of batch and row) · batch number (4) · row (4): unique per row across runs (the low half is
    /// unique within a run, the high half then differs between runs), the same when the batch is resent. The mix
    /// spreads the high half too: ClickHouse 18.16's <c>uniqExact</c> over UUIDs whose high halves are all equal
    /// takes seconds per 100,000 rows (measured; docs/BENCHMARKS.md).
    /// </summary>
    internal static Guid EventId(ulong runKey, uint batch, uint row)
    {
        ulong low = (ulong)batch << 32 | row;
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, runKey ^ Mix(low));
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The SplitMix64 finalizer: a bijection, so distinct inputs stay distinct.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static JsonTypeInfo TypeInfo(ExportRow row) => row switch
    {
        LeakRow => ExportJsonContext.Default.LeakRow,
        QueryRow => ExportJsonContext.Default.QueryRow,
        DecisionRow => ExportJsonContext.Default.DecisionRow,
        _ => throw new ArgumentException($"no JSON shape for {row.GetType().Name}", nameof(row)),
    };

    private sealed class TableBuffer
    {
        public ArrayBufferWriter<byte> Buffer { get; } = new(64 * 1024);

        public int Rows { get; set; }

        public DateTimeOffset Opened { get; set; }

        public uint Number { get; set; }
    }
}
