using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace DnsWarden.Platform.Network;

/// <summary>A network interface as rtnetlink RTM_NEWLINK describes it (include/uapi/linux/if_link.h).</summary>
/// <param name="HardwareType">ARPHRD_* (include/uapi/linux/if_arp.h).</param>
/// <param name="Flags">IFF_* (include/uapi/linux/if.h).</param>
/// <param name="OperState">IF_OPER_* (RFC 2863 operational status).</param>
/// <param name="Kind">IFLA_INFO_KIND (veth, wireguard, tun, bridge...), null for plain devices such as lo.</param>
/// <param name="Master">IFLA_MASTER: the index of the device this one is enslaved to (a bridge, a bond), 0 when none.</param>
/// <param name="PortKind">IFLA_INFO_SLAVE_KIND: what kind of port this device is of its master (<c>bridge</c> for a bridge port), null when none.</param>
public sealed record LinkInfo(
    int Index, string Name, ushort HardwareType, uint Flags, uint Mtu, byte OperState, string? Kind, int Master = 0, string? PortKind = null)
{
    public const uint FlagUp = 0x1;
    public const uint FlagLoopback = 0x8;
    public const uint FlagPointToPoint = 0x10;
    public const uint FlagRunning = 0x40;
    public const uint FlagLowerUp = 0x10000;

    public const ushort ArphrdEther = 1;
    public const ushort ArphrdPpp = 512;
    public const ushort ArphrdTunnel = 768;
    public const ushort ArphrdTunnel6 = 769;
    public const ushort ArphrdLoopback = 772;
    public const ushort ArphrdSit = 776;
    public const ushort ArphrdIpGre = 778;
    public const ushort ArphrdIp6Gre = 823;
    public const ushort ArphrdNone = 0xFFFE;

    public bool IsUp => (Flags & FlagUp) != 0;

    public bool IsLowerUp => (Flags & FlagLowerUp) != 0;

    /// <summary>Frames on the device are bare IP packets (WireGuard, tun, PPP, IP-in-IP): a point-to-point tunnel to the capture side.</summary>
    public bool IsRawIp => HardwareType is ArphrdNone or ArphrdPpp or ArphrdTunnel or ArphrdTunnel6 or ArphrdSit or ArphrdIpGre or ArphrdIp6Gre;

    /// <summary>The kind when the kernel names one, otherwise a name for the hardware type.</summary>
    public string KindName => Kind ?? HardwareType switch
    {
        ArphrdEther => "ether",
        ArphrdLoopback => "loopback",
        ArphrdPpp => "ppp",
        ArphrdNone => "none",
        ArphrdTunnel => "ipip",
        ArphrdTunnel6 => "ip6tnl",
        ArphrdSit => "sit",
        ArphrdIpGre => "gre",
        ArphrdIp6Gre => "ip6gre",
        _ => "arphrd-" + HardwareType.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The operational state as <c>ip link</c> prints it.</summary>
    public string OperStateName => OperState switch
    {
        1 => "NOTPRESENT",
        2 => "DOWN",
        3 => "LOWERLAYERDOWN",
        4 => "TESTING",
        5 => "DORMANT",
        6 => "UP",
        _ => "UNKNOWN",
    };
}

/// <summary>An address on an interface (RTM_NEWADDR): IFA_LOCAL when present (the peer address is IFA_ADDRESS then), else IFA_ADDRESS.</summary>
/// <param name="Scope">RT_SCOPE_*: 0 global, 253 link, 254 host.</param>
public sealed record AddressInfo(int InterfaceIndex, IPAddress Address, byte PrefixLength, byte Scope, string? Label)
{
    public override string ToString() => Address + "/" + PrefixLength.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A route from any table (RTM_NEWROUTE, include/uapi/linux/rtnetlink.h).</summary>
/// <param name="Destination">Null with length 0: the default route.</param>
/// <param name="OutputInterfaceIndex">RTA_OIF; 0 when the route has none (blackhole, multipath).</param>
/// <param name="Metric">RTA_PRIORITY, null when absent.</param>
/// <param name="Protocol">RTPROT_*.</param>
/// <param name="Scope">RT_SCOPE_*.</param>
/// <param name="Type">RTN_*.</param>
/// <param name="NextHops">Gateways and devices of a multipath route (RTA_MULTIPATH); empty otherwise.</param>
public sealed record RouteInfo(
    AddressFamily Family,
    uint Table,
    IPAddress? Destination,
    byte DestinationLength,
    IPAddress? Gateway,
    int OutputInterfaceIndex,
    uint? Metric,
    byte Protocol,
    byte Scope,
    byte Type,
    IPAddress? PreferredSource,
    IReadOnlyList<RouteNextHop> NextHops)
{
    public const uint TableDefault = 253;
    public const uint TableMain = 254;
    public const uint TableLocal = 255;

    public const byte TypeUnicast = 1;
    public const byte TypeLocal = 2;

    public bool IsDefault => DestinationLength == 0;

    /// <summary>The destination as <c>ip route</c> prints it: <c>default</c>, a host address, or a prefix.</summary>
    public string DestinationText
    {
        get
        {
            if (DestinationLength == 0)
            {
                return "default";
            }

            IPAddress dst = Destination ?? (Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any);
            int full = Family == AddressFamily.InterNetworkV6 ? 128 : 32;
            return DestinationLength == full ? dst.ToString() : dst + "/" + DestinationLength.ToString(CultureInfo.InvariantCulture);
        }
    }

    public static string TableName(uint table) => table switch
    {
        TableDefault => "default",
        TableMain => "main",
        TableLocal => "local",
        _ => table.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>RTN_* as iproute2 names them.</summary>
    public static string TypeName(byte type) => type switch
    {
        0 => "unspec",
        1 => "unicast",
        2 => "local",
        3 => "broadcast",
        4 => "anycast",
        5 => "multicast",
        6 => "blackhole",
        7 => "unreachable",
        8 => "prohibit",
        9 => "throw",
        10 => "nat",
        11 => "xresolve",
        _ => type.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>RTPROT_* as /etc/iproute2/rt_protos names them.</summary>
    public static string ProtocolName(byte protocol) => protocol switch
    {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => protocol.ToString(CultureInfo.InvariantCulture),
    };

    public static string ScopeName(byte scope) => scope switch
    {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        255 => "nowhere",
        _ => scope.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>One path of a multipath route (<c>struct rtnexthop</c>).</summary>
public sealed record RouteNextHop(int InterfaceIndex, IPAddress? Gateway, byte Weight);

/// <summary>A policy-routing rule (RTM_NEWRULE, include/uapi/linux/fib_rules.h).</summary>
/// <param name="Action">FR_ACT_*: 1 to table, 2 goto, 3 nop, 6 blackhole, 7 unreachable, 8 prohibit.</param>
/// <param name="Invert">FIB_RULE_INVERT: the selectors are negated (<c>ip rule add not ...</c>).</param>
public sealed record RuleInfo(
    AddressFamily Family,
    uint Priority,
    IPAddress? From,
    byte FromLength,
    IPAddress? To,
    byte ToLength,
    string? InputInterface,
    string? OutputInterface,
    uint? Fwmark,
    uint? FwMask,
    RuleUidRange? UidRange,
    uint Table,
    byte Action,
    bool Invert,
    uint? Goto)
{
    public static string ActionName(byte action) => action switch
    {
        0 => "unspec",
        1 => "to_tbl",
        2 => "goto",
        3 => "nop",
        6 => "blackhole",
        7 => "unreachable",
        8 => "prohibit",
        _ => action.ToString(CultureInfo.InvariantCulture),
    };

    public static string Selector(IPAddress? address, byte length, AddressFamily family)
    {
        if (address is null || length == 0)
        {
            return "all";
        }

        int full = family == AddressFamily.InterNetworkV6 ? 128 : 32;
        return length == full ? address.ToString() : address + "/" + length.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>FRA_UID_RANGE (<c>struct fib_rule_uid_range</c>), inclusive.</summary>
public readonly record struct RuleUidRange(uint Start, uint End);

/// <summary>Everything rtnetlink told in one pass: interfaces, addresses, routes of every table, rules.</summary>
public sealed record NetworkState(
    IReadOnlyList<LinkInfo> Links,
    IReadOnlyList<AddressInfo> Addresses,
    IReadOnlyList<RouteInfo> Routes,
    IReadOnlyList<RuleInfo> Rules)
{
    public LinkInfo? LinkByIndex(int index) => Links.FirstOrDefault(l => l.Index == index);

    public string? NameOf(int index) => LinkByIndex(index)?.Name;
}
