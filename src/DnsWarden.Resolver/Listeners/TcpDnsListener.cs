using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Listeners;

/// <summary>
/// Serves DNS over TCP on one address (RFC 1035 §4.2.2 framing, RFC 7766 behaviour): connections are kept open for
/// more queries until idle, pipelined queries are served concurrently and answered as they complete (in any order,
/// matched by ID, §6.2.1.1), at most <see cref="MaxPipelined"/> at once per connection. Connections beyond the limit,
/// beyond a client's share (<see cref="ListenerOptions.MaxConnectionsPerClient"/>: one client's idle connections
/// cannot lock the others out) or from a client off the allow list are closed at once rather than queued.
/// </summary>
public sealed class TcpDnsListener : IAsyncDisposable
{
    /// <summary>Queries of one connection served at once; more wait in the socket until one finishes.</summary>
    public const int MaxPipelined = 32;

    private readonly DnsEngine _engine;
    private readonly Socket _socket;
    private readonly int _maxConnections;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly Dictionary<IpAddr, int> _perClient = [];
    private readonly ClientAllowList? _allow;
    private readonly int _maxPerClient;
    private readonly InFlightLimit _forwards;
    private readonly SslServerAuthenticationOptions? _tls;
    private Task? _acceptLoop;
    private long _refused;

    /// <param name="socket">
    /// An unbound TCP socket of the endpoint's family to listen on instead of a new one: a socket made inside another
    /// network namespace (the jail's) belongs to it wherever it is used from.
    /// </param>
    /// <param name="options">Allow list, connections per client and in-flight limit (<see cref="ListenerOptions.Default"/> when null).</param>
    public TcpDnsListener(DnsEngine engine, IPEndPoint endpoint, int maxConnections, TimeSpan idleTimeout, Socket? socket = null, ListenerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ListenerAddress.EnsureSpecific(endpoint);
        options ??= ListenerOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnectionsPerClient, 1);
        _allow = options.AllowList;
        _maxPerClient = options.MaxConnectionsPerClient;
        _forwards = new InFlightLimit(options.MaxForwardsInFlight);
        _tls = options.TlsCertificate is null ? null : new SslServerAuthenticationOptions
        {
            ServerCertificate = options.TlsCertificate,
            ApplicationProtocols = [new SslApplicationProtocol("dot")],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
        };
        _engine = engine;
        _maxConnections = maxConnections;
        _idleTimeout = idleTimeout;
        _socket = socket ?? new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                _socket.DualMode = false;
            }

            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(endpoint);
            _socket.Listen(512);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new ListenerBindException("tcp", endpoint, e);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Whether connections are DNS over TLS (RFC 7858) rather than plain TCP.</summary>
    public bool IsTls => _tls is not null;

    /// <summary>Connections closed on arrival because <c>max_connections</c> were open, or the client's share was.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>This listener's forwarded queries waiting on upstreams, and their limit.</summary>
    public InFlightLimit Forwards => _forwards;

    public int OpenConnections
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    public void Start() => _acceptLoop = Task.Run(AcceptLoopAsync);

    /// <summary>Stops accepting; open connections stop reading and finish the queries they hold (up to the timeout).</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        Task[] running;
        lock (_gate)
        {
            running = [.. _connections.Select(c => c.Completion)];
        }

        await Task.WhenAny(Task.WhenAll(running), Task.Delay(drainTimeout)).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (Connection c in _connections)
            {
                c.Abort();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // A connection reset before it was accepted; the next is unaffected.
            }

            IpAddr address = client.RemoteEndPoint is IPEndPoint remote ? IpAddr.FromIPAddress(remote.Address) : default;
            if (_allow is not null && !_allow.IsAllowed(address))
            {
                _engine.Metrics.Increment(IsTls ? ListenerProtocol.Tls : ListenerProtocol.Tcp, QueryOutcome.ClientRefused);
                client.Dispose();
                continue;
            }

            var connection = new Connection(this, client, address);
            lock (_gate)
            {
                _perClient.TryGetValue(address, out int held);
                if (_connections.Count >= _maxConnections || held >= _maxPerClient)
                {
                    Interlocked.Increment(ref _refused);
                    client.Dispose();
                    continue;
                }

                _connections.Add(connection);
                _perClient[address] = held + 1;
            }

            connection.Start();
        }
    }

    private void Remove(Connection connection)
    {
        lock (_gate)
        {
            if (_connections.Remove(connection))
            {
                int held = _perClient[connection.Client] - 1;
                if (held == 0)
                {
                    _perClient.Remove(connection.Client);
                }
                else
                {
                    _perClient[connection.Client] = held;
                }
            }
        }
    }

    private sealed class Connection(TcpDnsListener owner, Socket socket, IpAddr client)
    {
        private readonly SemaphoreSlim _writeGate = new(1, 1);
        private readonly SemaphoreSlim _slots = new(MaxPipelined, MaxPipelined);
        private readonly CancellationTokenSource _abort = new();
        private readonly EndPoint? _remote = owner._engine.WantsClientAddress ? socket.RemoteEndPoint : null;

        // DNS over TLS: every read and write goes through it once the handshake is done; null for plain TCP.
        private SslStream? _tls;

        public Task Completion { get; private set; } = Task.CompletedTask;

        public IpAddr Client => client;

        public void Start() => Completion = Task.Run(RunAsync);

        public void Abort()
        {
            try
            {
                _abort.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            socket.Dispose();
        }

        private async Task RunAsync()
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(owner._stop.Token, _abort.Token);
            byte[] prefix = new byte[2];
            try
            {
                if (owner._tls is not null)
                {
                    // A client that never finishes its handshake is idle like one that never sends a query.
                    using var handshake = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
                    handshake.CancelAfter(owner._idleTimeout);
                    var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
                    _tls = tls;
                    await tls.AuthenticateAsServerAsync(owner._tls, handshake.Token).ConfigureAwait(false);
                }

                while (true)
                {
                    // Idle: no complete new query within the timeout (RFC 7766 §6.2.3) — a client trickling a message
                    // byte by byte is idle too; answers being served still go out before the socket closes.
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(linked.Token);
                    idle.CancelAfter(owner._idleTimeout);

                    if (!await ReadExactAsync(prefix, idle.Token).ConfigureAwait(false))
                    {
                        break;
                    }

                    int length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
                    if (length == 0)
                    {
                        break; // Nothing can follow a zero-length message sensibly; RFC 7766 leaves it to us.
                    }

                    byte[] query = ArrayPool<byte>.Shared.Rent(length);
                    if (!await ReadExactAsync(query.AsMemory(0, length), idle.Token).ConfigureAwait(false))
                    {
                        ArrayPool<byte>.Shared.Return(query);
                        break;
                    }

                    await _slots.WaitAsync(linked.Token).ConfigureAwait(false);
                    _ = ServeAsync(query, length);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException or AuthenticationException)
            {
                // Closed by the client, idle, shutting down, or a TLS handshake or record that failed.
            }
            finally
            {
                // Let answers in progress go out before the socket closes (drain), unless aborted.
                for (int i = 0; i < MaxPipelined; i++)
                {
                    try
                    {
                        await _slots.WaitAsync(_abort.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                if (_tls is not null)
                {
                    await _tls.DisposeAsync().ConfigureAwait(false);
                }

                socket.Dispose();
                owner.Remove(this);
            }
        }

        private async Task ServeAsync(byte[] query, int length)
        {
            byte[] response = ArrayPool<byte>.Shared.Rent(DnsEngine.MaxMessageSize + 2);
            try
            {
                int n = await owner._engine.HandleAsync(query.AsMemory(0, length), response.AsMemory(2, DnsEngine.MaxMessageSize), owner.IsTls ? ListenerProtocol.Tls : ListenerProtocol.Tcp, _remote, owner._forwards, _abort.Token).ConfigureAwait(false);
                if (n > 0)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(response, (ushort)n);
                    await _writeGate.WaitAsync(_abort.Token).ConfigureAwait(false);
                    try
                    {
                        if (_tls is not null)
                        {
                            await _tls.WriteAsync(response.AsMemory(0, n + 2), _abort.Token).ConfigureAwait(false);
                        }
                        else
                        {
                            await socket.SendAsync(response.AsMemory(0, n + 2), SocketFlags.None, _abort.Token).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        _writeGate.Release();
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
            {
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(query);
                ArrayPool<byte>.Shared.Return(response);
                _slots.Release();
            }
        }

        private async ValueTask<bool> ReadExactAsync(Memory<byte> buffer, CancellationToken token)
        {
            int read = 0;
            while (read < buffer.Length)
            {
                int n = _tls is not null
                    ? await _tls.ReadAsync(buffer[read..], token).ConfigureAwait(false)
                    : await socket.ReceiveAsync(buffer[read..], SocketFlags.None, token).ConfigureAwait(false);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return true;
        }
    }
}
