using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux.Rtnetlink;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Changes links, addresses, routes and FIB rules over an AF_NETLINK/NETLINK_ROUTE socket, in-process, the way
/// <c>ip link/addr/route/rule</c> do (include/uapi/linux/rtnetlink.h, if_link.h, if_addr.h, fib_rules.h, veth.h).
/// The socket belongs to the network namespace of the thread that opens it (open it inside
/// <see cref="NetworkNamespace.RunAsync{T}"/> to work in another one) and keeps
/// working there from any thread. Every request asks for an ack (NLM_F_ACK) and waits for it; a refusal is an
/// <see cref="IOException"/> naming the operation and the kernel's reason. One caller at a time.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkSocket : IDisposable
{
    /// <summary>IFNAMSIZ is 16 with the NUL (include/uapi/linux/if.h).</summary>
    public const int MaxInterfaceNameLength = 15;

    private const ushort FlagRequest = 0x1;
    private const ushort FlagAck = 0x4;
    private const ushort FlagExclusive = 0x200;
    private const ushort FlagCreate = 0x400;

    private const ushort RtmNewLink = 16;
    private const ushort RtmDelLink = 17;
    private const ushort RtmGetLink = 18;
    private const ushort RtmNewAddr = 20;
    private const ushort RtmDelAddr = 21;
    private const ushort RtmNewRoute = 24;
    private const ushort RtmDelRoute = 25;
    private const ushort RtmNewRule = 32;
    private const ushort RtmDelRule = 33;

    // if_link.h, veth.h.
    private const ushort IflaIfname = 3;
    private const ushort IflaMtu = 4;
    private const ushort IflaLinkinfo = 18;
    private const ushort IflaNetNsFd = 28;
    private const ushort IflaInfoKind = 1;
    private const ushort IflaInfoData = 2;
    private const ushort VethInfoPeer = 1;
    private const uint IffUp = 0x1;

    // if_addr.h.
    private const ushort IfaAddress = 1;
    private const ushort IfaLocal = 2;
    private const ushort IfaFlags = 8;
    private const byte IfaFlagNoDad = 0x02;

    // rtnetlink.h: RTA_*, RTPROT_BOOT (what ip route add uses), RT_SCOPE_*.
    private const ushort RtaDst = 1;
    private const ushort RtaOif = 4;
    private const ushort RtaGateway = 5;
    private const ushort RtaPriority = 6;
    private const ushort RtaPrefsrc = 7;
    private const ushort RtaTable = 15;
    private const byte RtProtocolBoot = 3;
    private const byte ScopeUniverse = 0;
    private const byte ScopeLink = 253;
    private const byte ScopeNowhere = 255;

    // fib_rules.h.
    private const ushort FraPriority = 6;
    private const ushort FraTable = 15;
    private const byte FrActionToTable = 1;

    // netlink.h: SOL_NETLINK options for the kernel's error text (NETLINK_EXT_ACK) without the request echoed (NETLINK_CAP_ACK).
    private const int SolNetlink = 270;
    private const int NetlinkCapAck = 10;
    private const int NetlinkExtAck = 11;

    private const int ENoEnt = 2;
    private const int ESrch = 3;
    private const int EIntr = 4;
    private const int ENoDev = 19;
    private const int EAddrNotAvail = 99;

    private const int RequestBufferLength = 1024;
    private const int ReceiveBufferLength = 32 * 1024;
    private const int ReceiveTimeoutSeconds = 5;

    private readonly byte[] _request = new byte[RequestBufferLength];
    private readonly byte[] _receive = new byte[ReceiveBufferLength];
    private int _fd;
    private uint _sequence;
    private LinkInfo? _replyLink;
    private string? _kernelText;

    private RtnetlinkSocket(int fd) => _fd = fd;

    /// <summary>Opens a socket in the calling thread's network namespace.</summary>
    public static unsafe RtnetlinkSocket Open()
    {
        int fd = NetlinkInterop.Socket(NetlinkInterop.AfNetlink, NetlinkInterop.SockRaw | NetlinkInterop.SockCloexec, NetlinkInterop.NetlinkRoute);
        if (fd < 0)
        {
            throw new IOException("cannot open a netlink route socket: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        var tv = new NetlinkInterop.TimeVal { Seconds = ReceiveTimeoutSeconds };
        _ = NetlinkInterop.SetSockOpt(fd, NetlinkInterop.SolSocket, NetlinkInterop.SoRcvtimeo, &tv, (uint)sizeof(NetlinkInterop.TimeVal));
        int on = 1;
        _ = NetlinkInterop.SetSockOpt(fd, SolNetlink, NetlinkCapAck, &on, sizeof(int));
        _ = NetlinkInterop.SetSockOpt(fd, SolNetlink, NetlinkExtAck, &on, sizeof(int));
        return new RtnetlinkSocket(fd);
    }

    /// <summary>The index of link <paramref name="name"/>, or -1 when there is none.</summary>
    public int GetLinkIndex(string name)
    {
        CheckName(name);
        var w = Start(RtmGetLink, 0);
        w.AppendFixed(RtnetlinkParser.IfInfoLength);
        w.AddString(IflaIfname, name);
        int errno = Exchange(w.Finish());
        if (errno is ENoDev)
        {
            return -1;
        }

        ThrowIfFailed(errno, $"RTM_GETLINK {name}");
        return _replyLink?.Index ?? -1;
    }

    /// <summary>The name of link <paramref name="index"/>, or null when there is none.</summary>
    public string? GetLinkName(int index)
    {
        var w = Start(RtmGetLink, 0);
        WriteIfInfo(w.AppendFixed(RtnetlinkParser.IfInfoLength), index, 0, 0);
        int errno = Exchange(w.Finish());
        if (errno is ENoDev)
        {
            return null;
        }

        ThrowIfFailed(errno, $"RTM_GETLINK #{index.ToString(CultureInfo.InvariantCulture)}");
        return _replyLink?.Name;
    }

    /// <summary><c>ip link add NAME type veth peer name PEER</c>: both ends in this socket's namespace.</summary>
    public void CreateVeth(string name, string peerName) => CreateVeth(name, peerName, -1);

    /// <summary>
    /// <c>ip link add NAME type veth peer name PEER netns NS</c>: the peer is made directly inside the namespace
    /// <paramref name="peerNamespaceFd"/> refers to (<see cref="NetworkNamespace.OpenHandle"/>), so it never shows here.
    /// </summary>
    public void CreateVeth(string name, string peerName, int peerNamespaceFd)
    {
        CheckName(name);
        CheckName(peerName);
        var w = Start(RtmNewLink, FlagCreate | FlagExclusive);
        w.AppendFixed(RtnetlinkParser.IfInfoLength);
        w.AddString(IflaIfname, name);
        int linkInfo = w.BeginNested(IflaLinkinfo);
        w.AddString(IflaInfoKind, "veth");
        int data = w.BeginNested(IflaInfoData);

        // VETH_INFO_PEER carries a whole ifinfomsg and its attributes for the other end (drivers/net/veth.c).
        int peer = w.BeginNested(VethInfoPeer);
        w.AppendFixed(RtnetlinkParser.IfInfoLength);
        w.AddString(IflaIfname, peerName);
        if (peerNamespaceFd >= 0)
        {
            w.AddU32(IflaNetNsFd, (uint)peerNamespaceFd);
        }

        w.EndNested(peer);
        w.EndNested(data);
        w.EndNested(linkInfo);
        ThrowIfFailed(Exchange(w.Finish()), $"RTM_NEWLINK veth {name} peer {peerName}");
    }

    /// <summary>As <see cref="CreateVeth(string, string, int)"/>, with the namespace as an open handle (<see cref="NetworkNamespace.OpenHandle"/>).</summary>
    public void CreateVeth(string name, string peerName, SafeHandle peerNamespace)
    {
        ArgumentNullException.ThrowIfNull(peerNamespace);
        bool held = false;
        try
        {
            peerNamespace.DangerousAddRef(ref held);
            CreateVeth(name, peerName, (int)peerNamespace.DangerousGetHandle());
        }
        finally
        {
            if (held)
            {
                peerNamespace.DangerousRelease();
            }
        }
    }

    /// <summary><c>ip link set dev up</c>.</summary>
    public void SetLinkUp(int index)
    {
        var w = Start(RtmNewLink, 0);
        WriteIfInfo(w.AppendFixed(RtnetlinkParser.IfInfoLength), index, IffUp, IffUp);
        ThrowIfFailed(Exchange(w.Finish()), "RTM_NEWLINK up", index);
    }

    /// <summary><c>ip link set dev mtu MTU</c>.</summary>
    public void SetMtu(int index, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mtu);
        var w = Start(RtmNewLink, 0);
        WriteIfInfo(w.AppendFixed(RtnetlinkParser.IfInfoLength), index, 0, 0);
        w.AddU32(IflaMtu, (uint)mtu);
        ThrowIfFailed(Exchange(w.Finish()), $"RTM_NEWLINK mtu {mtu.ToString(CultureInfo.InvariantCulture)}", index);
    }

    /// <summary><c>ip link del NAME</c> (a veth takes its peer with it); false when there was no such link.</summary>
    public bool DeleteLink(string name)
    {
        CheckName(name);
        var w = Start(RtmDelLink, 0);
        w.AppendFixed(RtnetlinkParser.IfInfoLength);
        w.AddString(IflaIfname, name);
        int errno = Exchange(w.Finish());
        if (errno is ENoDev)
        {
            return false;
        }

        ThrowIfFailed(errno, $"RTM_DELLINK {name}");
        return true;
    }

    /// <summary><c>ip addr add ADDRESS/PREFIX dev</c>, with <c>nodad</c> (IFA_F_NODAD: usable at once, no duplicate detection) for IPv6 when asked.</summary>
    public void AddAddress(int index, IPAddress address, int prefixLength, bool noDad = false)
    {
        int errno = ChangeAddress(RtmNewAddr, FlagCreate | FlagExclusive, index, address, prefixLength, noDad);
        ThrowIfFailed(errno, $"RTM_NEWADDR {address}/{prefixLength.ToString(CultureInfo.InvariantCulture)}", index);
    }

    /// <summary><c>ip addr del ADDRESS/PREFIX dev</c>; false when the link has no such address.</summary>
    public bool DeleteAddress(int index, IPAddress address, int prefixLength)
    {
        int errno = ChangeAddress(RtmDelAddr, 0, index, address, prefixLength, false);
        if (errno is EAddrNotAvail or ENoDev)
        {
            return false;
        }

        ThrowIfFailed(errno, $"RTM_DELADDR {address}/{prefixLength.ToString(CultureInfo.InvariantCulture)}", index);
        return true;
    }

    /// <summary><c>ip route add</c>; an identical route already there is an error (File exists), as with ip.</summary>
    public void AddRoute(RouteSpec route)
    {
        ArgumentNullException.ThrowIfNull(route);
        ThrowIfFailed(ChangeRoute(RtmNewRoute, FlagCreate | FlagExclusive, route), $"RTM_NEWROUTE {Describe(route)}");
    }

    /// <summary><c>ip route del</c>; false when no route matches.</summary>
    public bool DeleteRoute(RouteSpec route)
    {
        ArgumentNullException.ThrowIfNull(route);
        int errno = ChangeRoute(RtmDelRoute, 0, route);
        if (errno is ESrch)
        {
            return false;
        }

        ThrowIfFailed(errno, $"RTM_DELROUTE {Describe(route)}");
        return true;
    }

    /// <summary><c>ip [-6] rule add priority PRIORITY from all lookup TABLE</c>.</summary>
    public void AddRule(AddressFamily family, int priority, int table) =>
        ThrowIfFailed(ChangeRule(RtmNewRule, FlagCreate | FlagExclusive, family, priority, table), "RTM_NEWRULE " + DescribeRule(family, priority, table));

    /// <summary><c>ip [-6] rule del priority PRIORITY from all lookup TABLE</c>; false when no rule matches.</summary>
    public bool DeleteRule(AddressFamily family, int priority, int table)
    {
        int errno = ChangeRule(RtmDelRule, 0, family, priority, table);
        if (errno is ENoEnt)
        {
            return false;
        }

        ThrowIfFailed(errno, "RTM_DELRULE " + DescribeRule(family, priority, table));
        return true;
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = NetlinkInterop.Close(_fd);
            _fd = -1;
        }
    }

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > MaxInterfaceNameLength || name.Contains('/', StringComparison.Ordinal) || name.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' is not an interface name (at most {MaxInterfaceNameLength} characters, no '/' or space)", nameof(name));
        }
    }

    private static byte FamilyByte(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => 2,
        AddressFamily.InterNetworkV6 => 10,
        _ => throw new ArgumentException($"{family} is not IPv4 or IPv6", nameof(family)),
    };

    private static void WriteIfInfo(Span<byte> ifinfo, int index, uint flags, uint change)
    {
        // struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }.
        NetlinkPrimitives.WriteU32(ifinfo[4..], (uint)index);
        NetlinkPrimitives.WriteU32(ifinfo[8..], flags);
        NetlinkPrimitives.WriteU32(ifinfo[12..], change);
    }

    private static void AddAddressAttribute(ref NetlinkRequestWriter w, ushort type, IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int n);
        w.AddBytes(type, bytes[..n]);
    }

    private static void CheckPrefix(AddressFamily family, int prefixLength)
    {
        int max = family == AddressFamily.InterNetwork ? 32 : 128;
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, max);
    }

    private static string DescribeRule(AddressFamily family, int priority, int table) =>
        string.Create(CultureInfo.InvariantCulture, $"{(family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} priority {priority} from all lookup {table}");

    private int ChangeAddress(ushort type, ushort flags, int index, IPAddress address, int prefixLength, bool noDad)
    {
        ArgumentNullException.ThrowIfNull(address);
        CheckPrefix(address.AddressFamily, prefixLength);
        var w = Start(type, flags);

        // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }.
        Span<byte> ifaddr = w.AppendFixed(RtnetlinkParser.IfAddrLength);
        ifaddr[0] = FamilyByte(address.AddressFamily);
        ifaddr[1] = (byte)prefixLength;
        byte addressFlags = noDad && address.AddressFamily == AddressFamily.InterNetworkV6 ? IfaFlagNoDad : (byte)0;
        ifaddr[2] = addressFlags;
        NetlinkPrimitives.WriteU32(ifaddr[4..], (uint)index);

        // As ip does without a peer: IFA_LOCAL and IFA_ADDRESS both the address.
        AddAddressAttribute(ref w, IfaLocal, address);
        AddAddressAttribute(ref w, IfaAddress, address);
        if (addressFlags != 0)
        {
            w.AddU32(IfaFlags, addressFlags);
        }

        return Exchange(w.Finish());
    }

    private int ChangeRoute(ushort type, ushort flags, RouteSpec route)
    {
        byte family = FamilyByte(route.Family);
        int prefixLength = route.IsDefault ? 0 : route.PrefixLength;
        CheckPrefix(route.Family, prefixLength);
        foreach (IPAddress? a in (ReadOnlySpan<IPAddress?>)[route.Destination, route.Gateway, route.Source])
        {
            if (a is not null && a.AddressFamily != route.Family)
            {
                throw new ArgumentException($"{a} is not an {route.Family} address", nameof(route));
            }
        }

        var w = Start(type, flags);

        // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }.
        Span<byte> rtmsg = w.AppendFixed(RtnetlinkParser.RtMsgLength);
        rtmsg[0] = family;
        rtmsg[1] = (byte)prefixLength;
        rtmsg[4] = route.Table is > 0 and < 256 ? (byte)route.Table : (byte)0;
        bool adding = type == RtmNewRoute;
        rtmsg[5] = adding ? RtProtocolBoot : (byte)0;

        // ip's rule: a unicast route with no gateway is on-link (scope link); a delete matches any scope.
        rtmsg[6] = !adding ? ScopeNowhere : route.Kind == RouteKind.Unicast && route.Gateway is null ? ScopeLink : ScopeUniverse;
        rtmsg[7] = (byte)route.Kind;
        w.AddU32(RtaTable, (uint)route.Table);
        if (prefixLength > 0)
        {
            AddAddressAttribute(ref w, RtaDst, route.Destination!);
        }

        if (route.Gateway is not null)
        {
            AddAddressAttribute(ref w, RtaGateway, route.Gateway);
        }

        if (route.OutputInterfaceIndex > 0)
        {
            w.AddU32(RtaOif, (uint)route.OutputInterfaceIndex);
        }

        if (route.Metric > 0)
        {
            w.AddU32(RtaPriority, route.Metric);
        }

        if (route.Source is not null)
        {
            AddAddressAttribute(ref w, RtaPrefsrc, route.Source);
        }

        return Exchange(w.Finish());
    }

    private int ChangeRule(ushort type, ushort flags, AddressFamily family, int priority, int table)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(priority);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(table);
        var w = Start(type, flags);

        // struct fib_rule_hdr { u8 family, dst_len, src_len, tos, table, res1, res2, action; u32 flags; }.
        Span<byte> header = w.AppendFixed(RtnetlinkParser.FibRuleHeaderLength);
        header[0] = FamilyByte(family);
        header[4] = table < 256 ? (byte)table : (byte)0;
        header[7] = FrActionToTable;
        w.AddU32(FraPriority, (uint)priority);
        w.AddU32(FraTable, (uint)table);
        return Exchange(w.Finish());
    }

    private string Describe(RouteSpec route)
    {
        string text = route.ToString();
        if (route.OutputInterfaceIndex > 0 && SafeLinkName(route.OutputInterfaceIndex) is { } name)
        {
            text = text.Replace("dev #" + route.OutputInterfaceIndex.ToString(CultureInfo.InvariantCulture), "dev " + name, StringComparison.Ordinal);
        }

        return text;
    }

    private NetlinkRequestWriter Start(ushort type, ushort flags)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        return new NetlinkRequestWriter(_request, type, (ushort)(FlagRequest | FlagAck | flags), ++_sequence);
    }

    /// <summary>Sends one request and reads until its ack; returns the kernel's errno (0 for success).</summary>
    private unsafe int Exchange(ReadOnlySpan<byte> request)
    {
        uint sequence = NetlinkPrimitives.ReadU32(request[8..]);
        _replyLink = null;
        _kernelText = null;
        fixed (byte* p = request)
        {
            nint sent;
            do
            {
                sent = NetlinkInterop.Send(_fd, p, (nuint)request.Length, 0);
            }
            while (sent < 0 && Marshal.GetLastPInvokeError() == EIntr);
            if (sent < 0)
            {
                throw new IOException("netlink send failed: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }
        }

        while (true)
        {
            nint received;
            fixed (byte* p = _receive)
            {
                do
                {
                    received = NetlinkInterop.Recv(_fd, p, (nuint)_receive.Length, 0);
                }
                while (received < 0 && Marshal.GetLastPInvokeError() == EIntr);
            }

            if (received <= 0)
            {
                throw new IOException(received == 0
                    ? "netlink socket closed before the kernel answered"
                    : "no answer from the kernel over netlink: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }

            ReadOnlySpan<byte> datagram = _receive.AsSpan(0, (int)received);
            while (RtnetlinkParser.TryReadMessage(datagram, out NetlinkMessage m, out int used, out _))
            {
                datagram = datagram[used..];
                if (m.Sequence != sequence)
                {
                    continue;
                }

                if (m.Type == RtnetlinkParser.NlmsgError)
                {
                    RtnetlinkParser.TryReadError(m.Payload, out int errno);
                    if (errno != 0 && RtnetlinkParser.TryReadExtendedAckMessage(m.Flags, m.Payload, out string? text))
                    {
                        _kernelText = text;
                    }

                    return errno;
                }

                if (m.Type == RtmNewLink && _replyLink is null && RtnetlinkParser.TryReadLink(m.Payload, out LinkInfo? link, out _))
                {
                    _replyLink = link;
                }
            }
        }
    }

    private void ThrowIfFailed(int errno, string operation, int index)
    {
        if (errno != 0)
        {
            string? kernelText = _kernelText;
            string on = SafeLinkName(index) ?? "#" + index.ToString(CultureInfo.InvariantCulture);
            _kernelText = kernelText;
            ThrowIfFailed(errno, $"{operation} on {on}");
        }
    }

    private void ThrowIfFailed(int errno, string operation)
    {
        if (errno != 0)
        {
            string detail = string.IsNullOrEmpty(_kernelText) ? "" : $" ({_kernelText})";
            throw new IOException($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)}{detail}", errno);
        }
    }

    /// <summary>A link's name for an error message; never throws, since it runs while reporting another failure.</summary>
    private string? SafeLinkName(int index)
    {
        try
        {
            return GetLinkName(index);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
