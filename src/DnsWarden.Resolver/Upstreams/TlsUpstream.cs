using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using DnsWarden.Policy;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// DNS over TLS (RFC 7858): the TCP framing and pipelining over an <see cref="SslStream"/> whose SNI and verified
/// name are <see cref="UpstreamConfig.TlsName"/>. ALPN is not sent: "dot" is optional (RFC 7858 has none) and some
/// servers refuse a handshake naming a protocol they do not know.
/// </summary>
public sealed class TlsUpstream : StreamUpstream
{
    private readonly TlsVerifier _verifier;

    public TlsUpstream(UpstreamConfig config, TimeSpan timeout, TimeSpan idleTimeout)
        : base(config, timeout, idleTimeout)
    {
        _verifier = new TlsVerifier(config);
    }

    public TlsUpstream(UpstreamConfig config, TimeSpan timeout)
        : this(config, timeout, ProxyConfig.DefaultTcpIdleTimeout)
    {
    }

    private protected override async ValueTask<Stream> ConnectStreamAsync(CancellationToken cancellationToken)
    {
        Socket socket = await ConnectSocketAsync(cancellationToken).ConfigureAwait(false);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            _verifier.ResetFailure();
            await tls.AuthenticateAsClientAsync(_verifier.CreateOptions(Config.TlsName, null), cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (AuthenticationException ex)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            UpstreamError why = _verifier.LastFailure;
            throw new UpstreamException(why == UpstreamError.None ? UpstreamError.TlsFailure : why, ex.Message, ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
