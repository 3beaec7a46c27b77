using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Guard.Jail.Interception;
using DnsWarden.Wire.Http;

namespace DnsWarden.Guard.Jail;

public sealed partial class HostProxy
{
    private static readonly List<SslApplicationProtocol> s_h2OrHttp11 = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];

    private static readonly List<SslApplicationProtocol> s_http11 = [SslApplicationProtocol.Http11];

    /// <summary>
    /// <c>--intercept</c> (docs/JAIL.md, "Interception"): a ClientHello whose SNI some rule allows is answered with a
    /// certificate minted for that name, ALPN h2 or http/1.1. Then every request inside is judged like plain HTTP, and
    /// its Host must be the SNI (a request for another host inside the allowed name's TLS is fronting). Only an allowed
    /// first request makes the proxy resolve the name, connect and speak TLS to the real server — validating its
    /// certificate, never skipping that — and the connection then runs as plain HTTP does, over the two TLS streams.
    /// </summary>
    private async Task InterceptAsync(ProxySide client, IPEndPoint destination, IdleBuffer buffer, int filled, string sni, bool offersH2)
    {
        SslStreamCertificateContext? certificate = _interception!.Ca.ContextFor(sni);
        if (certificate is null)
        {
            await RefuseAsync(client, destination, "tls", null, sni, null, "no certificate is minted for a name like this").ConfigureAwait(false);
            return;
        }

        // h2 is offered to the command only when the real server chose h2 too: the proxy carries HTTP/2 frames between
        // the two and translates nothing, so an HTTP/1.1-only server keeps its HTTP/1.1 clients (docs/DECISIONS.md).
        H2Upstream? h2 = offersH2 ? await ConnectH2Async(destination, sni).ConfigureAwait(false) : null;
        try
        {
            await InterceptAsync(client, destination, buffer, filled, sni, certificate, h2).ConfigureAwait(false);
        }
        finally
        {
            if (h2 is not null)
            {
                await h2.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task InterceptAsync(ProxySide client, IPEndPoint destination, IdleBuffer buffer, int filled, string sni, SslStreamCertificateContext certificate, H2Upstream? h2)
    {
        var replay = new ReplayStream(client.Socket, buffer.Array, filled);
        using var tls = new SslStream(replay, leaveInnerStreamOpen: true);
        using var firstRequest = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        firstRequest.CancelAfter(_firstBytesTimeout);
        try
        {
            await tls.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = certificate,

                    // h2 first, as servers prefer it: each HTTP/2 request is judged by the same rules (HostProxy.Http2.cs).
                    ApplicationProtocols = h2 is null ? s_http11 : s_h2OrHttp11,
                    ClientCertificateRequired = false,
                },
                firstRequest.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException && !_stop.IsCancellationRequested)
        {
            string why = e is OperationCanceledException ? $"no TLS handshake within {_firstBytesTimeout.TotalSeconds:0} s" : "the command's TLS handshake failed (does it trust the jail's CA?): " + OneLine(e);
            await RefuseAsync(client, destination, "https", null, sni, null, why, answer: false).ConfigureAwait(false);
            return;
        }

        if (!replay.PrefixConsumed)
        {
            await RefuseAsync(client, destination, "https", null, sni, null, "bytes after the ClientHello before the handshake ended (early data)", answer: false).ConfigureAwait(false);
            return;
        }

        var inner = new ProxySide(client.Socket, tls);
        if (h2 is not null && tls.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2)
        {
            // HTTP/2 reads into frame buffers of its own.
            buffer.Release();
            await Http2Async(inner, destination, sni, h2, firstRequest.Token).ConfigureAwait(false);
            return;
        }

        HeadRead read;
        HttpRequestHead head;
        string? failure;
        try
        {
            (read, head, filled, failure) = await ReadHeadAsync(inner, buffer.Array, 0, firstRequest.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            await RefuseAsync(inner, destination, "https", null, sni, null, $"no request within {_firstBytesTimeout.TotalSeconds:0} s of the TLS handshake").ConfigureAwait(false);
            return;
        }

        if (read != HeadRead.Ok)
        {
            if (failure is not null)
            {
                await RefuseAsync(inner, destination, "https", null, sni, null, failure).ConfigureAwait(false);
            }

            return;
        }

        Verdict verdict = InsideSni(JudgeHead(buffer.Array.AsSpan(0, filled), head, "https"), sni);
        if (verdict.Kind != VerdictKind.Allow)
        {
            await RefuseAsync(inner, destination, "https", verdict.Method, verdict.Host, verdict.Path, verdict.Reason!).ConfigureAwait(false);
            return;
        }

        await ForwardInterceptedAsync(inner, destination, buffer, filled, head, verdict).ConfigureAwait(false);
    }

    /// <summary>Resolves the SNI, connects, speaks TLS to the real server (its certificate checked) and carries the requests.</summary>
    private async Task ForwardInterceptedAsync(ProxySide client, IPEndPoint destination, IdleBuffer buffer, int filled, HttpRequestHead head, Verdict verdict)
    {
        string host = verdict.Host!;
        IPAddress? address = await ResolveAsync(host).ConfigureAwait(false);
        if (address is null)
        {
            await RefuseAsync(client, destination, "https", verdict.Method, host, verdict.Path, $"{host} does not resolve through the upstreams", allowedByRule: verdict.Rule).ConfigureAwait(false);
            return;
        }

        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? upstreamTls = null;
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connect.CancelAfter(_firstBytesTimeout);
            await socket.ConnectAsync(new IPEndPoint(address, destination.Port), connect.Token).ConfigureAwait(false);

            // A NetworkStream takes only a connected socket.
            upstreamTls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            await upstreamTls.AuthenticateAsClientAsync(UpstreamOptions(host, SslApplicationProtocol.Http11), connect.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or AuthenticationException or IOException or OperationCanceledException && !_stop.IsCancellationRequested)
        {
            string why = e is AuthenticationException
                ? $"the server for {host} ({address}:{destination.Port}) failed TLS validation: {OneLine(e)}"
                : $"cannot connect to {host} ({address}:{destination.Port})";
            await RefuseAsync(client, destination, "https", verdict.Method, host, verdict.Path, why, allowedByRule: verdict.Rule).ConfigureAwait(false);
            if (upstreamTls is not null)
            {
                await upstreamTls.DisposeAsync().ConfigureAwait(false);
            }

            return;
        }

        await using SslStream upstream = upstreamTls;
        Interlocked.Increment(ref _allowedCount);
        var request = new ProxyRequest
        {
            Time = DateTimeOffset.UtcNow,
            Allowed = true,
            Rule = verdict.Rule,
            Protocol = "https",
            Method = verdict.Method,
            Host = host,
            Path = verdict.Path,
            Destination = destination,
            Upstream = address,
        };
        await new HttpConnection(this, client, new ProxySide(socket, upstream), destination, address, host, buffer, filled, "https").RunAsync(head, request).ConfigureAwait(false);
    }

    /// <summary>
    /// TLS to the real server: the name is the SNI, ALPN the one protocol the command chose, the chain checked against the system's roots — or,
    /// with <c>--upstream-ca</c>, against those plus the given ones. Revocation is not fetched (the proxy makes no
    /// connection the rules did not allow).
    /// </summary>
    private SslClientAuthenticationOptions UpstreamOptions(string host, SslApplicationProtocol protocol)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            ApplicationProtocols = [protocol],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (_interception!.UpstreamRoots is X509Certificate2Collection roots)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
        }

        return options;
    }

    private static string OneLine(Exception e)
    {
        string text = e.InnerException is { } inner ? e.Message + " " + inner.Message : e.Message;
        return text.ReplaceLineEndings(" ");
    }
}
