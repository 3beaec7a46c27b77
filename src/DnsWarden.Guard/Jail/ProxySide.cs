using System.Net.Security;
using System.Net.Sockets;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// One side of a connection the host proxy carries: the socket itself, or TLS over it when the proxy terminates TLS
/// (<c>--intercept</c>). The relay and the HTTP request loop speak to either through this, so one copy of each serves
/// plain and intercepted connections.
/// </summary>
internal sealed class ProxySide(Socket socket, SslStream? tls = null)
{
    public Socket Socket => socket;

    public bool IsTls => tls is not null;

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        tls is null ? socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) : tls.ReadAsync(buffer, cancellationToken);

    /// <summary>
    /// Completes when something can be read (data, or the end), holding no buffer meanwhile: a zero-byte read, which
    /// both the socket and TLS support as a wait (TLS then also frees its own buffer while idle).
    /// </summary>
    public async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        _ = tls is null
            ? await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false)
            : await tls.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends all of <paramref name="buffer"/> (a stream socket's SendAsync completes only when all is sent).</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (tls is null)
        {
            await socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await tls.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Ends this direction: TLS close_notify first when there is TLS, then the TCP half-close.</summary>
    public async ValueTask ShutdownSendAsync()
    {
        if (tls is not null)
        {
            try
            {
                await tls.ShutdownAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
                // The peer is gone or a write is still pending: the TCP half-close below says it anyway.
            }
        }

        socket.Shutdown(SocketShutdown.Send);
    }
}
