using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DnsWarden.Wire.Http;
using DnsWarden.Wire.Http2;

namespace DnsWarden.Guard.Jail;

public sealed partial class HostProxy
{
    /// <summary>The most a client's header block may take, compressed or decoded: past it the connection ends.</summary>
    private const int MaxHeaderBlock = 64 * 1024;

    /// <summary>The largest HPACK table the client's encoder is allowed (the server's SETTINGS_HEADER_TABLE_SIZE is capped to it).</summary>
    private const int MaxHpackTable = 64 * 1024;

    /// <summary>Refused streams whose late frames are still dropped; past this the oldest is forgotten.</summary>
    private const int MaxRefusedStreams = 256;

    /// <summary>
    /// The command offered h2: the allowed SNI is resolved and connected to with ALPN h2 and http/1.1, its certificate
    /// checked. Only a server that chose h2 is kept (null otherwise: the command is then offered http/1.1 alone, and the
    /// HTTP/1.1 path connects again once the first request is allowed, reporting any failure as it always has).
    /// </summary>
    private async Task<H2Upstream?> ConnectH2Async(IPEndPoint destination, string sni)
    {
        IPAddress? address = await ResolveAsync(sni).ConfigureAwait(false);
        if (address is null)
        {
            return null;
        }

        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? tls = null;
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connect.CancelAfter(_firstBytesTimeout);
            await socket.ConnectAsync(new IPEndPoint(address, destination.Port), connect.Token).ConfigureAwait(false);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            SslClientAuthenticationOptions options = UpstreamOptions(sni, SslApplicationProtocol.Http2);
            options.ApplicationProtocols = s_h2OrHttp11;
            await tls.AuthenticateAsClientAsync(options, connect.Token).ConfigureAwait(false);
            if (tls.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2)
            {
                var kept = new H2Upstream(socket, tls, address);
                tls = null;
                socket = null!;
                return kept;
            }
        }
        catch (Exception e) when (e is SocketException or AuthenticationException or IOException or OperationCanceledException && !_stop.IsCancellationRequested)
        {
            // Said by the HTTP/1.1 path, which connects again after the first request and refuses it with the reason.
        }
        finally
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            socket?.Dispose();
        }

        return null;
    }

    /// <summary>A connection to the real server on which it chose h2.</summary>
    private sealed class H2Upstream(Socket socket, SslStream tls, IPAddress address) : IAsyncDisposable
    {
        public ProxySide Side { get; } = new(socket, tls);

        public IPAddress Address => address;

        public async ValueTask DisposeAsync()
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
        }
    }

    /// <summary>
    /// The command chose h2 inside TLS the proxy terminated (docs/JAIL.md, "Interception"), and the real server chose h2
    /// on the connection <paramref name="upstream"/>. The proxy carries frames between them, judging every request:
    /// each HEADERS block is decoded with the client's HPACK context, its <c>:authority</c> (or <c>host</c>) must be
    /// the SNI, then the method and path rules decide — the same judgement as an HTTP/1.1 request. An allowed request is
    /// re-encoded (literals, no indexing) so the server's table never depends on what was dropped; a refused one never
    /// reaches the server and is answered on its stream with a 403 naming why.
    /// </summary>
    private async Task Http2Async(ProxySide client, IPEndPoint destination, string sni, H2Upstream upstream, CancellationToken firstRequest)
    {
        byte[] preface = new byte[Http2FrameHeader.ClientPreface.Length];
        int got = 0;
        try
        {
            while (got < preface.Length)
            {
                int n = await client.ReceiveAsync(preface.AsMemory(got), firstRequest).ConfigureAwait(false);
                if (n == 0)
                {
                    if (got > 0)
                    {
                        RecordRefusal(destination, "https", null, sni, null, $"closed after {got} bytes of the HTTP/2 preface", null);
                    }

                    return;
                }

                got += n;
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            RecordRefusal(destination, "https", null, sni, null, $"no HTTP/2 preface within {_firstBytesTimeout.TotalSeconds:0} s of the TLS handshake", null);
            return;
        }

        if (!preface.AsSpan().SequenceEqual(Http2FrameHeader.ClientPreface))
        {
            RecordRefusal(destination, "https", null, sni, null, "h2 chosen but no HTTP/2 connection preface (RFC 9113 §3.4)", null);
            client.Socket.LingerState = new LingerOption(true, 0);
            return;
        }

        await new Http2Connection(this, client, destination, upstream.Address, sni, firstRequest).RunAsync(upstream.Side).ConfigureAwait(false);
    }

    /// <summary>An HTTP/2 error code (RFC 9113 §7).</summary>
    private enum Http2Error
    {
        NoError = 0x0,
        ProtocolError = 0x1,
        FrameSizeError = 0x6,
        CompressionError = 0x9,
    }

    /// <summary>One intercepted HTTP/2 connection: the client's frames judged and carried up, the server's carried down.</summary>
    private sealed class Http2Connection(HostProxy proxy, ProxySide client, IPEndPoint destination, IPAddress upstreamAddress, string sni, CancellationToken firstRequest)
    {
        private const int SettingsHeaderTableSize = 0x1;
        private const int SettingsEnablePush = 0x2;
        private const int SettingsMaxFrameSize = 0x5;

        private readonly SemaphoreSlim _clientWrite = new(1, 1);

        /// <summary>Set once the server's first frame (its SETTINGS, RFC 9113 §3.4) is on its way to the client: nothing of the proxy's may precede it.</summary>
        private readonly TaskCompletionSource _serverPreface = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HpackDecoder _decoder = new(4096, MaxHeaderBlock);
        private readonly SortedSet<int> _refused = [];
        private int _lastStreamId;
        private bool _sawRequest;
        private ProxySide? _server;

        public async Task RunAsync(ProxySide server)
        {
            _server = server;
            await server.SendAsync(Http2FrameHeader.ClientPreface.ToArray(), proxy._stop.Token).ConfigureAwait(false);
            Task down = DownAsync(server);
            try
            {
                await UpAsync(server).ConfigureAwait(false);
            }
            finally
            {
                await down.ConfigureAwait(false);
            }
        }

        /// <summary>Client to server: every frame read whole, requests judged, refused streams' frames dropped.</summary>
        private async Task UpAsync(ProxySide server)
        {
            var reader = new FrameReader(client);
            CancellationToken stop = proxy._stop.Token;
            try
            {
                while (true)
                {
                    FrameRead read;
                    try
                    {
                        read = await reader.NextAsync(_sawRequest ? stop : firstRequest).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        proxy.RecordRefusal(destination, "https", null, sni, null, $"no HTTP/2 request within {proxy._firstBytesTimeout.TotalSeconds:0} s of the TLS handshake", null);
                        await GoAwayAsync(Http2Error.NoError).ConfigureAwait(false);
                        server.Socket.Shutdown(SocketShutdown.Both);
                        return;
                    }

                    if (read.Status != FrameStatus.Frame)
                    {
                        if (read.Status == FrameStatus.Closed)
                        {
                            await server.ShutdownSendAsync().ConfigureAwait(false);
                            return;
                        }

                        await EndAsync(read, Http2Error.FrameSizeError).ConfigureAwait(false);
                        return;
                    }

                    if (!await UpFrameAsync(reader, read, server).ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                Close();
            }
            finally
            {
                reader.Dispose();
            }
        }

        /// <summary>One client frame; false when the connection was ended.</summary>
        private async Task<bool> UpFrameAsync(FrameReader reader, FrameRead read, ProxySide server)
        {
            CancellationToken stop = proxy._stop.Token;
            Http2FrameHeader h = read.Header;
            bool refused = _refused.Contains(h.StreamId);
            switch (h.Type)
            {
                case Http2FrameType.Data:
                    if (h.StreamId == 0)
                    {
                        return await ProtocolErrorAsync(Http2Error.ProtocolError, "DATA on stream 0").ConfigureAwait(false);
                    }

                    if (refused)
                    {
                        // The connection window the dropped DATA took is given back (RFC 9113 §6.9.1: all of it counts, padding too).
                        ForgetIfEnded(h);
                        if (h.Length > 0)
                        {
                            await WriteClientAsync(WindowUpdate(0, h.Length)).ConfigureAwait(false);
                        }

                        return true;
                    }

                    break;

                case Http2FrameType.Headers:
                    return await HeadersAsync(reader, read, server).ConfigureAwait(false);

                case Http2FrameType.Priority or Http2FrameType.WindowUpdate:
                    if (refused)
                    {
                        return true;
                    }

                    break;

                case Http2FrameType.RstStream:
                    if (refused)
                    {
                        _refused.Remove(h.StreamId);
                        return true;
                    }

                    break;

                case Http2FrameType.Settings:
                    if (h.StreamId != 0 || (!h.Has(Http2FrameHeader.FlagAck) && h.Length % 6 != 0))
                    {
                        return await ProtocolErrorAsync(Http2Error.FrameSizeError, "a malformed SETTINGS frame").ConfigureAwait(false);
                    }

                    if (!h.Has(Http2FrameHeader.FlagAck))
                    {
                        await server.SendAsync(ClientSettings(read.Payload.Span), stop).ConfigureAwait(false);
                        return true;
                    }

                    break;

                case Http2FrameType.Ping or Http2FrameType.GoAway:
                    break;

                case Http2FrameType.PushPromise or Http2FrameType.Continuation:
                    return await ProtocolErrorAsync(Http2Error.ProtocolError, $"{h.Type} from the client outside a header block").ConfigureAwait(false);

                default:
                    // RFC 9113 §5.5: unknown frame types are ignored; the proxy carries nothing it cannot judge.
                    return true;
            }

            await server.SendAsync(read.Whole, stop).ConfigureAwait(false);
            return true;
        }

        /// <summary>A HEADERS frame (and its CONTINUATIONs): a new request judged, or trailers of a carried one re-encoded.</summary>
        private async Task<bool> HeadersAsync(FrameReader reader, FrameRead read, ProxySide server)
        {
            Http2FrameHeader h = read.Header;
            if (h.StreamId == 0 || (h.StreamId & 1) == 0)
            {
                return await ProtocolErrorAsync(Http2Error.ProtocolError, $"HEADERS on stream {h.StreamId} (a client's streams are odd)").ConfigureAwait(false);
            }

            (List<HpackField>? fields, _) = await ReadHeaderBlockAsync(reader, read).ConfigureAwait(false);
            if (fields is null)
            {
                return false;
            }

            bool endStream = h.Has(Http2FrameHeader.FlagEndStream);
            if (_refused.Contains(h.StreamId))
            {
                ForgetIfEnded(h);
                return true;
            }

            if (h.StreamId <= _lastStreamId)
            {
                // Trailers (RFC 9113 §8.1) carry no pseudo-header: a request-shaped block on an old stream is not a new request.
                if (fields.Exists(f => f.Name.StartsWith(':')))
                {
                    return await ProtocolErrorAsync(Http2Error.ProtocolError, $"pseudo-header fields in trailers on stream {h.StreamId}").ConfigureAwait(false);
                }

                await SendHeadersAsync(server, h.StreamId, endStream, fields).ConfigureAwait(false);
                return true;
            }

            _lastStreamId = h.StreamId;
            _sawRequest = true;
            Request r = Describe(fields);
            Verdict v = r.Problem is not null
                ? Verdict.Refuse("https", r.Problem, r.Host, r.Method, r.Path)
                : InsideSni(proxy.JudgeRequest("https", r.Host!, r.Method!, r.Method == "CONNECT" && r.Protocol is null ? null : r.Path), sni);
            if (v.Kind != VerdictKind.Allow)
            {
                proxy.RecordRefusal(destination, "https", v.Method ?? r.Method, v.Host ?? r.Host, v.Path ?? r.Path, v.Reason!, null);
                await AnswerAsync(h.StreamId, "403", v.Reason!).ConfigureAwait(false);
                if (!endStream)
                {
                    // The client may still be sending its body: stop it, and drop what is already on its way.
                    await WriteClientAsync(RstStream(h.StreamId, Http2Error.NoError)).ConfigureAwait(false);
                    if (_refused.Count >= MaxRefusedStreams)
                    {
                        _refused.Remove(_refused.Min);
                    }

                    _refused.Add(h.StreamId);
                }

                return true;
            }

            Interlocked.Increment(ref proxy._allowedCount);
            int block = await SendHeadersAsync(server, h.StreamId, endStream, fields).ConfigureAwait(false);
            proxy._onRequest?.Invoke(new ProxyRequest
            {
                Time = DateTimeOffset.UtcNow,
                Allowed = true,
                Rule = v.Rule,
                Protocol = "https",
                Method = v.Method,
                Host = v.Host,
                Path = v.Path,
                Destination = destination,
                Upstream = upstreamAddress,
                BytesSent = block,
            });
            return true;
        }

        private void ForgetIfEnded(Http2FrameHeader h)
        {
            if (h.Has(Http2FrameHeader.FlagEndStream))
            {
                _refused.Remove(h.StreamId);
            }
        }

        /// <summary>The fields of one header block (HEADERS then CONTINUATIONs of the same stream), decoded; null when the connection was ended.</summary>
        private async Task<(List<HpackField>? Fields, Http2FrameHeader First)> ReadHeaderBlockAsync(FrameReader reader, FrameRead read)
        {
            Http2FrameHeader first = read.Header;
            var block = new ArrayBufferWriter<byte>();
            Http2FrameHeader h = first;
            FrameRead current = read;
            while (true)
            {
                if (!h.TryGetHeaderBlockFragment(current.Payload.Span, out Range fragment))
                {
                    await ProtocolErrorAsync(Http2Error.ProtocolError, $"{h.Type} on stream {h.StreamId} with padding past its end").ConfigureAwait(false);
                    return (null, first);
                }

                if (block.WrittenCount + current.Payload.Span[fragment].Length > MaxHeaderBlock)
                {
                    await ProtocolErrorAsync(Http2Error.ProtocolError, $"a header block over {MaxHeaderBlock / 1024} KiB").ConfigureAwait(false);
                    return (null, first);
                }

                block.Write(current.Payload.Span[fragment]);
                if (h.Has(Http2FrameHeader.FlagEndHeaders))
                {
                    break;
                }

                current = await reader.NextAsync(proxy._stop.Token).ConfigureAwait(false);
                if (current.Status != FrameStatus.Frame)
                {
                    await EndAsync(current, Http2Error.FrameSizeError).ConfigureAwait(false);
                    return (null, first);
                }

                h = current.Header;
                if (h.Type != Http2FrameType.Continuation || h.StreamId != first.StreamId)
                {
                    // RFC 9113 §6.10: nothing may come between a HEADERS and its last CONTINUATION.
                    await ProtocolErrorAsync(Http2Error.ProtocolError, $"{h.Type} on stream {h.StreamId} inside the header block of stream {first.StreamId}").ConfigureAwait(false);
                    return (null, first);
                }
            }

            var fields = new List<HpackField>();
            if (!_decoder.TryDecode(block.WrittenSpan, fields, out HpackError error, out int offset))
            {
                await ProtocolErrorAsync(Http2Error.CompressionError, $"header block of stream {first.StreamId}: {error} at byte {offset} of {block.WrittenCount}").ConfigureAwait(false);
                return (null, first);
            }

            return (fields, first);
        }

        /// <summary>The fields re-encoded (literals, no indexing) as HEADERS and CONTINUATIONs; returns the block's length.</summary>
        private async Task<int> SendHeadersAsync(ProxySide server, int streamId, bool endStream, List<HpackField> fields)
        {
            var block = new ArrayBufferWriter<byte>();
            HpackEncoder.Encode(fields, block);
            ReadOnlyMemory<byte> rest = block.WrittenMemory;
            bool first = true;
            do
            {
                int take = Math.Min(rest.Length, Http2FrameHeader.DefaultMaxFrameSize);
                byte flags = (byte)((take == rest.Length ? Http2FrameHeader.FlagEndHeaders : 0) | (first && endStream ? Http2FrameHeader.FlagEndStream : 0));
                await server.SendAsync(Frame(first ? Http2FrameType.Headers : Http2FrameType.Continuation, flags, streamId, rest.Span[..take]), proxy._stop.Token).ConfigureAwait(false);
                rest = rest[take..];
                first = false;
            }
            while (!rest.IsEmpty);
            return block.WrittenCount;
        }

        /// <summary>Server to client: frames pass unchanged but whole, so an injected frame never lands inside one or inside a header block.</summary>
        private async Task DownAsync(ProxySide server)
        {
            var reader = new FrameReader(server);
            bool inHeaderBlock = false;
            try
            {
                while (true)
                {
                    FrameRead read = await reader.NextAsync(proxy._stop.Token).ConfigureAwait(false);
                    if (read.Status != FrameStatus.Frame)
                    {
                        if (read.Status == FrameStatus.TooLarge)
                        {
                            proxy.RecordRefusal(destination, "https", null, sni, null, $"the server sent a frame of {read.Header.Length} bytes, over the {Http2FrameHeader.DefaultMaxFrameSize} the proxy allows", null);
                        }

                        break;
                    }

                    Http2FrameHeader h = read.Header;
                    if (h.Type == Http2FrameType.Settings && !h.Has(Http2FrameHeader.FlagAck))
                    {
                        ServerSettings(read.Payload.Span);
                    }

                    if (!inHeaderBlock)
                    {
                        await _clientWrite.WaitAsync(proxy._stop.Token).ConfigureAwait(false);
                    }

                    try
                    {
                        await client.SendAsync(read.Whole, proxy._stop.Token).ConfigureAwait(false);
                        _serverPreface.TrySetResult();
                    }
                    finally
                    {
                        inHeaderBlock = h.Type is Http2FrameType.Headers or Http2FrameType.PushPromise or Http2FrameType.Continuation && !h.Has(Http2FrameHeader.FlagEndHeaders);
                        if (!inHeaderBlock)
                        {
                            _clientWrite.Release();
                        }
                    }
                }

                await client.ShutdownSendAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                Close();
            }
            finally
            {
                _serverPreface.TrySetResult();
                if (inHeaderBlock)
                {
                    _clientWrite.Release();
                }

                reader.Dispose();
            }
        }

        /// <summary>
        /// The client's SETTINGS, rewritten for the server: push off (the proxy judges only what the client asks for), and
        /// frames no larger than the proxy reads whole.
        /// </summary>
        private static byte[] ClientSettings(ReadOnlySpan<byte> payload)
        {
            var entries = new List<(ushort Id, uint Value)>();
            for (int i = 0; i + 6 <= payload.Length; i += 6)
            {
                ushort id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                value = id switch
                {
                    SettingsEnablePush => 0,
                    SettingsMaxFrameSize => Math.Min(value, Http2FrameHeader.DefaultMaxFrameSize),
                    _ => value,
                };
                entries.Add((id, value));
            }

            if (!entries.Exists(e => e.Id == SettingsEnablePush))
            {
                entries.Add((SettingsEnablePush, 0));
            }

            byte[] body = new byte[entries.Count * 6];
            for (int i = 0; i < entries.Count; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(i * 6), entries[i].Id);
                BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan((i * 6) + 2), entries[i].Value);
            }

            return Frame(Http2FrameType.Settings, 0, 0, body);
        }

        /// <summary>
        /// The server's SETTINGS, capped in place (same length, so frame boundaries hold): the client's HPACK table no
        /// larger than the decoder bounds, its frames no larger than the proxy reads whole.
        /// </summary>
        private void ServerSettings(Span<byte> payload)
        {
            for (int i = 0; i + 6 <= payload.Length; i += 6)
            {
                ushort id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                if (id == SettingsHeaderTableSize)
                {
                    value = Math.Min(value, MaxHpackTable);
                    _decoder.MaxTableSize = Math.Max(_decoder.MaxTableSize, (int)value);
                }
                else if (id == SettingsMaxFrameSize)
                {
                    value = Math.Min(value, Http2FrameHeader.DefaultMaxFrameSize);
                }

                BinaryPrimitives.WriteUInt32BigEndian(payload[(i + 2)..], value);
            }
        }

        /// <summary>
        /// A refused stream's answer: HEADERS <c>:status</c> and <c>x-dnsw-refused</c> with END_STREAM and no
        /// body, so the connection's flow-control windows between client and server stay as they were.
        /// </summary>
        private Task AnswerAsync(int streamId, string status, string reason)
        {
            var block = new ArrayBufferWriter<byte>();
            HpackEncoder.Encode(
            [
                new HpackField(":status", status),
                new HpackField("content-length", "0"),
                new HpackField("x-dnsw-refused", FieldValue(DeniedText(reason))),
            ],
                block);
            return WriteClientAsync(Frame(Http2FrameType.Headers, Http2FrameHeader.FlagEndHeaders | Http2FrameHeader.FlagEndStream, streamId, block.WrittenSpan));
        }

        /// <summary>A reason may quote what the client sent: no control byte reaches a field value (RFC 9113 §8.2.1).</summary>
        private static string FieldValue(string text) => string.Create(text.Length, text, (span, t) =>
        {
            for (int i = 0; i < t.Length; i++)
            {
                span[i] = t[i] is < ' ' or > '~' ? '?' : t[i];
            }
        });

        /// <summary>The request's pseudo-header fields and host, or what makes it malformed (RFC 9113 §8.3.1).</summary>
        private static Request Describe(List<HpackField> fields)
        {
            string? method = null, path = null, authority = null, host = null, protocol = null;
            foreach (HpackField f in fields)
            {
                switch (f.Name)
                {
                    case ":method": method ??= f.Value; break;
                    case ":path": path ??= f.Value; break;
                    case ":authority": authority ??= f.Value; break;
                    case ":protocol": protocol ??= f.Value; break;
                    case "host": host ??= f.Value; break;
                    default: break;
                }
            }

            string? problem = null;
            if (method is null)
            {
                problem = "malformed request (HTTP/2 without :method)";
            }
            else if (authority is not null && host is not null && !string.Equals(authority, host, StringComparison.OrdinalIgnoreCase))
            {
                problem = $":authority {authority} and host {host} differ";
            }
            else if (authority is null && host is null)
            {
                problem = "malformed request (HTTP/2 without :authority or host)";
            }
            else if (path is null && (method != "CONNECT" || protocol is not null))
            {
                problem = "malformed request (HTTP/2 without :path)";
            }

            string? name = authority ?? host;
            return new Request(method, name is null ? null : WithoutPort(name).ToLowerInvariant(), path, protocol, problem);
        }

        private static string WithoutPort(string hostPort) => hostPort[..HttpRequestHead.HostLength(hostPort.AsSpan())];

        private async Task<bool> ProtocolErrorAsync(Http2Error code, string what)
        {
            proxy.RecordRefusal(destination, "https", null, sni, null, $"HTTP/2 {code}: {what}", null);
            await GoAwayAsync(code).ConfigureAwait(false);
            Close();
            return false;
        }

        private async Task EndAsync(FrameRead read, Http2Error code)
        {
            if (read.Status == FrameStatus.TooLarge)
            {
                await ProtocolErrorAsync(code, $"a {read.Header.Type} frame of {read.Header.Length} bytes (at most {Http2FrameHeader.DefaultMaxFrameSize})").ConfigureAwait(false);
            }
            else if (read.Status == FrameStatus.Truncated)
            {
                proxy.RecordRefusal(destination, "https", null, sni, null, "HTTP/2: closed inside a frame", null);
                Close();
            }
            else
            {
                Close();
            }
        }

        private async Task GoAwayAsync(Http2Error code)
        {
            byte[] body = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(body, _lastStreamId);
            BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(4), (int)code);
            try
            {
                await WriteClientAsync(Frame(Http2FrameType.GoAway, 0, 0, body)).ConfigureAwait(false);
                await client.ShutdownSendAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
            }
        }

        /// <summary>Ends both sides at once: the other direction's read sees it and stops.</summary>
        private void Close()
        {
            foreach (Socket? s in (Socket?[])[client.Socket, _server?.Socket])
            {
                try
                {
                    s?.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            }
        }

        private async Task WriteClientAsync(byte[] frame)
        {
            try
            {
                await _serverPreface.Task.WaitAsync(proxy._firstBytesTimeout, proxy._stop.Token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A server that sends no SETTINGS is broken; what the proxy says (a 403, GOAWAY) goes out regardless.
            }

            await _clientWrite.WaitAsync(proxy._stop.Token).ConfigureAwait(false);
            try
            {
                await client.SendAsync(frame, proxy._stop.Token).ConfigureAwait(false);
            }
            finally
            {
                _clientWrite.Release();
            }
        }

        private static byte[] Frame(Http2FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
        {
            byte[] frame = new byte[Http2FrameHeader.Size + payload.Length];
            new Http2FrameHeader(payload.Length, type, flags, streamId).TryWrite(frame);
            payload.CopyTo(frame.AsSpan(Http2FrameHeader.Size));
            return frame;
        }

        private static byte[] WindowUpdate(int streamId, int increment)
        {
            Span<byte> body = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(body, increment);
            return Frame(Http2FrameType.WindowUpdate, 0, streamId, body);
        }

        private static byte[] RstStream(int streamId, Http2Error code)
        {
            Span<byte> body = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(body, (int)code);
            return Frame(Http2FrameType.RstStream, 0, streamId, body);
        }
    }

    private sealed record Request(string? Method, string? Host, string? Path, string? Protocol, string? Problem);

    private enum FrameStatus
    {
        Frame,
        Closed,
        Truncated,
        TooLarge,
    }

    /// <summary>A frame read whole: <see cref="Whole"/> is its 9-byte header and payload, valid until the next read.</summary>
    private readonly record struct FrameRead(FrameStatus Status, Http2FrameHeader Header, Memory<byte> Whole)
    {
        public Memory<byte> Payload => Whole[Http2FrameHeader.Size..];
    }

    /// <summary>Reads whole frames of at most the default maximum size (the proxy caps SETTINGS_MAX_FRAME_SIZE both ways).</summary>
    private sealed class FrameReader(ProxySide from) : IDisposable
    {
        private const int MaxFrame = Http2FrameHeader.Size + Http2FrameHeader.DefaultMaxFrameSize;

        private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(2 * MaxFrame);
        private int _start;
        private int _end;

        public async ValueTask<FrameRead> NextAsync(CancellationToken cancellationToken)
        {
            if (!await FillAsync(Http2FrameHeader.Size, cancellationToken).ConfigureAwait(false))
            {
                return new FrameRead(_end > _start ? FrameStatus.Truncated : FrameStatus.Closed, default, default);
            }

            Http2FrameHeader.TryRead(_buffer.AsSpan(_start, _end - _start), out Http2FrameHeader header);
            if (header.Length > Http2FrameHeader.DefaultMaxFrameSize)
            {
                return new FrameRead(FrameStatus.TooLarge, header, default);
            }

            int size = Http2FrameHeader.Size + header.Length;
            if (!await FillAsync(size, cancellationToken).ConfigureAwait(false))
            {
                return new FrameRead(FrameStatus.Truncated, header, default);
            }

            var frame = new FrameRead(FrameStatus.Frame, header, _buffer.AsMemory(_start, size));
            _start += size;
            return frame;
        }

        /// <summary>Until <paramref name="count"/> bytes are buffered from the start; false at the end of the stream.</summary>
        private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
        {
            if (_end - _start >= count)
            {
                return true;
            }

            if (_start + count > _buffer.Length)
            {
                // Move the partial frame to the front: the frame returned last is no longer in use.
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            while (_end - _start < count)
            {
                int n = await from.ReceiveAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return false;
                }

                _end += n;
            }

            return true;
        }

        public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
    }
}
