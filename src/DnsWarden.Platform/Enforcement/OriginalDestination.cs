using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Where a connection that nftables redirected to a local listener was going: the conntrack entry's original
/// destination, read with SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) on the accepted socket.
/// </summary>
[SupportedOSPlatform("linux")]
public static class OriginalDestination
{
    /// <summary>False when the connection was not redirected (no NAT entry) or the socket is not TCP over IP.</summary>
    public static unsafe bool TryGet(Socket accepted, out IPEndPoint? destination)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        destination = null;
        bool v6 = accepted.AddressFamily == AddressFamily.InterNetworkV6;
        // struct sockaddr_in (16 bytes) or sockaddr_in6 (28): family, port (network order), then the address.
        byte* buffer = stackalloc byte[28];
        uint length = v6 ? 28u : 16u;
        int fd = (int)accepted.SafeHandle.DangerousGetHandle();
        if (LibC.GetSockOpt(fd, v6 ? LibC.SolIpv6 : LibC.SolIp, LibC.SoOriginalDst, buffer, &length) != 0)
        {
            return false;
        }

        var bytes = new ReadOnlySpan<byte>(buffer, (int)length);
        int port = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        IPAddress address = v6 ? new IPAddress(bytes.Slice(8, 16)) : new IPAddress(bytes.Slice(4, 4));
        if (v6 && address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        destination = new IPEndPoint(address, port);
        return true;
    }
}
