using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// DNS over a byte stream with two-byte length framing (TCP, RFC 7766; TLS, RFC 7858): one connection reused and
/// pipelined for all queries, opened on first use, reopened after a close or reset, closed after it sat idle.
/// Subclasses only say how to open the stream.
/// </summary>
public abstract class StreamUpstream : IDnsUpstream
{
    /// <summary>How many connections one query may be sent on when the server keeps closing them unanswered.</summary>
    public const int MaxAttempts = 3;

    private readonly TimeSpan _timeout;
    private readonly TimeSpan _idleTimeout;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private StreamConnection? _connection;
    private long _connectionsOpened;
    private long _unmatchedReplies;
    private bool _disposed;

    private protected StreamUpstream(UpstreamConfig config, TimeSpan timeout, TimeSpan idleTimeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        EndPoint = new IPEndPoint(
            config.ConnectAddress ?? throw new ArgumentException($"upstream '{config.Url}' has no address to connect to", nameof(config)),
            config.Port);
        _timeout = timeout;
        _idleTimeout = idleTimeout;
    }

    public UpstreamConfig Config { get; }

    public UpstreamStats Stats { get; } = new();

    /// <summary>Connections opened so far (one for a whole run of queries when reuse works).</summary>
    public long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

    /// <summary>Whether a connection is open now (one closed after its idle time is not).</summary>
    public bool IsConnected => Volatile.Read(ref _connection) is { IsClosed: false };

    /// <summary>Replies that matched no waiting query, over all connections.</summary>
    public long UnmatchedReplies => Interlocked.Read(ref _unmatchedReplies) + (_connection?.UnmatchedReplies ?? 0);

    private protected IPEndPoint EndPoint { get; }

    public async ValueTask<UpstreamReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        Stats.RecordQuery();
        long started = Stopwatch.GetTimestamp();
        UpstreamReply reply = DnsExchange.IsQuery(query.Span)
            ? await ExchangeAsync(query, response, cancellationToken).ConfigureAwait(false)
            : UpstreamReply.Fail(UpstreamError.BadResponse);
        Stats.RecordOutcome(reply, started);
        return reply;
    }

    private async ValueTask<UpstreamReply> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);

        // RFC 7766 §6.2.1: a server may close a connection with queries unanswered (idle timeout, a cap on queries
        // per connection); those were never processed and are asked again on a new connection, a bounded number of times.
        for (int attempt = 1; ; attempt++)
        {
            StreamConnection connection;
            try
            {
                connection = await GetConnectionAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return UpstreamReply.Fail(DnsExchange.FromException(ex, cancellationToken, timeout.IsCancellationRequested));
            }

            (UpstreamReply reply, bool retryable) = await connection.ExchangeAsync(query, response, timeout.Token).ConfigureAwait(false);
            if (reply.Error == UpstreamError.Canceled && !cancellationToken.IsCancellationRequested)
            {
                return UpstreamReply.Fail(UpstreamError.Timeout);
            }

            if (!retryable || attempt == MaxAttempts)
            {
                return reply;
            }
        }
    }

    private async ValueTask<StreamConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        StreamConnection? current = Volatile.Read(ref _connection);
        if (current is { IsClosed: false })
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _connection;
            if (current is { IsClosed: false })
            {
                return current;
            }

            Stream stream = await ConnectStreamAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _connectionsOpened);
            var connection = new StreamConnection(stream, _idleTimeout, OnClosed);
            Volatile.Write(ref _connection, connection);
            return connection;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private void OnClosed(StreamConnection connection)
    {
        Interlocked.Add(ref _unmatchedReplies, connection.UnmatchedReplies);
        Interlocked.CompareExchange(ref _connection, null, connection);
    }

    /// <summary>Opens a TCP connection to the upstream's address (never a name lookup).</summary>
    private protected async ValueTask<Socket> ConnectSocketAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(EndPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Opens the stream queries are framed on; throws <see cref="SocketException"/>, <see cref="UpstreamException"/> or a cancellation.</summary>
    private protected abstract ValueTask<Stream> ConnectStreamAsync(CancellationToken cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
        }
        finally
        {
            _connectLock.Release();
        }

        StreamConnection? connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>DNS over TCP (RFC 7766): pipelined queries on one reused connection.</summary>
public sealed class TcpUpstream(UpstreamConfig config, TimeSpan timeout, TimeSpan idleTimeout) : StreamUpstream(config, timeout, idleTimeout)
{
    public TcpUpstream(UpstreamConfig config, TimeSpan timeout)
        : this(config, timeout, ProxyConfig.DefaultTcpIdleTimeout)
    {
    }

    private protected override async ValueTask<Stream> ConnectStreamAsync(CancellationToken cancellationToken)
    {
        Socket socket = await ConnectSocketAsync(cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }
}
