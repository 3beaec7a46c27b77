using System.Net.Sockets;

namespace DnsWarden.Guard.Jail.Interception;

/// <summary>
/// A socket as a stream whose first bytes are ones already read from it (the ClientHello the proxy judged): what
/// <see cref="System.Net.Security.SslStream"/> terminates TLS over. Hand-written because no BCL stream puts bytes back
/// in front of a socket.
/// </summary>
internal sealed class ReplayStream(Socket socket, byte[] prefix, int prefixLength) : Stream
{
    private int _offset;

    /// <summary>True once every replayed byte was read (before the handshake ends, a client sends nothing after its hello).</summary>
    public bool PrefixConsumed => _offset == prefixLength;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_offset < prefixLength)
        {
            return ValueTask.FromResult(TakePrefix(buffer.Span));
        }

        return socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        _offset < prefixLength ? TakePrefix(buffer.AsSpan(offset, count)) : socket.Receive(buffer, offset, count, SocketFlags.None);

    private int TakePrefix(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, prefixLength - _offset);
        prefix.AsSpan(_offset, n).CopyTo(destination);
        _offset += n;
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        await socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => socket.Send(buffer, offset, count, SocketFlags.None);

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
