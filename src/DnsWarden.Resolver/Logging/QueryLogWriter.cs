using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// The query log: <see cref="Write"/> hands the entry to a bounded queue and returns at once; one background task
/// formats JSON lines (<see cref="QueryLogJson"/>) and writes them to the target, flushing once per batch it drains.
/// A full queue drops the entry and counts it in <see cref="ResolverMetrics.QueryLogDropped"/>, so a slow disk never
/// slows serving. The background task also applies <see cref="QueryLogLimits"/>: repeats folded into one line with a
/// count, a byte budget, and a <c>log_suppressed</c> line for what the budget (or the full queue) left out.
/// <see cref="DisposeAsync"/> writes everything already accepted before it returns.
/// </summary>
public sealed class QueryLogWriter : IQueryLog, IAsyncDisposable
{
    public const int DefaultCapacity = 65_536;

    // A batch is written out once it grows past this, so one long drain does not hold a huge buffer.
    private const int ChunkBytes = 64 * 1024;

    // How often folded series and suppression reports are looked at while no query arrives.
    private static readonly TimeSpan s_tick = TimeSpan.FromMilliseconds(250);

    private readonly Channel<QueryLogEntry> _channel;
    private readonly PrivacyRedactor _redactor;
    private readonly ResolverMetrics _metrics;
    private readonly QueryLogLimits _limits;
    private readonly TimeProvider _time;
    private readonly Stream? _stream;
    private readonly TextWriter? _text;
    private readonly bool _leaveOpen;
    private readonly QueryLogFormat _format;
    private readonly BaseDomains _baseDomains;
    private readonly Task _pump;

    // Pump-only state: the open series of repeats, the byte budget, what was left out since the last report.
    private readonly Dictionary<SeriesKey, Series> _series = [];
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private double _budget;
    private long _budgetAt;
    private long _unreported;
    private long _lastReportAt;
    private DateTimeOffset _suppressedSince;

    private long _queueDropped;
    private long _written;
    private long _suppressed;
    private long _writeFailures;
    private int _disposed;

    public QueryLogWriter(Stream target, PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity = DefaultCapacity, bool leaveOpen = false, QueryLogLimits? limits = null, TimeProvider? time = null, QueryLogFormat format = QueryLogFormat.Json)
        : this(privacy, baseDomains, metrics, capacity, leaveOpen, limits, time, format)
    {
        ArgumentNullException.ThrowIfNull(target);
        _stream = target;
        _pump = Task.Run(PumpAsync);
    }

    public QueryLogWriter(TextWriter target, PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity = DefaultCapacity, bool leaveOpen = false, QueryLogLimits? limits = null, TimeProvider? time = null, QueryLogFormat format = QueryLogFormat.Json)
        : this(privacy, baseDomains, metrics, capacity, leaveOpen, limits, time, format)
    {
        ArgumentNullException.ThrowIfNull(target);
        _text = target;
        _pump = Task.Run(PumpAsync);
    }

    private QueryLogWriter(PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity, bool leaveOpen, QueryLogLimits? limits, TimeProvider? time, QueryLogFormat format)
    {
        _format = format;
        _baseDomains = baseDomains;
        ArgumentNullException.ThrowIfNull(baseDomains);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _redactor = new PrivacyRedactor(privacy, baseDomains);
        _metrics = metrics;
        _leaveOpen = leaveOpen;
        _limits = limits ?? QueryLogLimits.Default;
        _time = time ?? TimeProvider.System;
        _budget = _limits.BurstBytes;
        _budgetAt = _time.GetTimestamp();
        _lastReportAt = _budgetAt;

        // FullMode Wait makes TryWrite fail on a full queue (never block), which is where the drop is counted.
        _channel = Channel.CreateBounded<QueryLogEntry>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _pump = Task.CompletedTask;
    }

    public PrivacyMode Privacy => _redactor.Mode;

    public QueryLogLimits Limits => _limits;

    /// <summary>The vocabulary of the lines: the one place the query log's format is chosen, for the proxy, the jail and the TUN filter.</summary>
    public QueryLogFormat Format => _format;

    /// <summary>Lines written to the target so far (query lines, folded repeats and suppression reports).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queries the byte budget left out of the log (reported in <c>log_suppressed</c> lines).</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>Lines lost because the target threw while they were written (also counted as dropped).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>The last exception the target threw, if any; the writer carries on with the next batch.</summary>
    public Exception? LastWriteError { get; private set; }

    public void Write(QueryLogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!_channel.Writer.TryWrite(entry))
        {
            _metrics.RecordQueryLogDropped();
            Interlocked.Increment(ref _queueDropped);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _channel.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        if (!_leaveOpen)
        {
            if (_stream is not null)
            {
                await _stream.DisposeAsync().ConfigureAwait(false);
            }

            if (_text is not null)
            {
                await _text.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task PumpAsync()
    {
        ChannelReader<QueryLogEntry> reader = _channel.Reader;
        var buffer = new ArrayBufferWriter<byte>(ChunkBytes);
        using var json = new Utf8JsonWriter(_line, QueryLogJson.WriterOptions);
        Task<bool>? waiting = null;
        while (true)
        {
            waiting ??= reader.WaitToReadAsync().AsTask();
            if (!waiting.IsCompleted && HasTimedWork())
            {
                // Folded series close and suppression is reported on time even when no query comes.
                Task finished = await Task.WhenAny(waiting, Task.Delay(s_tick, _time)).ConfigureAwait(false);
                if (finished != waiting)
                {
                    int closed = CloseSeries(json, buffer, _time.GetUtcNow(), all: false) + Report(json, buffer, force: false);
                    if (closed > 0)
                    {
                        await WriteOutAsync(buffer, closed, flush: true).ConfigureAwait(false);
                    }

                    continue;
                }
            }

            bool more = await waiting.ConfigureAwait(false);
            waiting = null;
            if (!more)
            {
                break;
            }

            int pending = 0;
            while (reader.TryRead(out QueryLogEntry? entry))
            {
                pending += Take(json, buffer, entry);
                if (buffer.WrittenCount >= ChunkBytes)
                {
                    await WriteOutAsync(buffer, pending, flush: false).ConfigureAwait(false);
                    pending = 0;
                }
            }

            pending += CloseSeries(json, buffer, _time.GetUtcNow(), all: false) + Report(json, buffer, force: false);
            await WriteOutAsync(buffer, pending, flush: true).ConfigureAwait(false);
        }

        int last = CloseSeries(json, buffer, DateTimeOffset.MaxValue, all: true) + Report(json, buffer, force: true);
        if (last > 0)
        {
            await WriteOutAsync(buffer, last, flush: true).ConfigureAwait(false);
        }
    }

    private bool HasTimedWork() => _series.Count > 0 || _unreported > 0 || Interlocked.Read(ref _queueDropped) > 0;

    /// <summary>One entry from the queue: folded into its open series, or written (budget permitting); returns lines written.</summary>
    private int Take(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, QueryLogEntry entry)
    {
        if (_limits.AggregationWindow <= TimeSpan.Zero)
        {
            return Emit(json, buffer, entry) ? 1 : 0;
        }

        var key = new SeriesKey(ClientAddress(entry.Client), entry.QName, entry.QType, entry.Outcome, entry.Upstream);
        if (_series.TryGetValue(key, out Series? series) && entry.Timestamp < series.Ends)
        {
            series.Last = entry;
            series.Repeats++;
            return 0;
        }

        int written = 0;
        if (series is not null)
        {
            written += Close(json, buffer, key, series);
        }
        else if (_series.Count >= _limits.MaxOpenSeries)
        {
            written += CloseSeries(json, buffer, DateTimeOffset.MaxValue, all: true);
        }

        _series[key] = new Series(entry.Timestamp + _limits.AggregationWindow);
        return written + (Emit(json, buffer, entry) ? 1 : 0);
    }

    /// <summary>Writes the folded repeats of every series whose window has closed by <paramref name="now"/> (or of all).</summary>
    private int CloseSeries(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, DateTimeOffset now, bool all)
    {
        if (_series.Count == 0)
        {
            return 0;
        }

        int written = 0;
        List<SeriesKey>? done = null;
        foreach ((SeriesKey key, Series series) in _series)
        {
            if (all || series.Ends <= now)
            {
                (done ??= []).Add(key);
            }
        }

        foreach (SeriesKey key in done ?? [])
        {
            written += Close(json, buffer, key, _series[key]);
        }

        return written;
    }

    private int Close(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, SeriesKey key, Series series)
    {
        _series.Remove(key);
        return series.Repeats > 0 && Emit(json, buffer, series.Last! with { Count = series.Repeats }) ? 1 : 0;
    }

    /// <summary>Formats one line and adds it to the batch if the budget has room; otherwise counts it as suppressed.</summary>
    private bool Emit(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, QueryLogEntry entry)
    {
        _line.ResetWrittenCount();
        json.Reset(_line);
        if (_format == QueryLogFormat.Ecs)
        {
            QueryLogEcs.Write(json, entry, _redactor, _baseDomains);
        }
        else
        {
            QueryLogJson.Write(json, entry, _redactor);
        }

        json.Flush();
        _line.Write("\n"u8);
        if (!Spend(_line.WrittenCount))
        {
            if (_unreported == 0)
            {
                _suppressedSince = entry.Timestamp;
            }

            _unreported += entry.Count;
            Interlocked.Add(ref _suppressed, entry.Count);
            _metrics.RecordQueryLogDropped();
            return false;
        }

        buffer.Write(_line.WrittenSpan);
        return true;
    }

    /// <summary>Token bucket over bytes: refilled at the configured rate up to the burst.</summary>
    private bool Spend(int bytes)
    {
        if (_limits.BytesPerMinute <= 0)
        {
            return true;
        }

        long now = _time.GetTimestamp();
        double seconds = (double)(now - _budgetAt) / _time.TimestampFrequency;
        _budgetAt = now;
        _budget = Math.Min(_limits.BurstBytes, _budget + (seconds * _limits.BytesPerMinute / 60.0));
        if (_budget < bytes)
        {
            return false;
        }

        _budget -= bytes;
        return true;
    }

    /// <summary>
    /// The <c>log_suppressed</c> line, outside the budget: how many queries the budget and the full queue left out
    /// since the last one. Written at most every <see cref="QueryLogLimits.SuppressionReportInterval"/>, and at the end.
    /// </summary>
    private int Report(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, bool force)
    {
        long queue = Interlocked.Exchange(ref _queueDropped, 0);
        if (queue > 0 && _unreported == 0)
        {
            _suppressedSince = _time.GetUtcNow();
        }

        _unreported += queue;
        long now = _time.GetTimestamp();
        if (_unreported == 0 || (!force && _time.GetElapsedTime(_lastReportAt, now) < _limits.SuppressionReportInterval))
        {
            return 0;
        }

        _line.ResetWrittenCount();
        json.Reset(_line);
        if (_format == QueryLogFormat.Ecs)
        {
            QueryLogEcs.WriteSuppressed(json, _time.GetUtcNow(), _suppressedSince, _unreported);
        }
        else
        {
            QueryLogJson.WriteSuppressed(json, _time.GetUtcNow(), _suppressedSince, _unreported);
        }

        json.Flush();
        _line.Write("\n"u8);
        buffer.Write(_line.WrittenSpan);
        _unreported = 0;
        _lastReportAt = now;
        return 1;
    }

    /// <summary>The client's address without its port: repeats from one client on different source ports are one series.</summary>
    private static string? ClientAddress(string? client)
    {
        if (client is null)
        {
            return null;
        }

        int end = client.StartsWith('[') ? client.IndexOf(']', StringComparison.Ordinal) + 1 : client.LastIndexOf(':');
        return end > 0 ? client[..end] : client;
    }

    private async Task WriteOutAsync(ArrayBufferWriter<byte> buffer, int lines, bool flush)
    {
        try
        {
            if (_stream is not null)
            {
                if (buffer.WrittenCount > 0)
                {
                    await _stream.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
                }

                if (flush)
                {
                    await _stream.FlushAsync().ConfigureAwait(false);
                }
            }
            else if (_text is not null)
            {
                if (buffer.WrittenCount > 0)
                {
                    await _text.WriteAsync(Encoding.UTF8.GetString(buffer.WrittenSpan)).ConfigureAwait(false);
                }

                if (flush)
                {
                    await _text.FlushAsync().ConfigureAwait(false);
                }
            }

            Interlocked.Add(ref _written, lines);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
        {
            // A full disk or a closed pipe must not stop serving: the lines are counted as dropped and the next batch tries again.
            LastWriteError = ex;
            Interlocked.Add(ref _writeFailures, lines);
            for (int i = 0; i < lines; i++)
            {
                _metrics.RecordQueryLogDropped();
            }
        }
        finally
        {
            buffer.ResetWrittenCount();
        }
    }

    // The upstream is part of the key: a folded line names the one upstream all its repeats went to.
    private readonly record struct SeriesKey(string? Client, string? QName, string? QType, QueryOutcome Outcome, string? Upstream);

    /// <summary>Repeats of one line since it was written, until <see cref="Ends"/>.</summary>
    private sealed class Series(DateTimeOffset ends)
    {
        public DateTimeOffset Ends { get; } = ends;

        public int Repeats { get; set; }

        public QueryLogEntry? Last { get; set; }
    }
}
