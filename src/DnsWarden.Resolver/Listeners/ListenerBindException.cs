using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Resolver.Listeners;

/// <summary>A listener could not bind or listen: says which address and protocol, as "udp 127.0.0.1:53: Address already in use".</summary>
public sealed class ListenerBindException : Exception
{
    public ListenerBindException()
    {
    }

    public ListenerBindException(string message)
        : base(message)
    {
    }

    public ListenerBindException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ListenerBindException(string protocol, IPEndPoint endpoint, SocketException inner)
        : base($"{protocol} {endpoint}: {inner?.Message}", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Protocol = protocol;
        Endpoint = endpoint;
        SocketError = inner.SocketErrorCode;
    }

    public string Protocol { get; } = "";

    public IPEndPoint? Endpoint { get; }

    public SocketError SocketError { get; }
}
