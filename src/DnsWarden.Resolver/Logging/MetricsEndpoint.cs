using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DnsWarden.Resolver.Logging;

/// <summary>
/// A minimal HTTP/1.1 server for <c>GET /metrics</c> on a <see cref="TcpListener"/>: one request per connection,
/// answered with <c>Connection: close</c>. The request head is capped in size and time so a slow or hostile
/// client holds a connection slot for at most <see cref="RequestTimeout"/>.
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    /// <summary>Request line and headers together; a scraper sends a few hundred bytes.</summary>
    public const int MaxRequestHeadBytes = 8 * 1024;

    public const int DefaultMaxConnections = 64;

    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(5);

    // How long and how much a closing connection is drained after the response (see LingerCloseAsync).
    private const int LingerDrainBytes = 64 * 1024;
    private static readonly TimeSpan s_lingerTime = TimeSpan.FromSeconds(1);

    private static readonly Encoding s_latin1 = Encoding.Latin1;

    private readonly MetricsSnapshotSource _source;
    private readonly int _maxConnections;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _connections = [];
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _open;
    private long _served;
    private long _rejected;
    private int _disposed;

    public MetricsEndpoint(MetricsSnapshotSource source, TimeSpan? requestTimeout = null, int maxConnections = DefaultMaxConnections)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        _source = source;
        _maxConnections = maxConnections;
        RequestTimeout = requestTimeout ?? DefaultRequestTimeout;
    }

    /// <summary>How long a client has to send its request head, and then to take the response.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>The bound address (with the real port when started on port 0); null before <see cref="StartAsync"/>.</summary>
    public IPEndPoint? LocalEndpoint { get; private set; }

    /// <summary>Responses sent with status 200.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Requests answered 400, 404, 405 or 408, and connections closed for being over the limit.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public Task StartAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_listener is not null)
        {
            throw new InvalidOperationException("The metrics endpoint is already started.");
        }

        var listener = new TcpListener(endpoint);
        listener.Start();
        _listener = listener;
        LocalEndpoint = (IPEndPoint)listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync(listener, _shutdown.Token);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        await _acceptLoop.ConfigureAwait(false);
        Task[] open;
        lock (_gate)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open).ConfigureAwait(false);
        _shutdown.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken shutdown)
    {
        while (!shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(shutdown).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                if (shutdown.IsCancellationRequested)
                {
                    return;
                }

                // A connection reset before it was accepted: the next one may be fine.
                continue;
            }

            if (Interlocked.Increment(ref _open) > _maxConnections)
            {
                Interlocked.Decrement(ref _open);
                Interlocked.Increment(ref _rejected);
                socket.Dispose();
                continue;
            }

            Task task = ServeAsync(socket, shutdown);
            lock (_gate)
            {
                _connections.Add(task);
            }

            _ = task.ContinueWith(
                t =>
                {
                    lock (_gate)
                    {
                        _connections.Remove(t);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken shutdown)
    {
        await Task.Yield();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            byte[] head = new byte[MaxRequestHeadBytes];
            int filled = 0;
            int end = -1;
            while (end < 0)
            {
                if (filled == head.Length)
                {
                    await RespondErrorAsync(socket, 400, "Bad Request", "request head over 8 KiB\n", timeout.Token).ConfigureAwait(false);
                    return;
                }

                int n;
                try
                {
                    n = await socket.ReceiveAsync(head.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!shutdown.IsCancellationRequested)
                {
                    // Slowloris: the head did not arrive in time. A fresh deadline for sending the 408 itself.
                    using var send = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
                    send.CancelAfter(RequestTimeout);
                    await RespondErrorAsync(socket, 408, "Request Timeout", "request head not received in time\n", send.Token).ConfigureAwait(false);
                    return;
                }

                if (n == 0)
                {
                    return;
                }

                int searchFrom = Math.Max(0, filled - 3);
                filled += n;
                end = FindHeadEnd(head.AsSpan(0, filled), searchFrom);
            }

            await HandleRequestAsync(socket, head.AsSpan(0, end).ToArray(), timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown, or a client too slow to take its response.
        }
        catch (SocketException)
        {
            // The client went away.
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            await LingerCloseAsync(socket, shutdown).ConfigureAwait(false);
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>
    /// Closing a socket with unread request bytes makes the kernel send RST, which can destroy the response before
    /// the client reads it (RFC 9112 §9.6): so send FIN first and drain for a short while before closing.
    /// </summary>
    private static async Task LingerCloseAsync(Socket socket, CancellationToken shutdown)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var linger = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
            linger.CancelAfter(s_lingerTime);
            byte[] sink = new byte[1024];
            int drained = 0;
            while (drained < LingerDrainBytes)
            {
                int n = await socket.ReceiveAsync(sink, SocketFlags.None, linger.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                drained += n;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client is gone or too slow to close: the socket is closed either way.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private async Task HandleRequestAsync(Socket socket, byte[] head, CancellationToken cancellationToken)
    {
        if (!TryParseHead(head, out string method, out string path, out string? accept))
        {
            await RespondErrorAsync(socket, 400, "Bad Request", "malformed request\n", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (path != "/metrics")
        {
            await RespondErrorAsync(socket, 404, "Not Found", "not found (try /metrics)\n", cancellationToken).ConfigureAwait(false);
            return;
        }

        bool isHead = method == "HEAD";
        if (method != "GET" && !isHead)
        {
            await RespondAsync(socket, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Allow: GET, HEAD\r\n", "GET or HEAD only\n"u8.ToArray(), sendBody: true, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _rejected);
            return;
        }

        MetricsFormat format = MetricsExposition.Negotiate(accept);
        byte[] body = Encoding.UTF8.GetBytes(MetricsExposition.Render(_source, format));
        await RespondAsync(socket, 200, "OK", MetricsExposition.ContentType(format), "", body, sendBody: !isHead, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _served);
    }

    /// <summary>
    /// Request line <c>METHOD SP target SP HTTP/1.x</c>, then header fields <c>name: value</c> (RFC 9112 §3, §5).
    /// LF alone is accepted as a line end (RFC 9112 §2.2 allows it).
    /// </summary>
    private static bool TryParseHead(byte[] head, out string method, out string path, out string? accept)
    {
        method = "";
        path = "";
        accept = null;
        string text = s_latin1.GetString(head);
        string[] lines = text.Split('\n');
        string requestLine = lines[0].TrimEnd('\r');
        string[] parts = requestLine.Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || parts[2].Length != 8)
        {
            return false;
        }

        foreach (char c in parts[0])
        {
            if (c is < 'A' or > 'Z')
            {
                return false;
            }
        }

        string target = parts[1];
        if (target.Length == 0 || target[0] != '/')
        {
            return false;
        }

        foreach (char c in target)
        {
            if (c <= ' ' || c >= 0x7F)
            {
                return false;
            }
        }

        int query = target.IndexOf('?', StringComparison.Ordinal);
        path = query < 0 ? target : target[..query];
        method = parts[0];

        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line[colon - 1] is ' ' or '\t')
            {
                // No name, or whitespace before the colon (RFC 9112 §5.1 says reject with 400).
                return false;
            }

            if (line.AsSpan(0, colon).Equals("accept", StringComparison.OrdinalIgnoreCase))
            {
                string value = line[(colon + 1)..].Trim();
                accept = accept is null ? value : accept + ", " + value;
            }
        }

        return true;
    }

    /// <summary>Where the head ends (the first CRLF CRLF or LF LF), or -1 when it has not arrived yet.</summary>
    private static int FindHeadEnd(ReadOnlySpan<byte> data, int from)
    {
        for (int i = from; i < data.Length; i++)
        {
            if (data[i] != '\n')
            {
                continue;
            }

            if (i + 1 < data.Length && data[i + 1] == '\n')
            {
                return i + 2;
            }

            if (i + 2 < data.Length && data[i + 1] == '\r' && data[i + 2] == '\n')
            {
                return i + 3;
            }
        }

        return -1;
    }

    private async Task RespondErrorAsync(Socket socket, int status, string reason, string message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _rejected);
        await RespondAsync(socket, status, reason, "text/plain; charset=utf-8", "", Encoding.UTF8.GetBytes(message), sendBody: true, cancellationToken).ConfigureAwait(false);
    }

    private static async Task RespondAsync(Socket socket, int status, string reason, string contentType, string extraHeaders, byte[] body, bool sendBody, CancellationToken cancellationToken)
    {
        string head = string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n{extraHeaders}Cache-Control: no-store\r\nConnection: close\r\n\r\n");
        byte[] headBytes = s_latin1.GetBytes(head);
        await SendAllAsync(socket, headBytes, cancellationToken).ConfigureAwait(false);
        if (sendBody && body.Length > 0)
        {
            await SendAllAsync(socket, body, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }
}
