using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Platform;

/// <summary>
/// One socket as an OS table lists it. <see cref="Owner"/> is the socket inode on Linux and the pid on Windows;
/// <see cref="Uid"/> is -1 where the table has none.
/// </summary>
internal readonly record struct SocketEntry(IPAddress LocalAddress, ushort LocalPort, IPAddress RemoteAddress, ushort RemotePort, ulong Owner, int Uid)
{
    public bool IsConnected => RemotePort != 0;
}

/// <summary>Which socket of a table a flow belongs to.</summary>
internal readonly record struct SocketMatch(int Index, OwnerConfidence Confidence, string? Reason)
{
    public static SocketMatch None => new(-1, OwnerConfidence.None, OwnerReasons.SocketGone);

    public bool Found => Index >= 0;
}

/// <summary>Flow → socket matching shared by the Linux /proc/net, sock_diag UDP dump and Windows table sources.</summary>
internal static class SocketMatcher
{
    /// <summary>
    /// TCP and connected UDP need the exact 4-tuple (High). An unconnected UDP socket (dig's, most stub resolvers')
    /// matches by local port and local address or wildcard: High when it is the only such socket, Medium otherwise.
    /// </summary>
    public static SocketMatch Match(IReadOnlyList<SocketEntry> entries, SocketProtocol protocol, IPAddress local, ushort localPort, IPAddress remote, ushort remotePort)
    {
        int unconnected = -1;
        int unconnectedCount = 0;
        bool unconnectedExact = false;
        for (int i = 0; i < entries.Count; i++)
        {
            SocketEntry e = entries[i];
            if (e.LocalPort != localPort)
            {
                continue;
            }

            if (e.IsConnected)
            {
                if (e.RemotePort == remotePort && SameAddress(e.LocalAddress, local) && SameAddress(e.RemoteAddress, remote))
                {
                    return new SocketMatch(i, OwnerConfidence.High, null);
                }

                continue;
            }

            if (protocol != SocketProtocol.Udp || !IsUnspecified(e.RemoteAddress))
            {
                continue;
            }

            bool exact = SameAddress(e.LocalAddress, local);
            if (!exact && !AcceptsWildcard(e.LocalAddress, local))
            {
                continue;
            }

            unconnectedCount++;

            // A socket bound to the very address beats one bound to the wildcard, as the kernel's lookup scores it.
            if (unconnected < 0 || (exact && !unconnectedExact))
            {
                unconnected = i;
                unconnectedExact = exact;
            }
        }

        if (unconnected < 0)
        {
            return SocketMatch.None;
        }

        return unconnectedCount == 1
            ? new SocketMatch(unconnected, OwnerConfidence.High, null)
            : new SocketMatch(unconnected, OwnerConfidence.Medium, OwnerReasons.UnconnectedUdp);
    }

    /// <summary>Equal, treating an IPv4-mapped IPv6 address (dual-stack socket) as its IPv4 address.</summary>
    public static bool SameAddress(IPAddress a, IPAddress b)
    {
        if (a.IsIPv4MappedToIPv6)
        {
            a = a.MapToIPv4();
        }

        if (b.IsIPv4MappedToIPv6)
        {
            b = b.MapToIPv4();
        }

        return a.Equals(b);
    }

    public static bool IsUnspecified(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) || (a.IsIPv4MappedToIPv6 && a.MapToIPv4().Equals(IPAddress.Any));

    // 0.0.0.0 takes IPv4 only; :: takes both unless IPV6_V6ONLY, which the tables do not show.
    private static bool AcceptsWildcard(IPAddress bound, IPAddress local)
    {
        if (bound.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        return IsUnspecified(bound) && (local.AddressFamily == AddressFamily.InterNetwork || local.IsIPv4MappedToIPv6);
    }
}
