using System.Net;
using System.Net.Sockets;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Tests.Network;

public sealed class RtnetlinkParserTests
{
    private static readonly byte[][] s_seeds =
    [
        RtnetlinkVectors.VethEth0Link, RtnetlinkVectors.LoopbackLink, RtnetlinkVectors.Eth0AddressV4, RtnetlinkVectors.Eth0AddressV6,
        RtnetlinkVectors.Table100Route, RtnetlinkVectors.DefaultRouteV4, RtnetlinkVectors.LocalRouteV4, RtnetlinkVectors.MainRouteV6,
        RtnetlinkVectors.UidRangeRule, RtnetlinkVectors.FwmarkRule, RtnetlinkVectors.MainRule,
    ];

    private static byte[] Payload(byte[] message, ushort expectedType)
    {
        Assert.True(RtnetlinkParser.TryReadMessage(message, out NetlinkMessage m, out int used, out RtnetlinkError error), error.ToString());
        Assert.Equal(message.Length, used);
        Assert.Equal(expectedType, m.Type);
        Assert.Equal(RtnetlinkParser.FlagMulti, m.Flags & RtnetlinkParser.FlagMulti);
        return m.Payload.ToArray();
    }

    [Fact]
    public void VethLink_NameKindMtuAndType()
    {
        Assert.True(RtnetlinkParser.TryReadLink(Payload(RtnetlinkVectors.VethEth0Link, RtnetlinkParser.RtmNewLink), out LinkInfo? link, out _));
        Assert.Equal("eth0", link!.Name);
        Assert.Equal("veth", link.Kind);
        Assert.Equal(1500u, link.Mtu);
        Assert.Equal(LinkInfo.ArphrdEther, link.HardwareType);
        Assert.True(link.IsUp);

        // Its peer was still down, so the carrier (lower-up) is not there yet.
        Assert.False(link.IsLowerUp);
        Assert.False(link.IsRawIp);
    }

    [Fact]
    public void LoopbackLink_HasNoKind_AndNamesItsHardwareType()
    {
        Assert.True(RtnetlinkParser.TryReadLink(Payload(RtnetlinkVectors.LoopbackLink, RtnetlinkParser.RtmNewLink), out LinkInfo? link, out _));
        Assert.Equal("lo", link!.Name);
        Assert.Equal(1, link.Index);
        Assert.Null(link.Kind);
        Assert.Equal("loopback", link.KindName);
        Assert.Equal(65536u, link.Mtu);
        Assert.True(link.IsUp && link.IsLowerUp);
        Assert.Equal("UNKNOWN", link.OperStateName);
    }

    [Fact]
    public void Addresses_V4AndV6_WithPrefix()
    {
        Assert.True(RtnetlinkParser.TryReadAddress(Payload(RtnetlinkVectors.Eth0AddressV4, RtnetlinkParser.RtmNewAddr), out AddressInfo? v4, out _));
        Assert.Equal(IPAddress.Parse("198.51.100.2"), v4!.Address);
        Assert.Equal(24, v4.PrefixLength);
        Assert.Equal("eth0", v4.Label);
        Assert.Equal(0, v4.Scope);

        Assert.True(RtnetlinkParser.TryReadAddress(Payload(RtnetlinkVectors.Eth0AddressV6, RtnetlinkParser.RtmNewAddr), out AddressInfo? v6, out _));
        Assert.Equal(IPAddress.Parse("2001:db8:100::2"), v6!.Address);
        Assert.Equal(64, v6.PrefixLength);
        Assert.Equal(v4.InterfaceIndex, v6.InterfaceIndex);
    }

    [Fact]
    public void Routes_DefaultTable100LocalAndV6()
    {
        Assert.True(RtnetlinkParser.TryReadRoute(Payload(RtnetlinkVectors.DefaultRouteV4, RtnetlinkParser.RtmNewRoute), out RouteInfo? def, out _));
        Assert.True(def!.IsDefault);
        Assert.Equal("default", def.DestinationText);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), def.Gateway);
        Assert.Equal(RouteInfo.TableMain, def.Table);
        Assert.Equal("boot", RouteInfo.ProtocolName(def.Protocol));
        Assert.Equal("unicast", RouteInfo.TypeName(def.Type));
        Assert.Null(def.Metric);

        Assert.True(RtnetlinkParser.TryReadRoute(Payload(RtnetlinkVectors.Table100Route, RtnetlinkParser.RtmNewRoute), out RouteInfo? t100, out _));
        Assert.Equal(100u, t100!.Table);
        Assert.Equal("10.0.0.0/8", t100.DestinationText);
        Assert.Equal(def.OutputInterfaceIndex, t100.OutputInterfaceIndex);
        Assert.Equal("link", RouteInfo.ScopeName(t100.Scope));

        Assert.True(RtnetlinkParser.TryReadRoute(Payload(RtnetlinkVectors.LocalRouteV4, RtnetlinkParser.RtmNewRoute), out RouteInfo? local, out _));
        Assert.Equal(RouteInfo.TableLocal, local!.Table);
        Assert.Equal("local", RouteInfo.TypeName(local.Type));
        Assert.Equal("127.0.0.0/8", local.DestinationText);
        Assert.Equal(IPAddress.Loopback, local.PreferredSource);

        Assert.True(RtnetlinkParser.TryReadRoute(Payload(RtnetlinkVectors.MainRouteV6, RtnetlinkParser.RtmNewRoute), out RouteInfo? v6, out _));
        Assert.Equal(AddressFamily.InterNetworkV6, v6!.Family);
        Assert.Equal("2001:db8:100::/64", v6.DestinationText);
        Assert.Equal(256u, v6.Metric);
    }

    [Fact]
    public void Rules_FwmarkUidRangeAndMain()
    {
        Assert.True(RtnetlinkParser.TryReadRule(Payload(RtnetlinkVectors.FwmarkRule, RtnetlinkParser.RtmNewRule), out RuleInfo? fw, out _));
        Assert.Equal(32765u, fw!.Priority);
        Assert.Equal(1u, fw.Fwmark);
        Assert.Equal(uint.MaxValue, fw.FwMask);
        Assert.Equal(100u, fw.Table);
        Assert.Equal("to_tbl", RuleInfo.ActionName(fw.Action));
        Assert.Equal("all", RuleInfo.Selector(fw.From, fw.FromLength, fw.Family));

        Assert.True(RtnetlinkParser.TryReadRule(Payload(RtnetlinkVectors.UidRangeRule, RtnetlinkParser.RtmNewRule), out RuleInfo? uid, out _));
        Assert.Equal(200u, uid!.Priority);
        Assert.Equal(new RuleUidRange(1000, 2000), uid.UidRange);
        Assert.Equal("eth0", uid.InputInterface);
        Assert.Null(uid.Fwmark);

        Assert.True(RtnetlinkParser.TryReadRule(Payload(RtnetlinkVectors.MainRule, RtnetlinkParser.RtmNewRule), out RuleInfo? main, out _));
        Assert.Equal(32766u, main!.Priority);
        Assert.Equal(RouteInfo.TableMain, main.Table);
    }

    [Fact]
    public void EveryProperPrefixOfAMessage_FailsCleanly()
    {
        foreach (byte[] seed in s_seeds)
        {
            for (int n = 0; n < seed.Length; n++)
            {
                Assert.False(RtnetlinkParser.TryReadMessage(seed.AsSpan(0, n), out _, out _, out RtnetlinkError error));
                Assert.Equal(RtnetlinkError.Truncated, error);
            }
        }
    }

    [Fact]
    public void EveryPrefixOfAPayload_NeverThrows_AndShortFixedHeadersFail()
    {
        foreach (byte[] seed in s_seeds)
        {
            RtnetlinkParser.TryReadMessage(seed, out NetlinkMessage m, out _, out _);
            byte[] payload = m.Payload.ToArray();
            for (int n = 0; n < payload.Length; n++)
            {
                bool ok = ReadAny(m.Type, payload.AsSpan(0, n), out RtnetlinkError error);
                if (n < RtnetlinkParser.RtMsgLength - 4)
                {
                    Assert.False(ok);
                    Assert.Equal(RtnetlinkError.Truncated, error);
                }
            }
        }
    }

    [Fact]
    public void Datagram_WithSeveralMessages_ReadsEachAtItsAlignedOffset()
    {
        byte[] datagram = [.. RtnetlinkVectors.DefaultRouteV4, .. RtnetlinkVectors.Table100Route, .. Done()];
        ReadOnlySpan<byte> rest = datagram;
        var types = new List<ushort>();
        while (!rest.IsEmpty)
        {
            Assert.True(RtnetlinkParser.TryReadMessage(rest, out NetlinkMessage m, out int used, out _));
            types.Add(m.Type);
            rest = rest[used..];
        }

        Assert.Equal([RtnetlinkParser.RtmNewRoute, RtnetlinkParser.RtmNewRoute, RtnetlinkParser.NlmsgDone], types);
    }

    [Fact]
    public void ErrorMessage_GivesThePositiveErrno()
    {
        // NLMSG_ERROR payload: int error = -EPERM, then the request's header.
        byte[] payload = [0xFF, 0xFF, 0xFF, 0xFF, .. new byte[16]];
        Assert.True(RtnetlinkParser.TryReadError(payload, out int errno));
        Assert.Equal(1, errno);
        Assert.False(RtnetlinkParser.TryReadError(payload.AsSpan(0, 3), out _));
    }

    [Fact]
    public void DumpRequest_IsHeaderPlusZeroedFamilyHeader()
    {
        Span<byte> dst = stackalloc byte[64];
        Assert.True(RtnetlinkParser.TryWriteDumpRequest(dst, RtnetlinkParser.RtmGetRoute, 7, 10, RtnetlinkParser.RtMsgLength, out int written));
        Assert.Equal(28, written);
        // nlmsg_len 28, RTM_GETROUTE, NLM_F_REQUEST|NLM_F_DUMP, seq 7, pid 0; rtmsg with family AF_INET6, table 0 (all).
        Assert.Equal(Convert.FromHexString("1c000000" + "1a00" + "0103" + "07000000" + "00000000" + "0a" + "0000000000000000000000"), dst[..written].ToArray());
        Assert.False(RtnetlinkParser.TryWriteDumpRequest(dst[..27], RtnetlinkParser.RtmGetRoute, 7, 10, RtnetlinkParser.RtMsgLength, out _));
    }

    [Fact]
    public void ABridgePort_CarriesItsMasterAndPortKind()
    {
        // if_link.h: IFLA_IFNAME 3, IFLA_MASTER 10 (u32), IFLA_LINKINFO 18 { IFLA_INFO_KIND 1, IFLA_INFO_SLAVE_KIND 4 }.
        byte[] header = new byte[RtnetlinkParser.IfInfoLength];
        header[2] = 1; // ARPHRD_ETHER
        header[4] = 5; // ifi_index
        byte[] name = [10, 0, 3, 0, (byte)'v', (byte)'e', (byte)'t', (byte)'h', (byte)'1', 0, 0, 0];
        byte[] master = [8, 0, 10, 0, 4, 0, 0, 0];
        byte[] kind = [9, 0, 1, 0, (byte)'v', (byte)'e', (byte)'t', (byte)'h', 0, 0, 0, 0];
        byte[] portKind = [11, 0, 4, 0, (byte)'b', (byte)'r', (byte)'i', (byte)'d', (byte)'g', (byte)'e', 0, 0];
        byte[] info = [(byte)(4 + kind.Length + portKind.Length), 0, 18, 0, .. kind, .. portKind];

        Assert.True(RtnetlinkParser.TryReadLink([.. header, .. name, .. master, .. info], out LinkInfo? link, out RtnetlinkError error), error.ToString());
        Assert.Equal(("veth1", 5, "veth", 4, "bridge"), (link!.Name, link.Index, link.Kind, link.Master, link.PortKind));

        // IFLA_MASTER of 2 bytes.
        Assert.False(RtnetlinkParser.TryReadLink([.. header, .. name, 6, 0, 10, 0, 4, 0, 0, 0], out _, out RtnetlinkError bad));
        Assert.Equal(RtnetlinkError.BadAttribute, bad);
    }

    [Fact]
    public void AdversarialAttributes_AreRejectedWithACause()
    {
        byte[] header = new byte[RtnetlinkParser.IfInfoLength];

        // nla_len 3 (below the 4-byte header).
        Assert.False(RtnetlinkParser.TryReadLink([.. header, 3, 0, 3, 0], out _, out RtnetlinkError e1));
        Assert.Equal(RtnetlinkError.BadLength, e1);

        // nla_len 12 with 8 bytes there.
        Assert.False(RtnetlinkParser.TryReadLink([.. header, 12, 0, 3, 0, (byte)'l', (byte)'o', 0, 0], out _, out RtnetlinkError e2));
        Assert.Equal(RtnetlinkError.BadLength, e2);

        // IFLA_MTU of 2 bytes.
        Assert.False(RtnetlinkParser.TryReadLink([.. header, 7, 0, 3, 0, (byte)'l', (byte)'o', 0, 0, 6, 0, 4, 0, 1, 2, 0, 0], out _, out RtnetlinkError e3));
        Assert.Equal(RtnetlinkError.BadAttribute, e3);

        // A link without IFLA_IFNAME.
        Assert.False(RtnetlinkParser.TryReadLink(header, out _, out RtnetlinkError e4));
        Assert.Equal(RtnetlinkError.BadAttribute, e4);

        // An IPv4 route whose RTA_DST has 5 bytes.
        byte[] rtmsg = [2, 32, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
        Assert.False(RtnetlinkParser.TryReadRoute([.. rtmsg, 9, 0, 1, 0, 10, 0, 0, 1, 2, 0, 0, 0], out _, out RtnetlinkError e5));
        Assert.Equal(RtnetlinkError.BadAttribute, e5);

        // A prefix length past the family's width.
        Assert.False(RtnetlinkParser.TryReadRoute([2, 33, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0], out _, out RtnetlinkError e6));
        Assert.Equal(RtnetlinkError.UnexpectedType, e6);

        // nlmsg_len below the header size.
        Assert.False(RtnetlinkParser.TryReadMessage([8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], out _, out _, out RtnetlinkError e7));
        Assert.Equal(RtnetlinkError.BadLength, e7);

        // A multipath nexthop whose rtnh_len runs past the attribute.
        Assert.False(RtnetlinkParser.TryReadRoute([.. rtmsg, 12, 0, 9, 0, 16, 0, 0, 0, 1, 0, 0, 0], out _, out RtnetlinkError e8));
        Assert.Equal(RtnetlinkError.BadAttribute, e8);
    }

    [Fact]
    public void MultipathRoute_ListsEachNextHop()
    {
        byte[] rtmsg = [2, 0, 0, 0, 254, 4, 0, 1, 0, 0, 0, 0];
        byte[] hop1 = [16, 0, 0, 0, 2, 0, 0, 0, 8, 0, 5, 0, 198, 51, 100, 1];
        byte[] hop2 = [16, 0, 0, 1, 3, 0, 0, 0, 8, 0, 5, 0, 203, 0, 113, 1];
        byte[] multipath = [36, 0, 9, 0, .. hop1, .. hop2];
        Assert.True(RtnetlinkParser.TryReadRoute([.. rtmsg, .. multipath], out RouteInfo? route, out _));
        Assert.Equal(2, route!.NextHops.Count);
        Assert.Equal(new RouteNextHop(2, IPAddress.Parse("198.51.100.1"), 0), route.NextHops[0]);
        Assert.Equal(new RouteNextHop(3, IPAddress.Parse("203.0.113.1"), 1), route.NextHops[1]);
        Assert.Equal(0, route.OutputInterfaceIndex);
    }

    [Fact]
    public void RandomBytesAndMutations_NeverThrow()
    {
        var random = new Random(20240611);
        for (int i = 0; i < 4000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 200)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])s_seeds[random.Next(s_seeds.Length)].Clone();
                for (int k = random.Next(1, 8); k > 0; k--)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }
            }

            if (RtnetlinkParser.TryReadMessage(input, out NetlinkMessage m, out int used, out _))
            {
                Assert.InRange(used, RtnetlinkParser.MessageHeaderLength, input.Length);
                ReadAny(m.Type, m.Payload, out _);
            }

            foreach (ushort type in new[] { RtnetlinkParser.RtmNewLink, RtnetlinkParser.RtmNewAddr, RtnetlinkParser.RtmNewRoute, RtnetlinkParser.RtmNewRule })
            {
                ReadAny(type, input, out _);
            }
        }
    }

    private static bool ReadAny(ushort type, ReadOnlySpan<byte> payload, out RtnetlinkError error)
    {
        switch (type)
        {
            case RtnetlinkParser.RtmNewLink:
                return RtnetlinkParser.TryReadLink(payload, out _, out error);
            case RtnetlinkParser.RtmNewAddr:
                return RtnetlinkParser.TryReadAddress(payload, out _, out error);
            case RtnetlinkParser.RtmNewRoute:
                return RtnetlinkParser.TryReadRoute(payload, out _, out error);
            case RtnetlinkParser.RtmNewRule:
                return RtnetlinkParser.TryReadRule(payload, out _, out error);
            default:
                error = RtnetlinkError.UnexpectedType;
                return false;
        }
    }

    private static byte[] Done() => [20, 0, 0, 0, 3, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}
