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

        return OperatingSystem.IsWindows() ? new IpHelperOwnerProvider() : new UnsupportedOwnerProvider();
    }

    /// <summary>
    /// As <see cref="CreateDefault()"/>, but on Linux a <see cref="SendTimeOwnerProvider"/>: with <paramref name="useBpf"/>
    /// the kernel's send-time records first and sock_diag for what they do not cover; without, sock_diag alone, and
    /// every answer that is not high says that send-time attribution was off.
    /// </summary>
    public static IFlowOwnerProvider CreateDefault(bool useBpf)
    {
        if (OperatingSystem.IsLinux())
        {
            return SendTimeOwnerProvider.Create(useBpf);
        }

        return CreateDefault();
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
