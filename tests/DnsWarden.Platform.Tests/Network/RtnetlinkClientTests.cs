using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Tests.Network;

public sealed class RtnetlinkClientTests
{
    [Fact]
    public void ReadsThisNamespace_LoopbackAndItsLocalRoute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("rtnetlink is Linux only");
            return;
        }

        Assert.True(RtnetlinkClient.TryReadState(out NetworkState? state, out string? error), error);
        LinkInfo lo = Assert.Single(state!.Links, l => l.Name == "lo");
        Assert.Equal(LinkInfo.ArphrdLoopback, lo.HardwareType);
        Assert.Contains(state.Rules, r => r.Table == RouteInfo.TableMain && r.Priority == 32766);
        if (lo.IsUp)
        {
            Assert.Contains(state.Routes, r => r.Table == RouteInfo.TableLocal && r.OutputInterfaceIndex == lo.Index);
        }
    }

    [Fact]
    public void FixedHeaderSizes_MatchTheKernelHeaders()
    {
        // sizeof(struct nlmsghdr) 16, ifinfomsg 16, ifaddrmsg 8, rtmsg 12, fib_rule_hdr 12, nlattr 4 (linux/netlink.h, rtnetlink.h, if_addr.h, fib_rules.h).
        Assert.Equal(16, RtnetlinkParser.MessageHeaderLength);
        Assert.Equal(16, RtnetlinkParser.IfInfoLength);
        Assert.Equal(8, RtnetlinkParser.IfAddrLength);
        Assert.Equal(12, RtnetlinkParser.RtMsgLength);
        Assert.Equal(12, RtnetlinkParser.FibRuleHeaderLength);
        Assert.Equal(4, NetlinkAttributeReader.HeaderLength);
    }
}
