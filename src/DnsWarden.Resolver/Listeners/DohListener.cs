using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace DnsWarden.Resolver.Listeners;

/// <summary>
/// DNS over HTTPS (RFC 8484) for browsers and phones: GET with <c>?dns=</c> (base64url, no padding) and POST with an
/// <c>application/dns-message</c> body, on <see cref="Path"/>, over HTTP/2 and HTTP/1.1 with TLS. Kestrel serves
/// HTTP (the maintained server that runs in the native build); this class only maps a request to the engine. The
/// answer's Cache-Control max-age is its smallest TTL (RFC 8484 §5.1). Clients outside the allow list get 403.
/// </summary>
public sealed class DohListener : IAsyncDisposable
{
    /// <summary>The path RFC 8484's examples use and clients default to.</summary>
    public const string Path = "/dns-query";

    private const string MediaType = "application/dns-message";

    private readonly WebApplication _app;
    private readonly DnsEngine _engine;
    private readonly ClientAllowList? _allow;
    private readonly InFlightLimit _forwards;

    public DohListener(DnsEngine engine, IPEndPoint endpoint, X509Certificate2 certificate, int maxConnections, TimeSpan idleTimeout, ListenerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(certificate);
        ListenerAddress.EnsureSpecific(endpoint);
        options ??= ListenerOptions.Default;
        _engine = engine;
        _allow = options.AllowList;
        _forwards = new InFlightLimit(options.MaxForwardsInFlight);

        // The empty builder: no configuration sources (ASPNETCORE_URLS and the like must not add listeners), no logs, and
        // no appsettings.json watched for changes — the slim builder's watcher on the content root ("/") walked the
        // whole file system, /proc included, before Kestrel listened: 4 s on an idle machine, past 10 s on a busy one.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ContentRootPath = "/", EnvironmentName = "Production" });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxConcurrentConnections = maxConnections;
            k.Limits.MaxRequestBodySize = DnsEngine.MaxMessageSize;
            k.Limits.KeepAliveTimeout = idleTimeout;
            k.Limits.RequestHeadersTimeout = idleTimeout;
            k.Listen(endpoint, l =>
            {
                l.Protocols = HttpProtocols.Http1AndHttp2;
                l.UseHttps(certificate);
            });
        });
        _app = builder.Build();
        _app.Run(ServeAsync);
        try
        {
            _app.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new ListenerBindException($"https {endpoint}: {e.Message}", e);
        }

        LocalEndPoint = endpoint;
    }

    public IPEndPoint LocalEndPoint { get; }

    private async Task ServeAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        IPAddress? remote = context.Connection.RemoteIpAddress;
        if (_allow is not null && (remote is null || !_allow.IsAllowed(IpAddr.FromIPAddress(remote))))
        {
            _engine.Metrics.Increment(ListenerProtocol.Https, QueryOutcome.ClientRefused);
            response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        if (!string.Equals(context.Request.Path.Value, Path, StringComparison.Ordinal))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        byte[] query = ArrayPool<byte>.Shared.Rent(DnsEngine.MaxMessageSize);
        byte[] answer = ArrayPool<byte>.Shared.Rent(DnsEngine.MaxMessageSize);
        try
        {
            (int length, int status) = HttpMethods.IsGet(context.Request.Method) ? ReadGet(context.Request, query)
                : HttpMethods.IsPost(context.Request.Method) ? await ReadPostAsync(context.Request, query, context.RequestAborted).ConfigureAwait(false)
                : (0, StatusCodes.Status405MethodNotAllowed);
            if (status != StatusCodes.Status200OK)
            {
                response.StatusCode = status;
                return;
            }

            EndPoint? client = _engine.WantsClientAddress && remote is not null ? new IPEndPoint(remote, context.Connection.RemotePort) : null;
            int n = await _engine.HandleAsync(query.AsMemory(0, length), answer.AsMemory(0, DnsEngine.MaxMessageSize), ListenerProtocol.Https, client, _forwards, context.RequestAborted).ConfigureAwait(false);
            if (n == 0)
            {
                response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = MediaType;
            response.ContentLength = n;
            response.Headers.CacheControl = "max-age=" + MinTtl(answer.AsSpan(0, n)).ToString(CultureInfo.InvariantCulture);
            await response.Body.WriteAsync(answer.AsMemory(0, n), context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(answer);
        }
    }

    /// <summary>GET: the query is <c>?dns=</c> in base64url without padding (RFC 8484 §4.1, §6).</summary>
    private static (int Length, int Status) ReadGet(HttpRequest request, byte[] query)
    {
        string? dns = request.Query["dns"];
        if (string.IsNullOrEmpty(dns) || dns.Length > (DnsEngine.MaxMessageSize * 4 / 3) + 4)
        {
            return (0, StatusCodes.Status400BadRequest);
        }

        Span<char> padded = new char[dns.Length + 3];
        int p = 0;
        foreach (char c in dns)
        {
            padded[p++] = c switch
            {
                '-' => '+',
                '_' => '/',
                _ => c,
            };
        }

        while (p % 4 != 0)
        {
            padded[p++] = '=';
        }

        return Convert.TryFromBase64Chars(padded[..p], query, out int written) && written >= DnsHeader.Length
            ? (written, StatusCodes.Status200OK)
            : (0, StatusCodes.Status400BadRequest);
    }

    /// <summary>POST: the body is the query, <c>application/dns-message</c>, at most 65,535 bytes (RFC 8484 §4.1).</summary>
    private static async Task<(int Length, int Status)> ReadPostAsync(HttpRequest request, byte[] query, CancellationToken cancellationToken)
    {
        if (!string.Equals(request.ContentType, MediaType, StringComparison.OrdinalIgnoreCase))
        {
            return (0, StatusCodes.Status415UnsupportedMediaType);
        }

        int read = 0;
        while (true)
        {
            if (read == DnsEngine.MaxMessageSize)
            {
                return (0, StatusCodes.Status413PayloadTooLarge);
            }

            int n = await request.Body.ReadAsync(query.AsMemory(read, DnsEngine.MaxMessageSize - read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read >= DnsHeader.Length ? (read, StatusCodes.Status200OK) : (0, StatusCodes.Status400BadRequest);
    }

    /// <summary>The smallest TTL of the answer's records other than OPT; 0 when it has none (RFC 8484 §5.1).</summary>
    private static uint MinTtl(ReadOnlySpan<byte> message)
    {
        uint min = uint.MaxValue;
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type != DnsType.OPT)
            {
                min = Math.Min(min, r.Ttl);
            }
        }

        return min == uint.MaxValue ? 0 : min;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
