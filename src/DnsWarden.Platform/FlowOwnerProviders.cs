using System.Net;

namespace DnsWarden.Platform;

/// <summary>The socket-owner provider for the running OS.</summary>
public static class FlowOwnerProviders
{
    /// <summary>
    /// Linux: <see cref="SockDiagOwnerProvider"/> (which falls back to /proc/net per lookup);
    /// Windows: <see cref="IpHelperOwnerProvider"/>; elsewhere a provider that answers None.
    /// </summary>
    public static IFlowOwnerProvider CreateDefault()
    {
        if (OperatingSystem.IsLinux())
        {
            return new SockDiagOwnerProvider();
        }

        if (OperatingSystem.IsWindows())
        {
            return new IpHelperOwnerProvider();
        }

        return new UnsupportedOwnerProvider();
    }
}

/// <summary>Answers None on an OS without a socket-owner source.</summary>
public sealed class UnsupportedOwnerProvider : IFlowOwnerProvider
{
    private static readonly OwnerLookup s_answer = OwnerLookup.Unknown(OwnerReasons.NotSupported);

    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort) => s_answer;

    public void Dispose()
    {
    }
}
