using System.Buffers;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Platform.Sockets;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Listeners;

/// <summary>
/// Serves DNS over UDP on one address. Several receive loops share the socket; a query answered at once (policy,
/// cache) is sent back from the loop that read it, one that waits on an upstream takes its buffers with it and the
/// loop goes on with fresh ones, so a slow upstream never holds up other clients.
/// </summary>
public sealed class UdpDnsListener : IAsyncDisposable
{
    /// <summary>
    /// Query and answer buffers of the datagram path. RFC 6891 §6.2.5 lets a client offer up to 65,535 bytes but
    /// 4,096 is the largest anyone uses (1,232 is the DNS Flag Day 2020 default); an answer beyond it goes out with
    /// TC and the client asks over TCP. Small buffers keep thousands of queries in flight cheap: a 64 KiB buffer
    /// each would overflow the shared array pool and cost a zeroed large-object allocation per query (forwarding
    /// went from 6,000 to 23,000 queries/s with this change; docs/BENCHMARKS.md).
    /// </summary>
    public const int DatagramBufferSize = 4096;

    /// <summary>Kernel receive buffer asked for: bursts of queries wait there instead of being dropped.</summary>
    private const int SocketBufferBytes = 4 * 1024 * 1024;

    /// <summary>Queries taken from the socket in one recvmmsg(2), and answers sent in one sendmmsg(2).</summary>
    private const int BatchSize = 32;

    private readonly DnsEngine _engine;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly int _loopCount;
    private readonly IPEndPoint _anyEndPoint;
    private readonly ClientAllowList? _allow;
    private readonly ResponseRateLimiter? _rate;
    private readonly InFlightLimit _forwards;
    private int _inFlight;
    private long _receiveErrors;
    private TaskCompletionSource? _drained;

    /// <param name="socket">
    /// An unbound UDP socket of the endpoint's family to use instead of a new one: a socket made inside another network
    /// namespace (the jail's) belongs to it wherever it is used from.
    /// </param>
    /// <param name="options">Allow list, rate limit and in-flight limit (<see cref="ListenerOptions.Default"/> when null).</param>
    public UdpDnsListener(DnsEngine engine, IPEndPoint endpoint, int receiveLoops = 0, Socket? socket = null, ListenerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(endpoint);
        ListenerAddress.EnsureSpecific(endpoint);
        options ??= ListenerOptions.Default;
        _allow = options.AllowList;
        _rate = options.RateLimit;
        _forwards = new InFlightLimit(options.MaxForwardsInFlight);
        _engine = engine;
        _loopCount = receiveLoops > 0 ? receiveLoops : Math.Max(2, Environment.ProcessorCount);
        _socket = socket ?? new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                _socket.DualMode = false;
            }

            _socket.ReceiveBufferSize = SocketBufferBytes;
            _socket.ReceiveTimeout = 100;
            _socket.SendBufferSize = SocketBufferBytes;
            _socket.Bind(endpoint);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new ListenerBindException("udp", endpoint, e);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _anyEndPoint = new IPEndPoint(endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
    }

    /// <summary>The bound address and port (the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>This listener's forwarded queries waiting on upstreams, and their limit.</summary>
    public InFlightLimit Forwards => _forwards;

    /// <summary>Datagrams the socket refused to give (ICMP errors reported on the socket, and the like); they are skipped.</summary>
    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    public void Start()
    {
        for (int i = 0; i < _loopCount; i++)
        {
            var thread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"dnsw udp {LocalEndPoint} #{i}" };
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _loops.Add(done.Task);
            thread.Start(done);
        }
    }

    /// <summary>Stops reading, lets queries already read finish (up to <paramref name="drainTimeout"/>), then closes.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (drainTimeout <= TimeSpan.Zero)
        {
            // Nothing to drain for: closing the socket wakes the receive threads now rather than at their timeout.
            _socket.Dispose();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            drained.TrySetResult();
        }

        await Task.WhenAny(drained.Task, Task.Delay(drainTimeout)).ConfigureAwait(false);
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        _stop.Dispose();
    }

    // Blocking receives on dedicated threads: a query waits in the kernel rather than in epoll plus a thread-pool
    // hop, fewer system calls and wake-ups per query (docs/BENCHMARKS.md). The receive timeout lets a thread see a stop.
    // On Linux one recvmmsg takes every query already queued and one sendmmsg answers those answered at once.
    private void ReceiveLoop(object? state)
    {
        var done = (TaskCompletionSource)state!;
        CancellationToken stop = _stop.Token;
        byte[] query = ArrayPool<byte>.Shared.Rent(DatagramBufferSize);
        byte[] response = ArrayPool<byte>.Shared.Rent(DatagramBufferSize);
        var from = new SocketAddress(_socket.AddressFamily);
        UdpBatch? inbox = OperatingSystem.IsLinux() ? new UdpBatch(BatchSize, DatagramBufferSize) : null;
        UdpBatch? outbox = OperatingSystem.IsLinux() ? new UdpBatch(BatchSize, DatagramBufferSize) : null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                int count = 1;
                int received = 0;
                try
                {
                    if (inbox is not null && OperatingSystem.IsLinux())
                    {
                        count = inbox.Receive(_socket);
                    }
                    else
                    {
                        received = _socket.ReceiveFrom(query.AsSpan(0, DatagramBufferSize), SocketFlags.None, from);
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
                {
                    continue;
                }
                catch (SocketException)
                {
                    // ICMP port unreachable from an earlier reply and the like: the next datagram is unaffected.
                    Interlocked.Increment(ref _receiveErrors);
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    break;
                }

                for (int i = 0; i < count; i++)
                {
                    if (inbox is not null && OperatingSystem.IsLinux())
                    {
                        ReadOnlySpan<byte> address = inbox.Address(i);
                        address.CopyTo(from.Buffer.Span);
                        from.Size = address.Length;
                        ReadOnlySpan<byte> datagram = inbox.Datagram(i);
                        datagram.CopyTo(query);
                        received = datagram.Length;
                    }

                    if (Serve(query, received, response, from, outbox))
                    {
                        // The query waits on an upstream: it keeps these buffers, the loop takes new ones.
                        query = ArrayPool<byte>.Shared.Rent(DatagramBufferSize);
                        response = ArrayPool<byte>.Shared.Rent(DatagramBufferSize);
                        from = new SocketAddress(_socket.AddressFamily);
                    }
                }

                if (outbox is not null && OperatingSystem.IsLinux())
                {
                    try
                    {
                        outbox.Send(_socket);
                    }
                    catch (ObjectDisposedException)
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
            inbox?.Dispose();
            outbox?.Dispose();
            done.TrySetResult();
        }
    }

    /// <summary>
    /// One query: answered now (into <paramref name="outbox"/> when there is one, else sent at once), or handed to
    /// an upstream with its buffers and address, which are then its own: true in that case.
    /// </summary>
    private bool Serve(byte[] query, int received, byte[] response, SocketAddress from, UdpBatch? outbox)
    {
        if ((_allow is not null || _rate is not null) && !Admit(query.AsSpan(0, received), response, from, outbox))
        {
            return false;
        }

        Interlocked.Increment(ref _inFlight);
        ValueTask<int> pending = _engine.HandleAsync(query.AsMemory(0, received), response.AsMemory(0, DatagramBufferSize), ListenerProtocol.Udp, _engine.WantsClientAddress ? _anyEndPoint.Create(from) : null, _forwards);
        if (pending.IsCompletedSuccessfully)
        {
            Reply(response, pending.Result, from, outbox);
            Done();
            return false;
        }

        _ = CompleteLaterAsync(pending, query, response, from);
        return true;
    }

    /// <summary>Queues an answer in the loop's batch, or sends it when there is no batch (or no room in it).</summary>
    private void Reply(byte[] response, int length, SocketAddress to, UdpBatch? outbox)
    {
        if (length > 0 && outbox is not null && outbox.TryAdd(response.AsSpan(0, length), to.Buffer.Span.Slice(0, to.Size)))
        {
            return;
        }

        Send(response, length, to);
    }

    /// <summary>
    /// The allow list and the rate limit, before the engine sees the query: false when this listener has dealt with
    /// it (REFUSED, a truncated answer or nothing), counted in the engine's metrics. Allocates nothing.
    /// </summary>
    private bool Admit(ReadOnlySpan<byte> query, byte[] response, SocketAddress from, UdpBatch? outbox)
    {
        IpAddr client = ClientOf(from);
        RateVerdict rate = _rate?.Check(client) ?? RateVerdict.Answer;
        if (_allow is not null && !_allow.IsAllowed(client))
        {
            // REFUSED is no larger than the query (no amplification), tells a misconfigured client at once, and is
            // itself rate limited; a dropped or slipped one over the rate gets nothing.
            // Counted before the answer leaves: whoever reads the metrics after the client got its REFUSED sees it.
            _engine.Metrics.Increment(ListenerProtocol.Udp, QueryOutcome.ClientRefused);
            if (rate == RateVerdict.Answer && DnsMessageWriter.TryWriteRefused(query, response.AsSpan(0, DatagramBufferSize), out int refused))
            {
                Reply(response, refused, from, outbox);
            }

            return false;
        }

        if (rate == RateVerdict.Answer)
        {
            return true;
        }

        if (rate == RateVerdict.Slip)
        {
            Reply(response, DnsEngine.Truncated(query, response.AsSpan(0, DatagramBufferSize)), from, outbox);
        }

        _engine.Metrics.Increment(ListenerProtocol.Udp, QueryOutcome.RateLimited);
        return false;
    }

    /// <summary>The sender's address from the kernel's sockaddr (sockaddr_in: address at 4; sockaddr_in6: at 8).</summary>
    private static IpAddr ClientOf(SocketAddress from)
    {
        ReadOnlySpan<byte> b = from.Buffer.Span;
        return from.Family == AddressFamily.InterNetworkV6 ? IpAddr.FromV6(b.Slice(8, 16)) : IpAddr.FromV4(b.Slice(4, 4));
    }

    private async Task CompleteLaterAsync(ValueTask<int> pending, byte[] query, byte[] response, SocketAddress to)
    {
        try
        {
            int length = await pending.ConfigureAwait(false);
            Send(response, length, to);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Shutting down: the client retries elsewhere.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
            Done();
        }
    }

    private void Send(byte[] response, int length, SocketAddress to)
    {
        if (length <= 0)
        {
            return;
        }

        try
        {
            _socket.SendTo(response.AsSpan(0, length), SocketFlags.None, to);
        }
        catch (SocketException)
        {
            // The client's port went away, or the send buffer is full; a datagram is not retried (the client will).
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Done()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _drained) is { } drained)
        {
            drained.TrySetResult();
        }
    }
}
