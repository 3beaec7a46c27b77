using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// DNS over HTTPS (RFC 8484): each query a GET with the message in the dns= parameter, ID 0 on the wire (§4.1, so
/// replies cache well), all of them multiplexed on one HTTP/2 connection. The connection goes to <see cref="UpstreamConfig.ConnectAddress"/>
/// through a connect callback, so the host name is never looked up; it is only the authority and the TLS name.
/// </summary>
public sealed class HttpsUpstream : IDnsUpstream
{
    /// <summary>RFC 8484 §6: the media type of both request and response bodies.</summary>
    public const string DnsMessageMediaType = "application/dns-message";

    /// <summary>How long an unused HTTP/2 connection is kept open.</summary>
    public static readonly TimeSpan ConnectionIdleTimeout = TimeSpan.FromMinutes(3);

    /// <summary>RFC 9113 §7: REFUSED_STREAM.</summary>
    private const long RefusedStreamErrorCode = 0x7;

    private const int MaxRefusedStreamRetries = 5;

    // GET, not POST: a GET is one HEADERS frame that ends the stream. A POST's body is a DATA frame, and .NET ends the
    // stream with a second, empty one; knot-resolver 5.6 resets its request buffer between two reads, so when the two
    // frames arrive in different reads it answers 400 (seen for about one query in ten on a fresh connection, and for
    // most of a concurrent burst). A DNS query is small (one question and a few EDNS options), so its URI is too.

    private readonly HttpClient _client;
    private readonly Uri _uri;
    private readonly IPEndPoint _endPoint;
    private readonly TimeSpan _timeout;
    private readonly TlsVerifier _verifier;
    private long _connectionsOpened;

    public HttpsUpstream(UpstreamConfig config, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        _endPoint = new IPEndPoint(
            config.ConnectAddress ?? throw new ArgumentException($"upstream '{config.Url}' has no address to connect to", nameof(config)),
            config.Port);
        _timeout = timeout;
        _verifier = new TlsVerifier(config);

        // The handler sends the URI's host as SNI and checks the certificate against it whatever SslOptions say, so
        // the TLS name is the URI's host (and thereby the HTTP authority too).
        string tlsName = config.TlsName;
        string host = IPAddress.TryParse(tlsName, out IPAddress? literal) && literal.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + tlsName + "]"
            : tlsName;
        _uri = new Uri($"https://{host}:{config.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}{config.Path}");

        var handler = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            SslOptions = _verifier.CreateOptions(config.TlsName, [SslApplicationProtocol.Http2]),
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = ConnectionIdleTimeout,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = timeout,
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public UpstreamConfig Config { get; }

    public UpstreamStats Stats { get; } = new();

    /// <summary>Connections the HTTP handler opened (one for any number of queries while HTTP/2 reuse works).</summary>
    public long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

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
        byte[] wire = ArrayPool<byte>.Shared.Rent(query.Length);
        try
        {
            query.Span.CopyTo(wire);
            DnsExchange.WriteId(wire, 0);
            using HttpResponseMessage answer = await SendAsync(wire.AsMemory(0, query.Length), timeout.Token).ConfigureAwait(false);
            MediaTypeHeaderValue? type = answer.Content.Headers.ContentType;
            if (answer.StatusCode != HttpStatusCode.OK
                || !string.Equals(type?.MediaType, DnsMessageMediaType, StringComparison.OrdinalIgnoreCase))
            {
                return UpstreamReply.Fail(UpstreamError.HttpError);
            }

            if (answer.Content.Headers.ContentLength is long declared && declared > response.Length)
            {
                return UpstreamReply.Fail(UpstreamError.TooLarge);
            }

            Stream body = await answer.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                int length = 0;
                while (true)
                {
                    if (length == response.Length)
                    {
                        // Full buffer: any further byte means the reply does not fit.
                        int extra = await body.ReadAsync(wire.AsMemory(0, 1), timeout.Token).ConfigureAwait(false);
                        if (extra != 0)
                        {
                            return UpstreamReply.Fail(UpstreamError.TooLarge);
                        }

                        break;
                    }

                    int read = await body.ReadAsync(response.Slice(length), timeout.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    length += read;
                }

                return Accept(query.Span, response.Span.Slice(0, length));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return UpstreamReply.Fail(MapException(ex, cancellationToken, timeout.IsCancellationRequested));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(wire);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, GetUri(body.Span))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.TryAddWithoutValidation("Accept", DnsMessageMediaType);
            try
            {
                return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (attempt < MaxRefusedStreamRetries && IsRefusedStream(ex))
            {
                // RFC 9113 §8.7: a refused stream was not processed and is safe to send again. Servers refuse streams
                // over their concurrency limit, which a burst can pass before their SETTINGS frame arrives.
                await Task.Delay(TimeSpan.FromMilliseconds(5 << attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>RFC 8484 §4.1: the message in base64url without padding as the dns parameter.</summary>
    private Uri GetUri(ReadOnlySpan<byte> message)
    {
        string separator = string.IsNullOrEmpty(_uri.Query) ? "?" : "&";
        return new Uri(_uri.AbsoluteUri + separator + "dns=" + System.Buffers.Text.Base64Url.EncodeToString(message));
    }

    private static bool IsRefusedStream(HttpRequestException exception) =>
        exception.InnerException is HttpProtocolException { ErrorCode: RefusedStreamErrorCode };

    private static UpstreamReply Accept(ReadOnlySpan<byte> query, Span<byte> reply)
    {
        // The reply must echo the ID 0 we sent and the question we asked (RFC 8484 §4.1, RFC 5452 §9.1).
        if (!DnsExchange.IsQuery(reply) || DnsExchange.ReadId(reply) != 0 || !DnsExchange.AnswersQuestion(query, reply))
        {
            return UpstreamReply.Fail(UpstreamError.BadResponse);
        }

        DnsExchange.WriteId(reply, DnsExchange.ReadId(query));
        return UpstreamReply.Success(reply.Length);
    }

    private UpstreamError MapException(Exception exception, CancellationToken caller, bool timedOut)
    {
        if (exception is OperationCanceledException)
        {
            return caller.IsCancellationRequested || !timedOut ? UpstreamError.Canceled : UpstreamError.Timeout;
        }

        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AuthenticationException:
                    UpstreamError why = _verifier.LastFailure;
                    return why == UpstreamError.None ? UpstreamError.TlsFailure : why;
                case SocketException s:
                    return DnsExchange.FromSocketError(s.SocketErrorCode);
                case HttpRequestException { HttpRequestError: HttpRequestError.VersionNegotiationError }:
                    return UpstreamError.HttpError;
                default:
                    break;
            }
        }

        return UpstreamError.NetworkError;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        // Whatever the request's authority, the connection goes to the configured address: no name lookup, ever.
        Interlocked.Increment(ref _connectionsOpened);
        _verifier.ResetFailure();
        var socket = new Socket(_endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
