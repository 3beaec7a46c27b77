using System.Buffers;
using System.Buffers.Binary;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// One TCP or TLS connection carrying many queries at once (RFC 7766 §6.2.1.1 pipelining): each query gets an ID
/// unique on this connection, replies may come in any order and are matched by that ID, and a close or reset fails
/// every query still waiting.
/// </summary>
internal sealed class StreamConnection : IAsyncDisposable
{
    /// <summary>RFC 1035 §4.2.2: every message on the stream is preceded by its length as two bytes.</summary>
    private const int LengthPrefix = 2;

    private readonly Stream _stream;
    private readonly PendingTable _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Action<StreamConnection> _onClosed;
    private readonly TimeSpan _idleTimeout;
    private readonly ITimer _idleTimer;
    private readonly Task _readLoop;
    private int _nextId;
    private long _lastActivity;
    private int _closed;
    private long _unmatchedReplies;

    public StreamConnection(Stream stream, TimeSpan idleTimeout, Action<StreamConnection> onClosed)
    {
        _stream = stream;
        _idleTimeout = idleTimeout;
        _onClosed = onClosed;
        _nextId = DnsExchange.RandomId();
        _lastActivity = Environment.TickCount64;
        TimeSpan period = idleTimeout / 2 > TimeSpan.FromMilliseconds(50) ? idleTimeout / 2 : TimeSpan.FromMilliseconds(50);
        _idleTimer = TimeProvider.System.CreateTimer(static s => ((StreamConnection)s!).CheckIdle(), this, period, period);
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Replies that answered no waiting query (late after a timeout, or a server bug).</summary>
    public long UnmatchedReplies => Interlocked.Read(ref _unmatchedReplies);

    /// <summary>
    /// Sends the query and waits for its reply. <c>Retryable</c> is true when the query was never
    /// answered because the connection was already closing: the caller may ask again on a new connection.
    /// </summary>
    public async ValueTask<(UpstreamReply Reply, bool Retryable)> ExchangeAsync(
        ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        var pending = new PendingQuery(query, response);
        if (!TryRegister(pending))
        {
            return (UpstreamReply.Fail(UpstreamError.NetworkError), true);
        }

        int length = LengthPrefix + query.Length;
        byte[] wire = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            BinaryPrimitives.WriteUInt16BigEndian(wire, (ushort)query.Length);
            query.Span.CopyTo(wire.AsSpan(LengthPrefix));
            DnsExchange.WriteId(wire.AsSpan(LengthPrefix), pending.WireId);

            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Not cancellable: a write stopped half-way would leave the stream's framing broken for every other query.
                await _stream.WriteAsync(wire.AsMemory(0, length), CancellationToken.None).ConfigureAwait(false);
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or NotSupportedException)
        {
            bool closing = ex is not OperationCanceledException;
            if (_pending.TryRemove(pending))
            {
                pending.Fail(closing ? UpstreamError.NetworkError : UpstreamError.Canceled);
            }

            if (closing)
            {
                Close(UpstreamError.NetworkError);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(wire);
        }

        UpstreamReply reply = await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
        return (reply, reply.Error == UpstreamError.NetworkError);
    }

    private bool TryRegister(PendingQuery pending)
    {
        // IDs are handed out in sequence from a random start, skipping ones in use, so they are unique on the connection.
        for (int i = 0; i <= ushort.MaxValue; i++)
        {
            if (IsClosed)
            {
                return false;
            }

            ushort id = (ushort)Interlocked.Increment(ref _nextId);
            if (_pending.TryAdd(id, pending))
            {
                return true;
            }
        }

        return false;
    }

    private async Task ReadLoopAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DnsExchange.MaxMessageLength);
        UpstreamError closeError = UpstreamError.NetworkError;
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(buffer.AsMemory(0, LengthPrefix)).ConfigureAwait(false);
                int length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
                await _stream.ReadExactlyAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
                Volatile.Write(ref _lastActivity, Environment.TickCount64);
                if (length < DnsHeader.Length)
                {
                    // No ID to match: the stream is not speaking DNS.
                    closeError = UpstreamError.BadResponse;
                    break;
                }

                ReadOnlySpan<byte> reply = buffer.AsSpan(0, length);
                switch (_pending.TryTake(reply, requireQuestion: false, out PendingQuery? pending))
                {
                    case ReplyMatch.Taken:
                        pending!.Complete(reply);
                        break;
                    case ReplyMatch.WrongQuestion:
                        pending!.Fail(UpstreamError.BadResponse);
                        break;
                    default:
                        Interlocked.Increment(ref _unmatchedReplies);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or ObjectDisposedException or OperationCanceledException
            or NotSupportedException or InvalidOperationException)
        {
            // The peer closed or reset the connection, or we closed it.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Close(closeError);
        }
    }

    private void CheckIdle()
    {
        // RFC 7766 §6.2.3: close an idle connection rather than leave it for the server to time out.
        if (_pending.Count == 0 && Environment.TickCount64 - Volatile.Read(ref _lastActivity) >= (long)_idleTimeout.TotalMilliseconds)
        {
            Close(UpstreamError.NetworkError);
        }
    }

    public void Close(UpstreamError error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _idleTimer.Dispose();
        _pending.FailAll(error, close: true);
        _stream.Dispose();
        _onClosed(this);
    }

    public async ValueTask DisposeAsync()
    {
        Close(UpstreamError.Canceled);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loop's failures are already reported to its queries.
        }

        _writeLock.Dispose();
    }
}
