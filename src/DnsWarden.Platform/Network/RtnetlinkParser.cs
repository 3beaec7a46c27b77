using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Platform.Network;

/// <summary>One netlink message: <c>struct nlmsghdr</c> fields and the payload after the 16-byte header.</summary>
public readonly ref struct NetlinkMessage(ushort type, ushort flags, uint sequence, uint portId, ReadOnlySpan<byte> payload)
{
    public ushort Type { get; } = type;

    public ushort Flags { get; } = flags;

    public uint Sequence { get; } = sequence;

    public uint PortId { get; } = portId;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// Readers of the rtnetlink messages status needs: links, addresses, routes and rules. Numbers are host order,
/// attributes 4-byte aligned (include/uapi/linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h, fib_rules.h).
/// Bad input gives false and an <see cref="RtnetlinkError"/>, never an exception.
/// </summary>
public static class RtnetlinkParser
{
    public const int MessageHeaderLength = 16;

    public const ushort NlmsgNoop = 1;
    public const ushort NlmsgError = 2;
    public const ushort NlmsgDone = 3;

    public const ushort RtmNewLink = 16;
    public const ushort RtmGetLink = 18;
    public const ushort RtmNewAddr = 20;
    public const ushort RtmGetAddr = 22;
    public const ushort RtmNewRoute = 24;
    public const ushort RtmGetRoute = 26;
    public const ushort RtmNewRule = 32;
    public const ushort RtmGetRule = 34;

    public const ushort FlagRequest = 0x1;
    public const ushort FlagMulti = 0x2;

    /// <summary>NLM_F_ROOT | NLM_F_MATCH.</summary>
    public const ushort FlagDump = 0x300;

    /// <summary>sizeof(struct ifinfomsg), ifaddrmsg, rtmsg, fib_rule_hdr.</summary>
    public const int IfInfoLength = 16;
    public const int IfAddrLength = 8;
    public const int RtMsgLength = 12;
    public const int FibRuleHeaderLength = 12;

    // IFLA_* (if_link.h).
    private const ushort IflaIfname = 3;
    private const ushort IflaMtu = 4;
    private const ushort IflaMaster = 10;
    private const ushort IflaOperstate = 16;
    private const ushort IflaLinkinfo = 18;
    private const ushort IflaInfoKind = 1;
    private const ushort IflaInfoSlaveKind = 4;

    // IFA_* (if_addr.h).
    private const ushort IfaAddress = 1;
    private const ushort IfaLocal = 2;
    private const ushort IfaLabel = 3;

    // RTA_* (rtnetlink.h).
    private const ushort RtaDst = 1;
    private const ushort RtaOif = 4;
    private const ushort RtaGateway = 5;
    private const ushort RtaPriority = 6;
    private const ushort RtaPrefsrc = 7;
    private const ushort RtaMultipath = 9;
    private const ushort RtaTable = 15;
    private const int RtNextHopLength = 8;

    // FRA_* (fib_rules.h).
    private const ushort FraDst = 1;
    private const ushort FraSrc = 2;
    private const ushort FraIifname = 3;
    private const ushort FraGoto = 4;
    private const ushort FraPriority = 6;
    private const ushort FraFwmark = 10;
    private const ushort FraTable = 15;
    private const ushort FraFwmask = 16;
    private const ushort FraOifname = 17;
    private const ushort FraUidRange = 20;
    private const uint FibRuleInvert = 0x2;

    private const byte AfInet = 2;
    private const byte AfInet6 = 10;

    /// <summary>Reads one message; <paramref name="bytesConsumed"/> includes the padding to the next one (NLMSG_ALIGN).</summary>
    public static bool TryReadMessage(ReadOnlySpan<byte> src, out NetlinkMessage message, out int bytesConsumed, out RtnetlinkError error)
    {
        message = default;
        bytesConsumed = 0;
        if (src.Length < MessageHeaderLength)
        {
            error = RtnetlinkError.Truncated;
            return false;
        }

        uint length = NetlinkPrimitives.ReadU32(src);
        if (length < MessageHeaderLength || length > (uint)src.Length)
        {
            error = length < MessageHeaderLength ? RtnetlinkError.BadLength : RtnetlinkError.Truncated;
            return false;
        }

        message = new NetlinkMessage(
            NetlinkPrimitives.ReadU16(src[4..]),
            NetlinkPrimitives.ReadU16(src[6..]),
            NetlinkPrimitives.ReadU32(src[8..]),
            NetlinkPrimitives.ReadU32(src[12..]),
            src[MessageHeaderLength..(int)length]);
        bytesConsumed = Math.Min(NetlinkPrimitives.Align((int)length), src.Length);
        error = RtnetlinkError.None;
        return true;
    }

    /// <summary>NLMSG_ERROR's payload: a negative errno (0 is an acknowledgement) then the offending header.</summary>
    public static bool TryReadError(ReadOnlySpan<byte> payload, out int errno)
    {
        errno = 0;
        if (payload.Length < 4)
        {
            return false;
        }

        errno = -(int)NetlinkPrimitives.ReadU32(payload);
        return true;
    }

    /// <summary>
    /// The kernel's own words in an NLMSG_ERROR (NLMSGERR_ATTR_MSG, e.g. "Nexthop has invalid gateway"), present when
    /// the socket asked for NETLINK_EXT_ACK. The payload is <c>int error</c>, the request's <c>nlmsghdr</c> (only the
    /// header when NLM_F_CAPPED, else the whole request), then attributes when NLM_F_ACK_TLVS (netlink.h).
    /// </summary>
    public static bool TryReadExtendedAckMessage(ushort flags, ReadOnlySpan<byte> payload, out string? message)
    {
        const ushort Capped = 0x100;
        const ushort AckTlvs = 0x200;
        const ushort AttributeMessage = 1;
        message = null;
        if ((flags & AckTlvs) == 0 || payload.Length < 4 + MessageHeaderLength)
        {
            return false;
        }

        uint echoed = (flags & Capped) != 0 ? MessageHeaderLength : NetlinkPrimitives.ReadU32(payload[4..]);
        if (echoed < MessageHeaderLength || echoed > (uint)(payload.Length - 4))
        {
            return false;
        }

        int start = Math.Min(4 + NetlinkPrimitives.Align((int)echoed), payload.Length);
        var reader = new NetlinkAttributeReader(payload[start..]);
        while (reader.TryRead(out NetlinkAttribute a))
        {
            if (a.Type == AttributeMessage)
            {
                message = NetlinkPrimitives.ReadString(a.Payload);
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes a dump request: header plus a zeroed family header of <paramref name="bodyLength"/> bytes whose first byte is the family.</summary>
    public static bool TryWriteDumpRequest(Span<byte> dst, ushort type, uint sequence, byte family, int bodyLength, out int bytesWritten)
    {
        bytesWritten = 0;
        int length = MessageHeaderLength + NetlinkPrimitives.Align(bodyLength);
        if (dst.Length < length || bodyLength < 1)
        {
            return false;
        }

        dst[..length].Clear();
        NetlinkPrimitives.WriteU32(dst, (uint)length);
        NetlinkPrimitives.WriteU16(dst[4..], type);
        NetlinkPrimitives.WriteU16(dst[6..], FlagRequest | FlagDump);
        NetlinkPrimitives.WriteU32(dst[8..], sequence);
        dst[MessageHeaderLength] = family;
        bytesWritten = length;
        return true;
    }

    /// <summary>RTM_NEWLINK payload: <c>struct ifinfomsg</c> then IFLA_* attributes.</summary>
    public static bool TryReadLink(ReadOnlySpan<byte> payload, out LinkInfo? link, out RtnetlinkError error)
    {
        link = null;
        if (payload.Length < IfInfoLength)
        {
            error = RtnetlinkError.Truncated;
            return false;
        }

        ushort hardwareType = NetlinkPrimitives.ReadU16(payload[2..]);
        int index = (int)NetlinkPrimitives.ReadU32(payload[4..]);
        uint flags = NetlinkPrimitives.ReadU32(payload[8..]);
        string? name = null;
        string? kind = null;
        string? portKind = null;
        uint master = 0;
        uint mtu = 0;
        byte operState = 0;
        var reader = new NetlinkAttributeReader(payload[IfInfoLength..]);
        while (reader.TryRead(out NetlinkAttribute a))
        {
            switch (a.Type)
            {
                case IflaIfname:
                    name = NetlinkPrimitives.ReadString(a.Payload);
                    break;
                case IflaMtu when !NetlinkPrimitives.TryReadU32(a.Payload, out mtu):
                case IflaMaster when !NetlinkPrimitives.TryReadU32(a.Payload, out master):
                    error = RtnetlinkError.BadAttribute;
                    return false;
                case IflaOperstate:
                    if (a.Payload.Length != 1)
                    {
                        error = RtnetlinkError.BadAttribute;
                        return false;
                    }

                    operState = a.Payload[0];
                    break;
                case IflaLinkinfo:
                    var info = new NetlinkAttributeReader(a.Payload);
                    while (info.TryRead(out NetlinkAttribute i))
                    {
                        if (i.Type == IflaInfoKind)
                        {
                            kind = NetlinkPrimitives.ReadString(i.Payload);
                        }
                        else if (i.Type == IflaInfoSlaveKind)
                        {
                            portKind = NetlinkPrimitives.ReadString(i.Payload);
                        }
                    }

                    if (info.Error != RtnetlinkError.None)
                    {
                        error = info.Error;
                        return false;
                    }

                    break;
            }
        }

        if (reader.Error != RtnetlinkError.None)
        {
            error = reader.Error;
            return false;
        }

        if (name is null)
        {
            // Every link the kernel dumps has a name; one without is not a link message.
            error = RtnetlinkError.BadAttribute;
            return false;
        }

        link = new LinkInfo(index, name, hardwareType, flags, mtu, operState, kind, (int)master, portKind);
        error = RtnetlinkError.None;
        return true;
    }

    /// <summary>RTM_NEWADDR payload: <c>struct ifaddrmsg</c> then IFA_* attributes.</summary>
    public static bool TryReadAddress(ReadOnlySpan<byte> payload, out AddressInfo? address, out RtnetlinkError error)
    {
        address = null;
        if (payload.Length < IfAddrLength)
        {
            error = RtnetlinkError.Truncated;
            return false;
        }

        byte family = payload[0];
        byte prefix = payload[1];
        byte scope = payload[3];
        if (family is not (AfInet or AfInet6))
        {
            error = RtnetlinkError.UnexpectedType;
            return false;
        }

        int index = (int)NetlinkPrimitives.ReadU32(payload[4..]);
        IPAddress? ifaAddress = null;
        IPAddress? ifaLocal = null;
        string? label = null;
        var reader = new NetlinkAttributeReader(payload[IfAddrLength..]);
        while (reader.TryRead(out NetlinkAttribute a))
        {
            switch (a.Type)
            {
                case IfaAddress when !TryReadIp(family, a.Payload, out ifaAddress):
                case IfaLocal when !TryReadIp(family, a.Payload, out ifaLocal):
                    error = RtnetlinkError.BadAttribute;
                    return false;
                case IfaLabel:
                    label = NetlinkPrimitives.ReadString(a.Payload);
                    break;
            }
        }

        if (reader.Error != RtnetlinkError.None)
        {
            error = reader.Error;
            return false;
        }

        IPAddress? ip = ifaLocal ?? ifaAddress;
        if (ip is null || prefix > MaxPrefix(family))
        {
            error = RtnetlinkError.BadAttribute;
            return false;
        }

        address = new AddressInfo(index, ip, prefix, scope, label);
        error = RtnetlinkError.None;
        return true;
    }

    /// <summary>RTM_NEWROUTE payload: <c>struct rtmsg</c> then RTA_* attributes. RTA_TABLE, when present, overrides the 8-bit rtm_table.</summary>
    public static bool TryReadRoute(ReadOnlySpan<byte> payload, out RouteInfo? route, out RtnetlinkError error)
    {
        route = null;
        if (payload.Length < RtMsgLength)
        {
            error = RtnetlinkError.Truncated;
            return false;
        }

        byte family = payload[0];
        byte dstLength = payload[1];
        uint table = payload[4];
        byte protocol = payload[5];
        byte scope = payload[6];
        byte type = payload[7];
        if (family is not (AfInet or AfInet6) || dstLength > MaxPrefix(family))
        {
            error = RtnetlinkError.UnexpectedType;
            return false;
        }

        IPAddress? dst = null;
        IPAddress? gateway = null;
        IPAddress? prefsrc = null;
        uint oif = 0;
        uint? metric = null;
        List<RouteNextHop>? nextHops = null;
        var reader = new NetlinkAttributeReader(payload[RtMsgLength..]);
        while (reader.TryRead(out NetlinkAttribute a))
        {
            uint value;
            switch (a.Type)
            {
                case RtaDst when !TryReadIp(family, a.Payload, out dst):
                case RtaGateway when !TryReadIp(family, a.Payload, out gateway):
                case RtaPrefsrc when !TryReadIp(family, a.Payload, out prefsrc):
                case RtaOif when !NetlinkPrimitives.TryReadU32(a.Payload, out oif):
                    error = RtnetlinkError.BadAttribute;
                    return false;
                case RtaPriority:
                    if (!NetlinkPrimitives.TryReadU32(a.Payload, out value))
                    {
                        error = RtnetlinkError.BadAttribute;
                        return false;
                    }

                    metric = value;
                    break;
                case RtaTable:
                    if (!NetlinkPrimitives.TryReadU32(a.Payload, out table))
                    {
                        error = RtnetlinkError.BadAttribute;
                        return false;
                    }

                    break;
                case RtaMultipath:
                    nextHops = [];
                    if (!TryReadNextHops(family, a.Payload, nextHops))
                    {
                        error = RtnetlinkError.BadAttribute;
                        return false;
                    }

                    break;
            }
        }

        if (reader.Error != RtnetlinkError.None)
        {
            error = reader.Error;
            return false;
        }

        route = new RouteInfo(
            family == AfInet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6,
            table, dst, dstLength, gateway, (int)oif, metric, protocol, scope, type, prefsrc, (IReadOnlyList<RouteNextHop>?)nextHops ?? []);
        error = RtnetlinkError.None;
        return true;
    }

    /// <summary>RTM_NEWRULE payload: <c>struct fib_rule_hdr</c> then FRA_* attributes. FRA_TABLE overrides the 8-bit table.</summary>
    public static bool TryReadRule(ReadOnlySpan<byte> payload, out RuleInfo? rule, out RtnetlinkError error)
    {
        rule = null;
        if (payload.Length < FibRuleHeaderLength)
        {
            error = RtnetlinkError.Truncated;
            return false;
        }

        byte family = payload[0];
        byte dstLength = payload[1];
        byte srcLength = payload[2];
        uint table = payload[4];
        byte action = payload[7];
        uint flags = NetlinkPrimitives.ReadU32(payload[8..]);
        if (family is not (AfInet or AfInet6) || dstLength > MaxPrefix(family) || srcLength > MaxPrefix(family))
        {
            error = RtnetlinkError.UnexpectedType;
            return false;
        }

        IPAddress? from = null;
        IPAddress? to = null;
        string? iif = null;
        string? oif = null;
        uint priority = 0;
        uint? fwmark = null;
        uint? fwmask = null;
        uint? gotoTarget = null;
        RuleUidRange? uids = null;
        var reader = new NetlinkAttributeReader(payload[FibRuleHeaderLength..]);
        while (reader.TryRead(out NetlinkAttribute a))
        {
            uint value = 0;
            bool ok = true;
            switch (a.Type)
            {
                case FraSrc:
                    ok = TryReadIp(family, a.Payload, out from);
                    break;
                case FraDst:
                    ok = TryReadIp(family, a.Payload, out to);
                    break;
                case FraIifname:
                    iif = NetlinkPrimitives.ReadString(a.Payload);
                    break;
                case FraOifname:
                    oif = NetlinkPrimitives.ReadString(a.Payload);
                    break;
                case FraPriority:
                    ok = NetlinkPrimitives.TryReadU32(a.Payload, out priority);
                    break;
                case FraTable:
                    ok = NetlinkPrimitives.TryReadU32(a.Payload, out table);
                    break;
                case FraFwmark:
                    ok = NetlinkPrimitives.TryReadU32(a.Payload, out value);
                    fwmark = value;
                    break;
                case FraFwmask:
                    ok = NetlinkPrimitives.TryReadU32(a.Payload, out value);
                    fwmask = value;
                    break;
                case FraGoto:
                    ok = NetlinkPrimitives.TryReadU32(a.Payload, out value);
                    gotoTarget = value;
                    break;
                case FraUidRange:
                    ok = a.Payload.Length == 8;
                    if (ok)
                    {
                        uids = new RuleUidRange(NetlinkPrimitives.ReadU32(a.Payload), NetlinkPrimitives.ReadU32(a.Payload[4..]));
                    }

                    break;
            }

            if (!ok)
            {
                error = RtnetlinkError.BadAttribute;
                return false;
            }
        }

        if (reader.Error != RtnetlinkError.None)
        {
            error = reader.Error;
            return false;
        }

        rule = new RuleInfo(
            family == AfInet ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6,
            priority, from, srcLength, to, dstLength, iif, oif, fwmark, fwmask, uids, table, action, (flags & FibRuleInvert) != 0, gotoTarget);
        error = RtnetlinkError.None;
        return true;
    }

    private static bool TryReadNextHops(byte family, ReadOnlySpan<byte> src, List<RouteNextHop> hops)
    {
        // struct rtnexthop { u16 rtnh_len; u8 flags; u8 hops; int ifindex; } then RTA_* attributes, RTNH_ALIGN'd (4).
        while (!src.IsEmpty)
        {
            if (src.Length < RtNextHopLength)
            {
                return false;
            }

            ushort length = NetlinkPrimitives.ReadU16(src);
            if (length < RtNextHopLength || length > src.Length)
            {
                return false;
            }

            byte weight = src[3];
            int index = (int)NetlinkPrimitives.ReadU32(src[4..]);
            IPAddress? gateway = null;
            var reader = new NetlinkAttributeReader(src[RtNextHopLength..length]);
            while (reader.TryRead(out NetlinkAttribute a))
            {
                if (a.Type == RtaGateway && !TryReadIp(family, a.Payload, out gateway))
                {
                    return false;
                }
            }

            if (reader.Error != RtnetlinkError.None || hops.Count >= 256)
            {
                return false;
            }

            hops.Add(new RouteNextHop(index, gateway, weight));
            int advance = NetlinkPrimitives.Align(length);
            src = advance >= src.Length ? [] : src[advance..];
        }

        return true;
    }

    private static int MaxPrefix(byte family) => family == AfInet6 ? 128 : 32;

    private static bool TryReadIp(byte family, ReadOnlySpan<byte> payload, out IPAddress? address)
    {
        if ((family == AfInet && payload.Length == 4) || (family == AfInet6 && payload.Length == 16))
        {
            address = new IPAddress(payload);
            return true;
        }

        address = null;
        return false;
    }
}
