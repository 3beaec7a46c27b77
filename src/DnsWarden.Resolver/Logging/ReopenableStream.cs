namespace DnsWarden.Resolver.Logging;

/// <summary>
/// A write-only file stream that can be opened again by its name: after logrotate renames the query log and sends
/// SIGHUP, the next lines go to a new file of the old name (no copytruncate needed). Writes and the swap are
/// serialised, so no line is split between the two files; the old file is flushed and closed.
/// </summary>
public sealed class ReopenableStream : Stream
{
    private readonly Func<Stream> _open;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Stream _current;

    public ReopenableStream(Func<Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        _open = open;
        _current = open();
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Opens the file again by name; when that fails the exception is thrown and the current file stays.</summary>
    public async Task ReopenAsync()
    {
        Stream next = _open();
        Stream old;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            old = _current;
            try
            {
                await old.FlushAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // The old file's last buffered lines could not be written (disk full): the writer already counts such losses.
            }

            _current = next;
        }
        finally
        {
            _gate.Release();
        }

        await old.DisposeAsync().ConfigureAwait(false);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _gate.Wait();
        try
        {
            _current.Write(buffer);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _current.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Flush()
    {
        _gate.Wait();
        try
        {
            _current.Flush();
        }
        finally
        {
            _gate.Release();
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _current.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current.Dispose();
            _gate.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _current.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
