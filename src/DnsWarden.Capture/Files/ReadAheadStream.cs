using System.Collections.Concurrent;

namespace DnsWarden.Capture.Files;

/// <summary>
/// Reads a file ahead on a thread of its own, in large chunks, while the reader parses what came before: the
/// kernel's copy out of the page cache (a third of the time of a large capture replay, docs/BENCHMARKS.md) runs on
/// the other core instead of between packets. Forward reading only; Length and Position are the file's and the
/// reader's, so a capture cut short is still reported at its byte offset. An I/O error on the read-ahead thread is
/// thrown to the reader where it would have met it.
/// </summary>
public sealed class ReadAheadStream : Stream
{
    public const int DefaultChunkSize = 1024 * 1024;

    private readonly Stream _inner;
    private readonly BlockingCollection<Chunk> _ready;
    private readonly ConcurrentBag<byte[]> _free = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly int _chunkSize;
    private readonly long _length;
    private Chunk _current = Chunk.Empty;
    private int _offset;
    private long _position;
    private bool _ended;
    private bool _disposed;
    private Exception? _pendingError;

    /// <param name="depth">How many chunks may wait read ahead.</param>
    public ReadAheadStream(Stream inner, int chunkSize = DefaultChunkSize, int depth = 3)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        _inner = inner;
        _chunkSize = chunkSize;
        _length = inner.CanSeek ? inner.Length : -1;
        _position = inner.CanSeek ? inner.Position : 0;
        _ready = new BlockingCollection<Chunk>(depth);
        _thread = new Thread(ReadLoop) { IsBackground = true, Name = "dnsw read-ahead" };
        _thread.Start();
    }

    public override bool CanRead => !_disposed;

    public override bool CanSeek => _length >= 0 && !_disposed;

    public override bool CanWrite => false;

    public override long Length => _length >= 0 ? _length : throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("read-ahead reads forward only");
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pendingError is { } pending)
        {
            _pendingError = null;
            throw new IOException(pending.Message, pending);
        }

        int total = 0;
        while (total < buffer.Length)
        {
            if (_offset == _current.Length)
            {
                if (_ended || !NextChunk())
                {
                    break;
                }

                continue;
            }

            int n = Math.Min(buffer.Length - total, _current.Length - _offset);
            _current.Data!.AsSpan(_offset, n).CopyTo(buffer[total..]);
            _offset += n;
            total += n;
        }

        _position += total;
        if (total == 0 && _pendingError is { } failure)
        {
            _pendingError = null;
            throw new IOException(failure.Message, failure);
        }

        return total;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("read-ahead reads forward only");

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _stop.Cancel();
            _thread.Join();
            _ready.Dispose();
            _stop.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool NextChunk()
    {
        if (_current.Data is { } done)
        {
            _free.Add(done);
        }

        _current = _ready.Take();
        _offset = 0;
        if (_current.Error is { } error)
        {
            // What was read before the error is handed over first; the error comes with the next read.
            _ended = true;
            _current = Chunk.Empty;
            _pendingError = error;
            return false;
        }

        if (_current.Length == 0)
        {
            _ended = true;
            return false;
        }

        return true;
    }

    private void ReadLoop()
    {
        CancellationToken stop = _stop.Token;
        try
        {
            while (true)
            {
                byte[] data = _free.TryTake(out byte[]? reused) ? reused : new byte[_chunkSize];
                int filled = 0;
                Exception? error = null;
                try
                {
                    while (filled < data.Length)
                    {
                        int n = _inner.Read(data, filled, data.Length - filled);
                        if (n <= 0)
                        {
                            break;
                        }

                        filled += n;
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
                {
                    error = e;
                }

                if (filled > 0)
                {
                    _ready.Add(new Chunk(data, filled, null), stop);
                }

                if (error is not null || filled < data.Length)
                {
                    // The end (or the error where the end would be): an empty chunk, or the error to rethrow there.
                    _ready.Add(new Chunk(null, 0, error), stop);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private readonly record struct Chunk(byte[]? Data, int Length, Exception? Error)
    {
        public static Chunk Empty => default;
    }
}
