using System.Net;
using System.Net.Sockets;
using DnsWarden.Wire.Http;

namespace DnsWarden.Guard.Jail;

public sealed partial class HostProxy
{
    /// <summary>
    /// An allowed HTTP/1.x connection: every request head the command sends is read and judged before it is forwarded,
    /// bodies are forwarded as their framing says (Content-Length or chunked), so the next head is found exactly. A
    /// request for another host, or one no rule admits, ends the connection with a 403 once the server has answered
    /// what it was sent. An Upgrade (WebSocket) or CONNECT that the server accepts (101, or 2xx for CONNECT) turns the
    /// connection into a plain copy.
    /// </summary>
    private sealed class HttpConnection(HostProxy proxy, ProxySide client, ProxySide server, IPEndPoint destination, IPAddress upstream, string host, IdleBuffer heads, int filled, string protocol)
    {
        private static readonly TimeSpan s_drain = TimeSpan.FromSeconds(10);

        private int _filled = filled;
        private volatile TaskCompletionSource<bool>? _switchAnswer;
        private volatile bool _expectConnect;
        private volatile bool _keepClientOpen;
        private long _received;
        private readonly TaskCompletionSource _serverDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task RunAsync(HttpRequestHead first, ProxyRequest firstRequest)
        {
            Task down = DownAsync();
            try
            {
                await UpAsync(first, firstRequest).ConfigureAwait(false);
            }
            finally
            {
                await down.ConfigureAwait(false);
            }
        }

        private async Task UpAsync(HttpRequestHead head, ProxyRequest request)
        {
            CancellationToken stop = proxy._stop.Token;
            while (true)
            {
                bool switching = head.IsUpgrade || head.IsConnect;
                TaskCompletionSource<bool>? answer = null;
                if (switching)
                {
                    answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _expectConnect = head.IsConnect;
                    _switchAnswer = answer;
                }

                await server.SendAsync(heads.Array.AsMemory(0, head.Length), stop).ConfigureAwait(false);
                int pos = head.Length;
                long sent = head.Length;
                (bool bodyDone, pos, long bodyBytes) = await ForwardBodyAsync(head, pos).ConfigureAwait(false);
                sent += bodyBytes;
                request.BytesSent = sent;
                proxy._onRequest?.Invoke(request);
                if (!bodyDone)
                {
                    await server.ShutdownSendAsync().ConfigureAwait(false);
                    return;
                }

                if (answer is not null && await answer.Task.ConfigureAwait(false))
                {
                    // Switched protocols (or a CONNECT tunnel): no more HTTP on this connection to read.
                    await server.SendAsync(heads.Array.AsMemory(pos, _filled - pos), stop).ConfigureAwait(false);
                    heads.Release();
                    await CopyAsync(client, server, stop).ConfigureAwait(false);
                    return;
                }

                heads.Array.AsSpan(pos, _filled - pos).CopyTo(heads.Array);
                _filled -= pos;

                // The next request on the kept-alive connection; nothing of it read yet, the buffer waits in the pool.
                if (_filled == 0)
                {
                    heads.Release();
                    await client.WaitReadableAsync(stop).ConfigureAwait(false);
                }

                (HeadRead read, HttpRequestHead next, _filled, string? failure) = await ReadHeadAsync(client, heads.Array, _filled, stop).ConfigureAwait(false);
                if (read == HeadRead.Closed)
                {
                    await server.ShutdownSendAsync().ConfigureAwait(false);
                    return;
                }

                if (read != HeadRead.Ok)
                {
                    await DenyLaterAsync(null, null, null, failure!).ConfigureAwait(false);
                    return;
                }

                Verdict v = proxy.JudgeHead(heads.Array.AsSpan(0, _filled), next, protocol);
                if (v.Kind != VerdictKind.Allow || !string.Equals(v.Host, host, StringComparison.Ordinal))
                {
                    string reason = protocol == "https" && !string.Equals(v.Host, host, StringComparison.Ordinal) ? HostDiffersFromSni(v.Host, host)
                        : v.Kind != VerdictKind.Allow ? v.Reason!
                        : $"this kept-alive connection is for {host}, not {v.Host}";
                    await DenyLaterAsync(v.Method, v.Host, v.Path, reason).ConfigureAwait(false);
                    return;
                }

                Interlocked.Increment(ref proxy._allowedCount);
                head = next;
                request = new ProxyRequest
                {
                    Time = DateTimeOffset.UtcNow,
                    Allowed = true,
                    Rule = v.Rule,
                    Protocol = protocol,
                    Method = v.Method,
                    Host = v.Host,
                    Path = v.Path,
                    Destination = destination,
                    Upstream = upstream,
                };
            }
        }

        /// <summary>Forwards the body of <paramref name="head"/> (part may already be in the buffer after <paramref name="pos"/>).</summary>
        private async Task<(bool Done, int Pos, long Bytes)> ForwardBodyAsync(HttpRequestHead head, int pos)
        {
            CancellationToken stop = proxy._stop.Token;
            long remaining = head.IsChunked ? long.MaxValue : Math.Max(0, head.ContentLength);
            var chunked = default(HttpChunkedBody);
            long bytes = 0;
            while (remaining > 0)
            {
                if (pos == _filled)
                {
                    pos = _filled = 0;
                    int n = await client.ReceiveAsync(heads.Array, stop).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return (false, pos, bytes);
                    }

                    _filled = n;
                }

                int take;
                if (head.IsChunked)
                {
                    HttpBodyStatus status = chunked.Advance(heads.Array.AsSpan(pos, _filled - pos), out take);
                    if (status == HttpBodyStatus.Malformed)
                    {
                        return (false, pos, bytes);
                    }

                    if (status == HttpBodyStatus.Complete)
                    {
                        remaining = take;
                    }
                }
                else
                {
                    take = (int)Math.Min(remaining, _filled - pos);
                }

                await server.SendAsync(heads.Array.AsMemory(pos, take), stop).ConfigureAwait(false);
                pos += take;
                bytes += take;
                remaining -= take;
            }

            return (true, pos, bytes);
        }

        /// <summary>Stops forwarding, lets the server finish what it was sent (bounded), then answers the refused request with a 403.</summary>
        private async Task DenyLaterAsync(string? method, string? deniedHost, string? path, string reason)
        {
            _keepClientOpen = true;
            await server.ShutdownSendAsync().ConfigureAwait(false);
            using var drained = new CancellationTokenSource(s_drain);
            try
            {
                await _serverDone.Task.WaitAsync(drained.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The server kept the connection open past the bound: the 403 goes out regardless.
            }

            await proxy.RefuseAsync(client, destination, protocol, method, deniedHost, path, reason).ConfigureAwait(false);
        }

        /// <summary>Server to command, copied as it comes; the first bytes after an Upgrade or CONNECT say whether the protocol switched.</summary>
        private async Task DownAsync()
        {
            using var buffer = new IdleBuffer(RelayBufferSize);
            try
            {
                while (true)
                {
                    // As CopyAsync: the buffer is held while responses stream, given back when the server goes quiet.
                    int n = await buffer.ReceiveAsync(server, proxy._stop.Token).ConfigureAwait(false);
                    byte[] down = buffer.Array;
                    if (n == 0)
                    {
                        break;
                    }

                    if (_switchAnswer is TaskCompletionSource<bool> answer)
                    {
                        _switchAnswer = null;
                        ReadOnlySpan<byte> status = down.AsSpan(0, n);
                        bool switched = _expectConnect
                            ? status.Length >= 10 && (status.StartsWith("HTTP/1.1 2"u8) || status.StartsWith("HTTP/1.0 2"u8))
                            : status.StartsWith("HTTP/1.1 101"u8);
                        await client.SendAsync(down.AsMemory(0, n), proxy._stop.Token).ConfigureAwait(false);
                        _received += n;
                        answer.TrySetResult(switched);
                        continue;
                    }

                    await client.SendAsync(down.AsMemory(0, n), proxy._stop.Token).ConfigureAwait(false);
                    _received += n;
                    buffer.ReleaseIfDrained(n);
                }

                if (!_keepClientOpen)
                {
                    await client.ShutdownSendAsync().ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                _switchAnswer?.TrySetResult(false);
                _serverDone.TrySetResult();
            }
        }
    }
    private enum HeadRead
    {
        Ok,
        Closed,
        Malformed,
        TooLong,
    }

    /// <summary>
    /// Reads one request head from <paramref name="from"/> into <paramref name="buffer"/> (which holds
    /// <paramref name="filled"/> bytes already): the one loop for the first request inside TLS and every kept-alive one.
    /// </summary>
    private static async Task<(HeadRead Read, HttpRequestHead Head, int Filled, string? Failure)> ReadHeadAsync(ProxySide from, byte[] buffer, int filled, CancellationToken cancellationToken)
    {
        HttpRequestHead head;
        while (!HttpRequestHead.TryRead(buffer.AsSpan(0, filled), out head, out HttpHeadStatus status, out HttpHeadError error))
        {
            if (status == HttpHeadStatus.Malformed)
            {
                return (HeadRead.Malformed, head, filled, $"malformed request ({error})");
            }

            if (filled == buffer.Length)
            {
                return (HeadRead.TooLong, head, filled, $"a request head longer than {MaxFirstBytes / 1024} KiB");
            }

            int n = await from.ReceiveAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return (HeadRead.Closed, head, filled, filled == 0 ? null : $"closed after {filled} bytes of a request head");
            }

            filled += n;
        }

        return (HeadRead.Ok, head, filled, null);
    }

    private static string HostDiffersFromSni(string? host, string sni) => $"host {host ?? "(none)"} differs from SNI {sni}";
}
