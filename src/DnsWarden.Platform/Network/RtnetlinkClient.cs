using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux.Rtnetlink;

namespace DnsWarden.Platform.Network;

/// <summary>
/// Reads the network state of the calling thread's namespace over an AF_NETLINK/NETLINK_ROUTE socket: one dump each
/// of links, addresses, IPv4 and IPv6 routes (every table: rtm_table 0 asks for all) and IPv4 and IPv6 rules.
/// </summary>
[SupportedOSPlatform("linux")]
public static class RtnetlinkClient
{
    /// <summary>A dump datagram is at most NLMSG_GOODSIZE (a page, 8 KiB cap) but the kernel may use up to 32 KiB; 64 KiB is safe.</summary>
    private const int ReceiveBufferLength = 64 * 1024;

    /// <summary>A dump is answered at once; a kernel that says nothing for this long will not.</summary>
    private const int ReceiveTimeoutSeconds = 5;

    private const byte AfUnspec = 0;
    private const byte AfInet = 2;
    private const byte AfInet6 = 10;
    private const int Eintr = 4;

    /// <summary>Dumps everything; false with one line of explanation when the socket or a dump fails.</summary>
    public static bool TryReadState(out NetworkState? state, out string? error)
    {
        state = null;
        int fd = NetlinkInterop.Socket(NetlinkInterop.AfNetlink, NetlinkInterop.SockRaw | NetlinkInterop.SockCloexec, NetlinkInterop.NetlinkRoute);
        if (fd < 0)
        {
            error = "cannot open a netlink socket: " + Errno(Marshal.GetLastPInvokeError());
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferLength);
        try
        {
            SetTimeout(fd);
            var links = new List<LinkInfo>();
            var addresses = new List<AddressInfo>();
            var routes = new List<RouteInfo>();
            var rules = new List<RuleInfo>();
            uint seq = 1;
            bool ok = Dump(fd, buffer, RtnetlinkParser.RtmGetLink, seq++, AfUnspec, RtnetlinkParser.IfInfoLength, RtnetlinkParser.RtmNewLink, links, RtnetlinkParser.TryReadLink, out error)
                && Dump(fd, buffer, RtnetlinkParser.RtmGetAddr, seq++, AfUnspec, RtnetlinkParser.IfAddrLength, RtnetlinkParser.RtmNewAddr, addresses, RtnetlinkParser.TryReadAddress, out error)
                && Dump(fd, buffer, RtnetlinkParser.RtmGetRoute, seq++, AfInet, RtnetlinkParser.RtMsgLength, RtnetlinkParser.RtmNewRoute, routes, RtnetlinkParser.TryReadRoute, out error)
                && Dump(fd, buffer, RtnetlinkParser.RtmGetRoute, seq++, AfInet6, RtnetlinkParser.RtMsgLength, RtnetlinkParser.RtmNewRoute, routes, RtnetlinkParser.TryReadRoute, out error)
                && Dump(fd, buffer, RtnetlinkParser.RtmGetRule, seq++, AfInet, RtnetlinkParser.FibRuleHeaderLength, RtnetlinkParser.RtmNewRule, rules, RtnetlinkParser.TryReadRule, out error)
                && Dump(fd, buffer, RtnetlinkParser.RtmGetRule, seq++, AfInet6, RtnetlinkParser.FibRuleHeaderLength, RtnetlinkParser.RtmNewRule, rules, RtnetlinkParser.TryReadRule, out error);
            if (!ok)
            {
                return false;
            }

            state = new NetworkState(links, addresses, routes, rules);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _ = NetlinkInterop.Close(fd);
        }
    }

    private delegate bool PayloadReader<T>(ReadOnlySpan<byte> payload, out T? value, out RtnetlinkError error)
        where T : class;

    private static unsafe void SetTimeout(int fd)
    {
        var tv = new NetlinkInterop.TimeVal { Seconds = ReceiveTimeoutSeconds };
        _ = NetlinkInterop.SetSockOpt(fd, NetlinkInterop.SolSocket, NetlinkInterop.SoRcvtimeo, &tv, (uint)sizeof(NetlinkInterop.TimeVal));
    }

    private static unsafe bool Dump<T>(
        int fd, byte[] buffer, ushort requestType, uint seq, byte family, int bodyLength, ushort replyType, List<T> into, PayloadReader<T> read, out string? error)
        where T : class
    {
        string what = DumpName(requestType, family);
        Span<byte> request = stackalloc byte[RtnetlinkParser.MessageHeaderLength + 16];
        RtnetlinkParser.TryWriteDumpRequest(request, requestType, seq, family, bodyLength, out int requestLength);
        fixed (byte* p = request)
        {
            if (NetlinkInterop.Send(fd, p, (nuint)requestLength, 0) < 0)
            {
                error = $"netlink {what} request failed: {Errno(Marshal.GetLastPInvokeError())}";
                return false;
            }
        }

        while (true)
        {
            nint received;
            fixed (byte* p = buffer)
            {
                do
                {
                    received = NetlinkInterop.Recv(fd, p, (nuint)buffer.Length, 0);
                }
                while (received < 0 && Marshal.GetLastPInvokeError() == Eintr);
            }

            if (received <= 0)
            {
                error = received == 0
                    ? $"netlink {what}: the socket closed before the dump ended"
                    : $"netlink {what}: {Errno(Marshal.GetLastPInvokeError())}";
                return false;
            }

            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, (int)received);
            while (!datagram.IsEmpty)
            {
                if (!RtnetlinkParser.TryReadMessage(datagram, out NetlinkMessage m, out int used, out RtnetlinkError problem))
                {
                    error = $"netlink {what}: malformed reply ({problem})";
                    return false;
                }

                datagram = datagram[used..];
                if (m.Sequence != seq)
                {
                    // Left over from an earlier request on this socket, or a notification: not ours.
                    continue;
                }

                if (m.Type == RtnetlinkParser.NlmsgDone)
                {
                    error = null;
                    return true;
                }

                if (m.Type == RtnetlinkParser.NlmsgError)
                {
                    RtnetlinkParser.TryReadError(m.Payload, out int errno);
                    if (errno == 0)
                    {
                        continue;
                    }

                    error = $"netlink {what}: kernel answered {Errno(errno)}";
                    return false;
                }

                if (m.Type != replyType)
                {
                    continue;
                }

                if (read(m.Payload, out T? value, out problem))
                {
                    into.Add(value!);
                }
                else if (problem != RtnetlinkError.UnexpectedType)
                {
                    error = $"netlink {what}: malformed message ({problem})";
                    return false;
                }
            }
        }
    }

    private static string DumpName(ushort type, byte family)
    {
        string noun = type switch
        {
            RtnetlinkParser.RtmGetLink => "link",
            RtnetlinkParser.RtmGetAddr => "address",
            RtnetlinkParser.RtmGetRoute => "route",
            RtnetlinkParser.RtmGetRule => "rule",
            _ => type.ToString(CultureInfo.InvariantCulture),
        };
        return family switch
        {
            AfInet => "IPv4 " + noun,
            AfInet6 => "IPv6 " + noun,
            _ => noun,
        } + " dump";
    }

    private static string Errno(int errno) => Marshal.GetPInvokeErrorMessage(errno) + " (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")";
}
