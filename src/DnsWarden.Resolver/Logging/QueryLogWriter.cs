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
/// slows serving. <see cref="DisposeAsync"/> writes everything already accepted before it returns.
/// </summary>
public sealed class QueryLogWriter : IQueryLog, IAsyncDisposable
{
    public const int DefaultCapacity = 65_536;

    // A batch is written out once it grows past this, so one long drain does not hold a huge buffer.
    private const int ChunkBytes = 64 * 1024;

    private readonly Channel<QueryLogEntry> _channel;
    private readonly PrivacyRedactor _redactor;
    private readonly ResolverMetrics _metrics;
    private readonly Stream? _stream;
    private readonly TextWriter? _text;
    private readonly bool _leaveOpen;
    private readonly Task _pump;
    private long _written;
    private long _writeFailures;
    private int _disposed;

    public QueryLogWriter(Stream target, PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity = DefaultCapacity, bool leaveOpen = false)
        : this(privacy, baseDomains, metrics, capacity, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(target);
        _stream = target;
        _pump = Task.Run(PumpAsync);
    }

    public QueryLogWriter(TextWriter target, PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity = DefaultCapacity, bool leaveOpen = false)
        : this(privacy, baseDomains, metrics, capacity, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(target);
        _text = target;
        _pump = Task.Run(PumpAsync);
    }

    private QueryLogWriter(PrivacyMode privacy, BaseDomains baseDomains, ResolverMetrics metrics, int capacity, bool leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(baseDomains);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _redactor = new PrivacyRedactor(privacy, baseDomains);
        _metrics = metrics;
        _leaveOpen = leaveOpen;

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

    /// <summary>Lines written to the target so far.</summary>
    public long Written => Interlocked.Read(ref _written);

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
        using var json = new Utf8JsonWriter(buffer, QueryLogJson.WriterOptions);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            int pending = 0;
            while (reader.TryRead(out QueryLogEntry? entry))
            {
                json.Reset(buffer);
                QueryLogJson.Write(json, entry, _redactor);
                json.Flush();
                buffer.Write("\n"u8);
                pending++;
                if (buffer.WrittenCount >= ChunkBytes)
                {
                    await WriteOutAsync(buffer, pending, flush: false).ConfigureAwait(false);
                    pending = 0;
                }
            }

            await WriteOutAsync(buffer, pending, flush: true).ConfigureAwait(false);
        }
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
}
