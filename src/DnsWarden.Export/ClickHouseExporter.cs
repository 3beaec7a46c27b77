using System.Globalization;
using System.Threading.Channels;

namespace DnsWarden.Export;

/// <summary>
/// Rows to ClickHouse without ever holding up the thread that made them. <see cref="TryAdd"/> puts the row on a
/// bounded in-memory queue and returns (a full queue drops the row and counts it). One thread of its own takes rows
/// off the queue into per-table batches (<see cref="RowBatcher"/>: by size and by time), writes each sealed batch to
/// the <see cref="Spool"/>, then sends the spool oldest first, deleting a batch once the server stored it. While the
/// server is unreachable or refuses, batches stay spooled and are retried (sooner for an outage, later for a refusal),
/// the reason said once in one line; a full spool drops the new batch and counts its rows. At-least-once: a batch
/// whose reply was lost is sent again with the same event ids, which the tables keep once (docs/DECISIONS.md).
/// </summary>
public sealed class ClickHouseExporter : IDisposable
{
    private static readonly TimeSpan s_firstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_maxOutageRetry = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_maxRefusalRetry = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_retentionInterval = TimeSpan.FromHours(1);

    private readonly ExportSettings _settings;
    private readonly IClickHouseTransport _transport;
    private readonly ClickHouseHttp? _http;
    private readonly Spool _spool;
    private readonly RowBatcher _batcher;
    private readonly Channel<ExportRow> _queue;
    private readonly Action<string> _report;
    private readonly TimeProvider _time;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _abort = new();
    private readonly Lock _statsGate = new();
    private long _queued;
    private long _droppedQueue;
    private long _droppedSpool;
    private long _unwritable;
    private bool _lastProblemRefusal;
    private long _sent;
    private long _batchesSent;
    private ExportStatistics _spoolView;
    private string? _lastProblem;
    private bool _schemaReady;
    private DateTimeOffset _retryAt;
    private TimeSpan _backoff = s_firstRetry;
    private DateTimeOffset _nextRetention;
    private DateTimeOffset? _stopDeadline;
    private int _stopped;

    private ClickHouseExporter(ExportSettings settings, IClickHouseTransport transport, Spool spool, Action<string> report, TimeProvider time)
    {
        _settings = settings;
        _transport = transport;
        _http = transport as ClickHouseHttp;
        _spool = spool;
        _report = report;
        _time = time;
        _schemaReady = !settings.CreateSchema;
        _batcher = new RowBatcher(settings.Host, settings.Sensor, settings.BatchRows, settings.BatchInterval);
        _queue = Channel.CreateBounded<ExportRow>(new BoundedChannelOptions(settings.QueueRows)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the drop is counted, never waited for
        });
        _spoolView = Snapshot();
        _retryAt = time.GetUtcNow();
        _nextRetention = time.GetUtcNow();
        _thread = new Thread(Run) { IsBackground = true, Name = "dnsw export" };
    }

    public ExportSettings Settings => _settings;

    /// <summary>
    /// Opens the spool and starts the exporter's thread. False with one line when the spool cannot be used (nothing is
    /// started then). <paramref name="report"/> receives the problem lines (one per new problem), from that thread.
    /// </summary>
    public static bool TryStart(ExportSettings settings, Action<string> report, out ClickHouseExporter? exporter, out string? error, IClickHouseTransport? transport = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(report);
        exporter = null;
        if (!Spool.TryOpen(settings.SpoolDirectory, settings.SpoolMaxBytes, out Spool? spool, out error))
        {
            return false;
        }

        exporter = Start(settings, report, spool!, transport, time);
        return true;
    }

    /// <summary>Starts the exporter's thread over a spool the caller opened (<see cref="Spool.TryOpenForRun"/>).</summary>
    public static ClickHouseExporter Start(ExportSettings settings, Action<string> report, Spool spool, IClickHouseTransport? transport = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(spool);
        transport ??= new ClickHouseHttp(settings.Endpoint, settings.User, settings.Password);
        var exporter = new ClickHouseExporter(settings, transport, spool, report, time ?? TimeProvider.System);
        exporter._thread.Start();
        return exporter;
    }

    /// <summary>Queues a row; never blocks. False when the queue is full (the row is dropped and counted) or the exporter stopped.</summary>
    public bool TryAdd(ExportRow row)
    {
        if (_queue.Writer.TryWrite(row))
        {
            Interlocked.Increment(ref _queued);
            return true;
        }

        Interlocked.Increment(ref _droppedQueue);
        return false;
    }

    public ExportStatistics Statistics
    {
        get
        {
            lock (_statsGate)
            {
                return _spoolView with
                {
                    RowsQueued = Interlocked.Read(ref _queued),
                    RowsSent = Interlocked.Read(ref _sent),
                    BatchesSent = Interlocked.Read(ref _batchesSent),
                    RowsDroppedQueueFull = Interlocked.Read(ref _droppedQueue),
                    RowsDroppedSpoolFull = Interlocked.Read(ref _droppedSpool),
                    RowsUnwritable = Interlocked.Read(ref _unwritable),
                };
            }
        }
    }

    /// <summary>
    /// Takes no more rows, batches and spools what is queued, and sends the spool until it is empty, the server
    /// refuses, or <see cref="ExportSettings.FlushTimeout"/> passes; what is left stays in the spool for the next run.
    /// </summary>
    public ExportStatistics Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            _stopDeadline = _time.GetUtcNow() + _settings.FlushTimeout;
            _queue.Writer.TryComplete();
            if (!_thread.Join(_settings.FlushTimeout + TimeSpan.FromSeconds(5)))
            {
                // A request stuck past its own timeout: give up on it; the batch stays in the spool.
                _abort.Cancel();
                _thread.Join();
            }
        }

        return Statistics;
    }

    /// <summary>The summary's lines: what was sent, what waits in the spool, and drops (loud).</summary>
    public IReadOnlyList<string> Summary()
    {
        ExportStatistics s = Statistics;
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"export {_settings.Endpoint} (host {_settings.Host}, sensor {_settings.Sensor}): {s.RowsSent} rows sent in {s.BatchesSent} batches; {s.SpoolRows} rows ({s.SpoolBytes} bytes) left in the spool {_spool.Directory}"),
        };
        if (s.SpoolRows > 0 && s.LastProblem is not null)
        {
            lines.Add("export: the spool waits because: " + s.LastProblem);
        }

        if (s.SpoolCorrupt > 0)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"export: {s.SpoolCorrupt} spool file(s) were not batches and were set aside (*.corrupt)"));
        }

        if (s.RowsUnwritable > 0)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"EXPORT DROPPED {s.RowsUnwritable} ROWS that could not be written as JSON (text that is not valid UTF-16)"));
        }

        if (s.RowsDropped > 0)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"EXPORT DROPPED {s.RowsDropped} ROWS: {s.RowsDroppedQueueFull} because the queue was full ({_settings.QueueRows} rows), {s.RowsDroppedSpoolFull} because the spool was full ({_settings.SpoolMaxBytes} bytes)"));
        }

        return lines;
    }

    public void Dispose()
    {
        Stop();
        _transport.Dispose();
        _abort.Dispose();
    }

    private void Run()
    {
        try
        {
            Loop();
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Stop gave up waiting on a request; the batch it carried is still in the spool.
        }
    }

    private void Loop()
    {
        ChannelReader<ExportRow> reader = _queue.Reader;
        bool open = true;
        bool finalAttempt = false;
        while (true)
        {
            // Take what is queued, sealing full batches as they fill; stop now and then to send.
            int taken = 0;
            while (taken < _settings.BatchRows && reader.TryRead(out ExportRow? row))
            {
                taken++;
                try
                {
                    if (_batcher.Add(row, _time.GetUtcNow()))
                    {
                        SpoolSealed(all: false);
                    }
                }
                catch (ArgumentException)
                {
                    Interlocked.Increment(ref _unwritable);
                }
            }

            if (open && reader.Completion.IsCompleted)
            {
                open = false;
            }

            SpoolSealed(all: !open);
            if (!open)
            {
                // Stopping: one attempt at once whatever the back-off says, then retries for an outage until the deadline.
                if (_spool.PendingBatches > 0 && (!finalAttempt || _time.GetUtcNow() >= _retryAt))
                {
                    finalAttempt = true;
                    Deliver();
                }

                if (_spool.PendingBatches == 0 || _stopDeadline is not { } deadline || _time.GetUtcNow() >= deadline || _lastProblemRefusal)
                {
                    return;
                }

                WaitFor(_retryAt < deadline ? _retryAt : deadline);
                continue;
            }

            if (_spool.PendingBatches > 0 && _time.GetUtcNow() >= _retryAt)
            {
                Deliver();
            }

            if (taken == _settings.BatchRows)
            {
                continue;
            }

            DateTimeOffset wake = _batcher.NextDue ?? DateTimeOffset.MaxValue;
            if (_spool.PendingBatches > 0 && _retryAt < wake)
            {
                wake = _retryAt;
            }

            ValueTask<bool> more = reader.WaitToReadAsync();
            if (!more.IsCompleted)
            {
                TimeSpan wait = wake == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : Clamp(wake - _time.GetUtcNow());
                try
                {
                    more.AsTask().Wait(wait);
                }
                catch (AggregateException)
                {
                    // The queue completed with an error: never done here; treated as closed below.
                }
            }
        }
    }

    private void SpoolSealed(bool all)
    {
        foreach (SealedBatch b in _batcher.Seal(_time.GetUtcNow(), all))
        {
            if (!_spool.TryAppend(b.Table, b.Rows, b.Payload, out string? error))
            {
                Interlocked.Add(ref _droppedSpool, b.Rows);
                Problem(error!, refusal: false, quietly: true);
            }
        }

        Publish();
    }

    /// <summary>Sends spooled batches oldest first until the spool is empty or one is not stored.</summary>
    private void Deliver()
    {
        if (!_schemaReady && _http is not null)
        {
            if (ClickHouseSchema.Create(_http, _settings, _abort.Token) is { } error)
            {
                Failed(new InsertOutcome(InsertStatus.Refused, error));
                return;
            }

            _schemaReady = true;
        }

        while (_spool.TryPeekOldest(out SpoolBatch? batch, out string? problem) || problem is not null)
        {
            if (problem is not null)
            {
                _report("dnsw: export: " + problem);
                Publish();
            }

            if (batch is null)
            {
                break;
            }

            InsertOutcome outcome = _transport.Insert(_settings.TableName(batch.Table), batch.Payload, _abort.Token);
            if (outcome.Status != InsertStatus.Stored)
            {
                Failed(outcome);
                return;
            }

            _spool.Remove(batch);
            Interlocked.Add(ref _sent, batch.Rows);
            Interlocked.Increment(ref _batchesSent);
            if (_lastProblem is not null)
            {
                _report(string.Create(CultureInfo.InvariantCulture, $"dnsw: export to {_settings.Endpoint}: delivering again ({_spool.PendingRows} rows still spooled)"));
                _lastProblem = null;
                _lastProblemRefusal = false;
            }

            _backoff = s_firstRetry;
            Publish();
        }

        Publish();
        if (_settings.RetentionDays > 0 && _http is not null && _time.GetUtcNow() >= _nextRetention)
        {
            _nextRetention = _time.GetUtcNow() + s_retentionInterval;
            (int dropped, string? error) = ClickHouseSchema.ApplyRetention(_http, _settings, _settings.RetentionDays, _abort.Token);
            if (error is not null)
            {
                _report("dnsw: export: retention: " + error);
            }
            else if (dropped > 0)
            {
                _report(string.Create(CultureInfo.InvariantCulture, $"dnsw: export: retention: dropped {dropped} day partition(s) older than {_settings.RetentionDays} days"));
            }
        }
    }

    private void Failed(InsertOutcome outcome)
    {
        bool refusal = outcome.Status == InsertStatus.Refused;
        TimeSpan cap = refusal ? s_maxRefusalRetry : s_maxOutageRetry;
        _retryAt = _time.GetUtcNow() + _backoff;
        _backoff = _backoff * 2 > cap ? cap : _backoff * 2;
        string what = refusal ? $"{_settings.Endpoint} refused the rows: {outcome.Message}" : outcome.Message ?? "unreachable";
        Problem(string.Create(CultureInfo.InvariantCulture, $"{what}; {_spool.PendingRows} rows kept in the spool {_spool.Directory}, retried"), refusal, quietly: false);
    }

    private void Problem(string text, bool refusal, bool quietly)
    {
        // One line per new problem: a server down for an hour is one line, not thousands (the row count is left
        // out of the comparison so the line is not repeated as the spool grows).
        string key = text.Split(';')[0];
        if (!quietly || _lastProblem is null)
        {
            if (_lastProblem is null || _lastProblem.Split(';')[0] != key)
            {
                _report("dnsw: export: " + text);
            }
        }

        _lastProblem = text;
        _lastProblemRefusal = refusal;
        Publish();
    }

    private void Publish()
    {
        lock (_statsGate)
        {
            _spoolView = Snapshot();
        }
    }

    private ExportStatistics Snapshot() =>
        new(0, 0, 0, 0, 0, 0, _spool.PendingRows, _spool.PendingBytes, _spool.PendingBatches, _spool.Corrupt, _lastProblem);

    private void WaitFor(DateTimeOffset until)
    {
        TimeSpan wait = Clamp(until - _time.GetUtcNow());
        _abort.Token.WaitHandle.WaitOne(wait);
    }

    private static TimeSpan Clamp(TimeSpan t) => t < TimeSpan.Zero ? TimeSpan.Zero : t > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : t;
}
