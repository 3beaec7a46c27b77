using System.Buffers;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// A connection's buffer from the shared pool that is given back while the connection is idle and taken again when
/// data comes (<see cref="ProxySide.WaitReadableAsync"/>): kept-alive connections that send nothing hold no buffer,
/// only their sockets.
/// </summary>
internal sealed class IdleBuffer(int size) : IDisposable
{
    private byte[]? _array;

    /// <summary>The buffer, rented again if it was given back (what it held then is gone).</summary>
    public byte[] Array => _array ??= ArrayPool<byte>.Shared.Rent(size);

    /// <summary>
    /// Reads the next bytes from <paramref name="from"/> into <see cref="Array"/>; with no buffer held, it first waits
    /// for data without one. 0 at the end.
    /// </summary>
    public async ValueTask<int> ReceiveAsync(ProxySide from, CancellationToken cancellationToken)
    {
        if (_array is null)
        {
            await from.WaitReadableAsync(cancellationToken).ConfigureAwait(false);
        }

        return await from.ReceiveAsync(Array, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Once <paramref name="read"/> bytes are used: a read that did not fill the buffer drained the socket, so the buffer goes back until more comes.</summary>
    public void ReleaseIfDrained(int read)
    {
        if (_array is { } array && read < array.Length)
        {
            Release();
        }
    }

    /// <summary>Gives the buffer back to the pool; the next <see cref="Array"/> rents one again.</summary>
    public void Release()
    {
        if (_array is { } array)
        {
            _array = null;
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    public void Dispose() => Release();
}
