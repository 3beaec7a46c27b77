using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using DnsWarden.Guard.Jail.Interception;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Policy.Http;
using DnsWarden.Wire.Http;
using DnsWarden.Wire.Tls;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// The jail's transparent proxy (docs/JAIL.md, "Host rules"): nftables redirects every TCP connection the command opens
/// to this listener on the jail's loopback; the first bytes decide — a ClientHello by its SNI, an HTTP/1.x request by
/// its host (every request of a kept-alive connection) — against <see cref="HostRules"/>. An allowed host is resolved
/// here through the jail's upstreams and connected to from dnsw's own namespace (the dialled address is never
/// trusted); the bytes read are replayed, then both directions are copied through pooled buffers. Anything else is
/// refused at once: a TLS alert, a 403 naming why, or a close.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class HostProxy : IAsyncDisposable
{
    /// <summary>The listener's port on 127.0.0.1 and [::1] inside the jail.</summary>
    public const int Port = 15001;

    /// <summary>
    /// What the proxy holds of a client's first bytes: a ClientHello with post-quantum key shares is ~2–17 KB, a request
    /// head rarely passes 8 KB; past this the connection is refused.
    /// </summary>
    public const int MaxFirstBytes = 64 * 1024;

    private const int RelayBufferSize = 16 * 1024;

    /// <summary>At most this many refusals are written to stderr as they happen; all are counted and logged.</summary>
    private const int MaxLiveLines = 100;

    private readonly HostRules _rules;
    private readonly HostResolver _resolver;
    private readonly TimeSpan _firstBytesTimeout;
    private readonly TextWriter _stderr;
    private readonly Action<ProxyRequest>? _onRequest;
    private readonly InterceptionSettings? _interception;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _loops = [];
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly ConcurrentDictionary<string, int> _denied = new(StringComparer.Ordinal);
    private long _allowedCount;
    private long _deniedCount;
    private int _liveLines;

    public HostProxy(HostRules rules, HostResolver resolver, TextWriter stderr, Action<ProxyRequest>? onRequest = null, TimeSpan? firstBytesTimeout = null, InterceptionSettings? interception = null)
    {
        _interception = interception;
        _rules = rules;
        _resolver = resolver;
        _stderr = stderr;
        _onRequest = onRequest;
        _firstBytesTimeout = firstBytesTimeout ?? TimeSpan.FromSeconds(10);
    }

    public long Allowed => Interlocked.Read(ref _allowedCount);

    public long Denied => Interlocked.Read(ref _deniedCount);

    /// <summary>Refused hosts (or "(no SNI)", an IP literal…) with their counts, most frequent first.</summary>
    public IReadOnlyList<(string Host, int Count)> TopDenied(int count) =>
        [.. _denied.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(count).Select(p => (p.Key, p.Value))];

    /// <summary>Opens the listeners inside <paramref name="netns"/> (its loopback) and starts accepting.</summary>
    public async Task StartAsync(string netns)
    {
        await OpenAsync(netns).ConfigureAwait(false);
        Start();
    }

    /// <summary>
    /// Opens the listeners inside <paramref name="netns"/> (its loopback), which needs root; connections wait in the
    /// backlog, unread, until <see cref="Start"/> (called once the run has dropped to nobody).
    /// </summary>
    public async Task OpenAsync(string netns)
    {
        foreach (IPAddress address in (IPAddress[])[IPAddress.Loopback, IPAddress.IPv6Loopback])
        {
            Socket listener = await NetworkNamespace.OpenSocketAsync(netns, address.AddressFamily, SocketType.Stream, ProtocolType.Tcp).ConfigureAwait(false);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(address, Port));
            listener.Listen(1024);
            _listeners.Add(listener);
        }
    }

    /// <summary>Starts accepting on the listeners <see cref="OpenAsync"/> opened.</summary>
    public void Start()
    {
        foreach (Socket listener in _listeners)
        {
            _loops.Add(Task.Run(() => AcceptLoopAsync(listener)));
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Task t = Task.Run(() => HandleAsync(client));
            _connections.TryAdd(t, 0);
            _ = t.ContinueWith(done => _connections.TryRemove(done, out _), TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        using (client)
        {
            client.NoDelay = true;
            if (!OriginalDestination.TryGet(client, out IPEndPoint? destination))
            {
                // Dialled the proxy itself: nothing was redirected, so there is nothing to decide for.
                return;
            }

            using var buffer = new IdleBuffer(MaxFirstBytes);
            try
            {
                await DecideAsync(new ProxySide(client), destination!, buffer).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
            {
                // A side closed or reset: the connection is over, nothing to report beyond what was logged.
            }
            catch (Exception e) when (e is CryptographicException or InvalidOperationException or NotSupportedException or ArgumentException)
            {
                // A fault of the proxy on one connection ends that connection, said in one line; the jail goes on.
                lock (_stderr)
                {
                    _stderr.WriteLine($"dnsw jail: proxy: a connection to {EndpointText(destination!)} ended on an error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                }
            }
        }
    }

    private async Task DecideAsync(ProxySide client, IPEndPoint destination, IdleBuffer buffer)
    {
        // The ClientHello's reassembly scratch is given back before the connection is relayed, the first-bytes buffer
        // once what it holds is sent on (HTTP takes it again for each later head), and the relay's buffers while no
        // data moves: an idle connection holds none (docs/BENCHMARKS.md, memory per connection).
        (Verdict? verdict, int filled) = await ReadFirstBytesAsync(client, destination, buffer.Array).ConfigureAwait(false);
        if (verdict is not null)
        {
            await ActAsync(client, destination, buffer, filled, verdict).ConfigureAwait(false);
        }
    }

    /// <summary>Reads until the first bytes decide; null when the connection was refused or closed meanwhile.</summary>
    private async Task<(Verdict? Verdict, int Filled)> ReadFirstBytesAsync(ProxySide client, IPEndPoint destination, byte[] buffer)
    {
        using var firstBytes = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        firstBytes.CancelAfter(_firstBytesTimeout);
        int filled = 0;
        FirstBytesKind kind = FirstBytesKind.NeedMoreData;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(MaxFirstBytes);
        try
        {
            while (true)
            {
                if (kind == FirstBytesKind.NeedMoreData)
                {
                    kind = FirstBytes.Classify(buffer.AsSpan(0, filled));
                }

                Verdict verdict = kind switch
                {
                    FirstBytesKind.Tls => DecideTls(buffer.AsSpan(0, filled), scratch),
                    FirstBytesKind.Http => DecideHttpHead(buffer.AsSpan(0, filled)),
                    FirstBytesKind.Other => Verdict.Refuse("other", "neither TLS nor HTTP"),
                    _ => Verdict.NeedMore,
                };
                if (verdict.Kind != VerdictKind.NeedMore)
                {
                    return (verdict, filled);
                }

                if (filled == buffer.Length)
                {
                    await RefuseAsync(client, destination, kind == FirstBytesKind.Http ? "http" : "tls", null, null, null, $"more than {MaxFirstBytes / 1024} KiB before a decision").ConfigureAwait(false);
                    return (null, filled);
                }

                int n;
                try
                {
                    n = await client.ReceiveAsync(buffer.AsMemory(filled), firstBytes.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                {
                    await RefuseAsync(client, destination, Protocol(kind), null, null, null, $"no decision within {_firstBytesTimeout.TotalSeconds:0} s ({filled} bytes)").ConfigureAwait(false);
                    return (null, filled);
                }

                if (n == 0)
                {
                    if (filled > 0)
                    {
                        await RefuseAsync(client, destination, Protocol(kind), null, null, null, $"closed after {filled} bytes, before a decision").ConfigureAwait(false);
                    }

                    return (null, filled);
                }

                filled += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static string Protocol(FirstBytesKind kind) => kind switch
    {
        FirstBytesKind.Tls => "tls",
        FirstBytesKind.Http => "http",
        _ => "other",
    };

    private Verdict DecideTls(ReadOnlySpan<byte> stream, Span<byte> scratch)
    {
        if (!TlsRecordReader.TryGetClientHello(stream, scratch, out int length, out TlsStreamStatus status))
        {
            return status == TlsStreamStatus.NeedMoreData ? Verdict.NeedMore : Verdict.Refuse("tls", $"malformed ClientHello ({status})");
        }

        ReadOnlySpan<byte> message = scratch[..length];
        if (!TlsClientHello.TryRead(message, out ClientHelloInfo info, out TlsError error))
        {
            return Verdict.Refuse("tls", $"malformed ClientHello ({error})");
        }

        string? sni = info.ServerNameString(message);
        if (sni is null)
        {
            return _rules.Observe ? Verdict.Allow("tls", null, null, null, "observe") : Verdict.Refuse("tls", "no SNI");
        }

        return Judge("tls", sni, null, null, info.HasEch ? " (the outer name of an encrypted ClientHello)" : "") with { OffersH2 = info.AlpnContains(message, "h2"u8) };
    }

    private Verdict DecideHttpHead(ReadOnlySpan<byte> stream)
    {
        if (!HttpRequestHead.TryRead(stream, out HttpRequestHead head, out HttpHeadStatus status, out HttpHeadError error))
        {
            return status == HttpHeadStatus.NeedMoreData ? Verdict.NeedMore : Verdict.Refuse("http", $"malformed request ({error})");
        }

        return JudgeHead(stream, head);
    }

    private Verdict JudgeHead(ReadOnlySpan<byte> stream, HttpRequestHead head, string protocol = "http")
    {
        string method = head.MethodString(stream);
        string host = head.HostString(stream);
        string path = head.PathString(stream);
        Verdict v = JudgeRequest(protocol, host, method, head.IsConnect ? null : path);
        return v with { Head = head };
    }

    /// <summary>One HTTP request, whichever version carried it: its host (lower case, port cut off), method and path.</summary>
    private Verdict JudgeRequest(string protocol, string host, string method, string? path) => Judge(protocol, host, method, path, "");

    /// <summary>
    /// A request read inside TLS the proxy terminated: its host must be the SNI (another host inside the allowed name's
    /// TLS is fronting), then the rules decide. The one judgement for HTTP/1.1 and HTTP/2 requests alike.
    /// </summary>
    private static Verdict InsideSni(Verdict verdict, string sni) =>
        string.Equals(verdict.Host, sni, StringComparison.Ordinal)
            ? verdict
            : Verdict.Refuse(verdict.Protocol, HostDiffersFromSni(verdict.Host, sni), verdict.Host, verdict.Method, verdict.Path);

    /// <summary>The one decision: an IP literal is never a name, observe allows all, else the first rule that admits it.</summary>
    private Verdict Judge(string protocol, string host, string? method, string? path, string note)
    {
        string bare = host.TrimEnd('.');
        if (IPAddress.TryParse(bare.Trim('[', ']'), out _))
        {
            return _rules.Observe ? Verdict.Allow(protocol, null, method, path, "observe") : Verdict.Refuse(protocol, "an IP literal", bare, method, path);
        }

        if (_rules.Observe)
        {
            return Verdict.Allow(protocol, bare, method, path, "observe");
        }

        // CONNECT asks for a tunnel: a request like any other, allowed only by a rule for its host and the CONNECT method.
        if (method == "CONNECT")
        {
            // Only a rule naming CONNECT: a plain host rule admits any method, but not a tunnel.
            HostRule? tunnel = _rules.HttpRulesFor(bare).FirstOrDefault(r => r.Method == "CONNECT");
            return tunnel is null ? Verdict.Refuse(protocol, "CONNECT needs a rule 'CONNECT " + bare + "'", bare, method, path) : Verdict.Allow(protocol, bare, method, path, tunnel.Text);
        }

        HostRule? rule = _rules.Match(bare, method, path);
        if (rule is not null)
        {
            return Verdict.Allow(protocol, bare, method, path, rule.Text);
        }

        // The host has rules, but none for this method and path: name them, so the 403 says what would pass.
        string[] forHost = [.. _rules.HttpRulesFor(bare).Select(r => r.Text)];
        return forHost.Length > 0 && method is not null
            ? Verdict.Refuse(protocol, $"no rule allows {method} {bare}{path} (rules for {bare}: {string.Join(", ", forHost)})", bare, method, path)
            : Verdict.Refuse(protocol, "no rule allows " + bare + note, bare, method, path);
    }

    private async Task ActAsync(ProxySide client, IPEndPoint destination, IdleBuffer buffer, int filled, Verdict verdict)
    {
        if (verdict.Kind == VerdictKind.Refuse)
        {
            await RefuseAsync(client, destination, verdict.Protocol, verdict.Method, verdict.Host, verdict.Path, verdict.Reason!).ConfigureAwait(false);
            return;
        }

        if (_interception is not null && verdict.Protocol == "tls" && verdict.Host is not null)
        {
            await InterceptAsync(client, destination, buffer, filled, verdict.Host, verdict.OffersH2).ConfigureAwait(false);
            return;
        }

        // Observe mode with no name (no SNI, an IP literal): the dialled address is all there is.
        IPAddress? address = verdict.Host is null ? destination.Address : await ResolveAsync(verdict.Host).ConfigureAwait(false);
        if (address is null)
        {
            await RefuseAsync(client, destination, verdict.Protocol, verdict.Method, verdict.Host, verdict.Path, $"{verdict.Host} does not resolve through the upstreams", allowedByRule: verdict.Rule).ConfigureAwait(false);
            return;
        }

        using var server = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connect.CancelAfter(_firstBytesTimeout);
            await server.ConnectAsync(new IPEndPoint(address, destination.Port), connect.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            await RefuseAsync(client, destination, verdict.Protocol, verdict.Method, verdict.Host, verdict.Path, $"cannot connect to {verdict.Host} ({address}:{destination.Port})", allowedByRule: verdict.Rule).ConfigureAwait(false);
            return;
        }

        Interlocked.Increment(ref _allowedCount);
        var request = new ProxyRequest
        {
            Time = DateTimeOffset.UtcNow,
            Allowed = true,
            Rule = verdict.Rule,
            Protocol = verdict.Protocol,
            Method = verdict.Method,
            Host = verdict.Host,
            Path = verdict.Path,
            Destination = destination,
            Upstream = address,
        };
        if (verdict.Protocol == "http" && verdict.Head is HttpRequestHead head)
        {
            await new HttpConnection(this, client, new ProxySide(server), destination, address, verdict.Host!, buffer, filled, "http").RunAsync(head, request).ConfigureAwait(false);
            return;
        }

        // TLS (or observe-mode anything): replay what was read, then copy both ways.
        await server.SendAsync(buffer.Array.AsMemory(0, filled), _stop.Token).ConfigureAwait(false);
        buffer.Release();
        request.BytesSent = filled;
        (long up, long down) = await RelayAsync(client, new ProxySide(server), _stop.Token).ConfigureAwait(false);
        request.BytesSent += up;
        request.BytesReceived = down;
        _onRequest?.Invoke(request);
    }

    private async Task<IPAddress?> ResolveAsync(string host)
    {
        using var resolve = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        resolve.CancelAfter(_firstBytesTimeout);
        try
        {
            return await _resolver.ResolveAsync(host, resolve.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Refuses a connection at once: HTTP gets a 403 whose one-line body says why, TLS an access_denied alert (RFC 8446
    /// §6.2), anything else a reset. Counted, logged, and the first refusals written to stderr as they happen.
    /// </summary>
    private async Task RefuseAsync(ProxySide client, IPEndPoint destination, string protocol, string? method, string? host, string? path, string reason, string? allowedByRule = null, bool answer = true)
    {
        RecordRefusal(destination, protocol, method, host, path, reason, allowedByRule);
        try
        {
            if (!answer)
            {
                // A TLS handshake that failed part way: nothing sensible can be said on it any more.
                client.Socket.LingerState = new LingerOption(true, 0);
            }
            else if (protocol is "http" or "https")
            {
                string body = DeniedText(reason) + "\n";
                byte[] response = Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {Encoding.ASCII.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");
                await client.SendAsync(response, _stop.Token).ConfigureAwait(false);
                await client.ShutdownSendAsync().ConfigureAwait(false);
            }
            else if (protocol == "tls")
            {
                // alert record: type 21, version 3.3, length 2; level fatal (2), access_denied (49).
                await client.SendAsync(new byte[] { 21, 3, 3, 0, 2, 2, 49 }, _stop.Token).ConfigureAwait(false);
                await client.ShutdownSendAsync().ConfigureAwait(false);
            }
            else
            {
                client.Socket.LingerState = new LingerOption(true, 0);
            }
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
        }
    }

    /// <summary>What a refused HTTP request is told: the HTTP/1.1 403's body, the HTTP/2 403's x-dnsw-refused field.</summary>
    private static string DeniedText(string reason) => "dnsw jail: denied: " + reason;

    /// <summary>A refusal counted, logged, and the first ones written to stderr as they happen; the answer is the caller's.</summary>
    private void RecordRefusal(IPEndPoint destination, string protocol, string? method, string? host, string? path, string reason, string? allowedByRule)
    {
        Interlocked.Increment(ref _deniedCount);
        string key = host ?? "(" + reason + ")";
        _denied.AddOrUpdate(key, 1, (_, c) => c + 1);
        if (Interlocked.Increment(ref _liveLines) <= MaxLiveLines)
        {
            lock (_stderr)
            {
                _stderr.WriteLine($"dnsw jail: proxy refused {protocol} {(method is null ? "" : method + " ")}{host ?? "-"}{path} to {EndpointText(destination)}: {reason}");
            }
        }

        _onRequest?.Invoke(new ProxyRequest
        {
            Time = DateTimeOffset.UtcNow,
            Allowed = false,
            Rule = allowedByRule,
            Reason = reason,
            Protocol = protocol,
            Method = method,
            Host = host,
            Path = path,
            Destination = destination,
        });
    }

    private static string EndpointText(IPEndPoint e) => e.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";

    /// <summary>Copies both directions until both are done; each direction half-closes the other side when its source ends.</summary>
    internal static async Task<(long Up, long Down)> RelayAsync(ProxySide client, ProxySide server, CancellationToken cancellationToken)
    {
        Task<long> up = CopyAsync(client, server, cancellationToken);
        Task<long> down = CopyAsync(server, client, cancellationToken);
        await Task.WhenAll(up, down).ConfigureAwait(false);
        return (up.Result, down.Result);
    }

    /// <summary>
    /// Copies <paramref name="from"/> to <paramref name="to"/> until the end, then half-closes <paramref name="to"/>. The
    /// buffer is held while data keeps coming (a read that fills it is followed by another at once) and given back when
    /// a read drains the socket, until the next data.
    /// </summary>
    internal static async Task<long> CopyAsync(ProxySide from, ProxySide to, CancellationToken cancellationToken)
    {
        using var buffer = new IdleBuffer(RelayBufferSize);
        long total = 0;
        try
        {
            while (true)
            {
                int n = await buffer.ReceiveAsync(from, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await to.SendAsync(buffer.Array.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                total += n;
                buffer.ReleaseIfDrained(n);
            }

            await to.ShutdownSendAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // One side went away: make the other see it.
            try
            {
                to.Socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e2) when (e2 is SocketException or ObjectDisposedException)
            {
            }
        }

        return total;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (Socket listener in _listeners)
        {
            listener.Dispose();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stop.Dispose();
    }

    private enum VerdictKind
    {
        NeedMore,
        Allow,
        Refuse,
    }

    private sealed record Verdict(VerdictKind Kind, string Protocol, string? Host, string? Method, string? Path, string? Rule, string? Reason)
    {
        public static Verdict NeedMore { get; } = new(VerdictKind.NeedMore, "", null, null, null, null, null);

        public HttpRequestHead? Head { get; init; }

        /// <summary>The ClientHello's ALPN list names h2.</summary>
        public bool OffersH2 { get; init; }

        public static Verdict Allow(string protocol, string? host, string? method, string? path, string rule) => new(VerdictKind.Allow, protocol, host, method, path, rule, null);

        public static Verdict Refuse(string protocol, string reason, string? host = null, string? method = null, string? path = null) => new(VerdictKind.Refuse, protocol, host, method, path, null, reason);
    }
}
