using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// DNS over UDP (RFC 1035 §4.2.1). Queries share a few connected sockets, each bound to a port the kernel picks at
/// random and replaced after <see cref="QueriesPerSocket"/> queries, and each query carries a fresh random ID: with
/// the port that makes a forged reply a guess out of about 2^32 (RFC 5452 §4). A reply is taken only when its ID
/// and question match a waiting query; anything else is counted in <see cref="IgnoredReplies"/> and the wait goes on.
/// A truncated reply is asked again over TCP. The query goes out as the client sent it, EDNS included or not.
/// </summary>
public sealed class UdpUpstream : IDnsUpstream
{
    public const int DefaultSocketCount = 4;

    /// <summary>After this many queries a socket gives way to one on a new random port.</summary>
    public const int QueriesPerSocket = 1024;

    /// <summary>How many times a query is sent again when no answer came within the retransmit interval.</summary>
    public const int MaxRetransmissions = 2;

    private static readonly TimeSpan s_minRetransmitInterval = TimeSpan.FromMilliseconds(200);

    private readonly UdpChannel?[] _channels;
    private readonly Lock _channelLock = new();
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _retransmitInterval;
    private readonly IPEndPoint _endPoint;
    private readonly Lazy<TcpUpstream> _tcp;
    private readonly long _timeoutTicks;
    private readonly long _retransmitTicks;

    // Channels with queries that may still wait (retired ones until their last query is done), for the sweep.
    private readonly HashSet<UdpChannel> _live = [];
    private readonly List<PendingQuery> _expired = [];
    private readonly List<PendingQuery> _resend = [];
    private readonly Timer _sweep;
    private int _sweeping;
    private long _ignoredReplies;
    private long _retransmissions;
    private long _socketsOpened;
    private bool _disposed;

    public UdpUpstream(UpstreamConfig config, TimeSpan timeout, int socketCount = DefaultSocketCount)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(socketCount, 1);
        Config = config;
        _endPoint = new IPEndPoint(
            config.ConnectAddress ?? throw new ArgumentException($"upstream '{config.Url}' has no address to connect to", nameof(config)),
            config.Port);
        _timeout = timeout;
        _retransmitInterval = timeout / (MaxRetransmissions + 2) > s_minRetransmitInterval ? timeout / (MaxRetransmissions + 2) : s_minRetransmitInterval;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _retransmitTicks = (long)(_retransmitInterval.TotalSeconds * Stopwatch.Frequency);
        _channels = new UdpChannel?[socketCount];

        // One periodic sweep for every query's retransmission and deadline, a twentieth of the timeout apart (5 to
        // 50 ms): a deadline is met that much late at most.
        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 20, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerMillisecond * 50));
        _sweep = new Timer(SweepDeadlines, null, period, period);
        _tcp = new Lazy<TcpUpstream>(() => new TcpUpstream(config with { Protocol = UpstreamProtocol.Tcp }, timeout));
    }

    public UpstreamConfig Config { get; }

    public UpstreamStats Stats { get; } = new();

    /// <summary>Datagrams that answered no waiting query: unknown ID, other question, not a response, too short.</summary>
    public long IgnoredReplies => Interlocked.Read(ref _ignoredReplies);

    /// <summary>Datagrams sent again because no answer had come yet.</summary>
    public long Retransmissions => Interlocked.Read(ref _retransmissions);

    /// <summary>Sockets opened so far (each on its own random source port).</summary>
    public long SocketsOpened => Interlocked.Read(ref _socketsOpened);

    /// <summary>The TCP upstream truncated answers are asked again on, once one was needed.</summary>
    internal TcpUpstream? TcpFallback => _tcp.IsValueCreated ? _tcp.Value : null;

    public async ValueTask<UpstreamReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        Stats.RecordQuery();
        long started = Stopwatch.GetTimestamp();
        UpstreamReply reply;
        if (!DnsExchange.IsQuery(query.Span))
        {
            reply = UpstreamReply.Fail(UpstreamError.BadResponse);
        }
        else
        {
            reply = await Exchange(query, response, cancellationToken, out UdpChannel? channel).ConfigureAwait(false);
            channel?.Finished();
            if (reply.Error == UpstreamError.Canceled && !cancellationToken.IsCancellationRequested)
            {
                reply = UpstreamReply.Fail(UpstreamError.Timeout);
            }

            if (reply.Ok && DnsExchange.IsTruncated(response.Span.Slice(0, reply.Length)))
            {
                // RFC 7766 §5: a truncated UDP answer is asked again over TCP, of the same server.
                Stats.RecordTruncatedRetry();
                reply = await _tcp.Value.QueryAsync(query, response, cancellationToken).ConfigureAwait(false);
            }
        }

        Stats.RecordOutcome(reply, started);
        return reply;
    }

    /// <summary>The timeout each query is bounded by (the deadline sweep enforces it; callers need no timer of their own).</summary>
    public TimeSpan Timeout => _timeout;

    // No timer, cancellation source or async method per query: the query waits in its channel's table until the
    // receive thread completes it, and the one sweep (SweepDeadlines) sends it again or fails it at its deadline
    // (a timer and a linked source per attempt were measurable on the forwarding path, docs/BENCHMARKS.md).
    private ValueTask<UpstreamReply> Exchange(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken, out UdpChannel? used)
    {
        used = null;
        UdpChannel channel;
        try
        {
            channel = GetChannel();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return ValueTask.FromResult(UpstreamReply.Fail(DnsExchange.FromException(ex, cancellationToken, timedOut: false)));
        }

        long now = Stopwatch.GetTimestamp();
        var pending = new PendingQuery(query, response, inlineContinuations: true)
        {
            Wire = query.ToArray(),
            Deadline = now + _timeoutTicks,
            ResendAt = now + _retransmitTicks,
        };
        while (!channel.Pending.TryAdd(DnsExchange.RandomId(), pending))
        {
            if (channel.IsClosed)
            {
                channel.Finished();
                return ValueTask.FromResult(UpstreamReply.Fail(UpstreamError.NetworkError));
            }
        }

        used = channel;
        DnsExchange.WriteId(pending.Wire, pending.WireId);
        ValueTask<UpstreamReply> answered = pending.WaitAsync(cancellationToken);
        Send(channel, pending, cancellationToken);
        return answered;
    }

    /// <summary>Sends the query's datagram; on failure fails the query (when it still waits).</summary>
    private static void Send(UdpChannel channel, PendingQuery pending, CancellationToken caller)
    {
        try
        {
            // A blocking send on a connected datagram socket returns once the kernel has the datagram: no async
            // machinery for what completes at once.
            channel.Socket.Send(pending.Wire, SocketFlags.None);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            if (channel.Pending.TryRemove(pending))
            {
                pending.Fail(DnsExchange.FromException(ex, caller, timedOut: false));
            }
        }
    }

    // RFC 1035 §4.2.1: UDP may lose the query or the answer, so the same datagram goes out again a few times within the
    // timeout (a burst can overflow the server's receive buffer); past its deadline a query fails with Timeout.
    private void SweepDeadlines(object? state)
    {
        if (Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return;
        }

        try
        {
            UdpChannel[] channels;
            lock (_channelLock)
            {
                channels = [.. _live];
            }

            long now = Stopwatch.GetTimestamp();
            foreach (UdpChannel channel in channels)
            {
                _expired.Clear();
                _resend.Clear();
                channel.Pending.Sweep(now, _retransmitTicks, MaxRetransmissions, _expired, _resend);
                foreach (PendingQuery pending in _resend)
                {
                    Interlocked.Increment(ref _retransmissions);
                    Send(channel, pending, CancellationToken.None);
                }

                foreach (PendingQuery pending in _expired)
                {
                    pending.Fail(UpstreamError.Timeout);
                }
            }
        }
        finally
        {
            _expired.Clear();
            _resend.Clear();
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private UdpChannel GetChannel()
    {
        int slot = Random.Shared.Next(_channels.Length);
        UdpChannel? channel = Volatile.Read(ref _channels[slot]);
        if (channel is not null && channel.TryUse())
        {
            return channel;
        }

        lock (_channelLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            channel = _channels[slot];
            if (channel is not null && channel.TryUse())
            {
                return channel;
            }

            channel?.Retire();
            channel = new UdpChannel(_endPoint, this);
            _live.Add(channel);
            Interlocked.Increment(ref _socketsOpened);
            channel.TryUse();
            Volatile.Write(ref _channels[slot], channel);
            return channel;
        }
    }

    private void CountIgnored() => Interlocked.Increment(ref _ignoredReplies);

    private void Closed(UdpChannel channel)
    {
        lock (_channelLock)
        {
            _live.Remove(channel);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sweep.DisposeAsync().ConfigureAwait(false);
        lock (_channelLock)
        {
            _disposed = true;
            for (int i = 0; i < _channels.Length; i++)
            {
                _channels[i]?.Close(UpstreamError.Canceled);
                _channels[i] = null;
            }
        }

        if (_tcp.IsValueCreated)
        {
            await _tcp.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One connected socket, its receive loop and the queries waiting on it.</summary>
    private sealed class UdpChannel
    {
        private readonly UdpUpstream _owner;
        private int _uses;
        private int _inFlight;
        private int _retired;
        private int _closed;

        public UdpChannel(IPEndPoint endPoint, UdpUpstream owner)
        {
            _owner = owner;
            Socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                // Port 0: the kernel picks a random free ephemeral port (RFC 5452 §4.5 source port randomisation).
                // Answers to a burst of queries arrive together: room for them instead of the kernel's default.
                Socket.ReceiveBufferSize = 1024 * 1024;
                Socket.Bind(new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
                Socket.Connect(endPoint);
            }
            catch
            {
                Socket.Dispose();
                throw;
            }

            Socket.ReceiveTimeout = 1000;
            new Thread(ReceiveLoop) { IsBackground = true, Name = "dnsw upstream udp " + endPoint }.Start();
        }

        public Socket Socket { get; }

        public PendingTable Pending { get; } = new();

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        /// <summary>Claims the channel for one query; false once it has served its share or is closed.</summary>
        public bool TryUse()
        {
            if (IsClosed || Volatile.Read(ref _retired) != 0)
            {
                return false;
            }

            Interlocked.Increment(ref _inFlight);
            if (Interlocked.Increment(ref _uses) > QueriesPerSocket)
            {
                Finished();
                return false;
            }

            return true;
        }

        public void Finished()
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _retired) != 0)
            {
                Close(UpstreamError.NetworkError);
            }
        }

        /// <summary>Stops new queries; the socket closes when the last query on it is done.</summary>
        public void Retire()
        {
            Volatile.Write(ref _retired, 1);
            if (Volatile.Read(ref _inFlight) == 0)
            {
                Close(UpstreamError.NetworkError);
            }
        }

        public void Close(UpstreamError error)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                Pending.FailAll(error, close: true);
                Socket.Dispose();
                _owner.Closed(this);
            }
        }

        // A blocking receive on a thread of its own: the reply wakes this thread from the kernel directly and the
        // waiting query resumes on it (PendingQuery inlineContinuations), with no epoll or thread-pool hop.
        private void ReceiveLoop()
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(DnsExchange.MaxMessageLength);
            try
            {
                while (!IsClosed)
                {
                    int received;
                    try
                    {
                        received = Socket.Receive(buffer, SocketFlags.None);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
                    {
                        continue;
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
                    {
                        // ICMP port unreachable is reported to the connected socket without saying which query
                        // caused it; every query on it went to the same closed port.
                        Pending.FailAll(UpstreamError.ConnectionRefused, close: false);
                        continue;
                    }

                    ReadOnlySpan<byte> reply = buffer.AsSpan(0, received);
                    if (received < DnsHeader.Length)
                    {
                        _owner.CountIgnored();
                        continue;
                    }

                    if (Pending.TryTake(reply, requireQuestion: true, out PendingQuery? pending) == ReplyMatch.Taken)
                    {
                        pending!.Complete(reply);
                    }
                    else
                    {
                        _owner.CountIgnored();
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // Closed by us, or the socket broke: its queries fail and the slot gets a new socket.
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
                Close(UpstreamError.NetworkError);
            }
        }
    }
}
