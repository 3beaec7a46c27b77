using DnsWarden.Leak.Enrich;
using DnsWarden.Platform.Network;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Tests.Enrich;

/// <summary>The order of the route-class decision (docs/POLICY.md, route classes), one row per step.</summary>
public sealed class RouteClassifierTests
{
    [Theory]
    [InlineData("lo", LinkType.Ethernet, RouteClass.Loopback)]
    [InlineData("lo0", LinkType.Null, RouteClass.Loopback)]
    [InlineData("anything", LinkType.Null, RouteClass.Loopback)]
    [InlineData("wg0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("tun3", LinkType.Ethernet, RouteClass.Tunnel)]
    [InlineData("tailscale0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("eth0", LinkType.Raw, RouteClass.Physical)]
    [InlineData("enp3s0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("wlan0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("vpn0", LinkType.Raw, RouteClass.Tunnel)]
    [InlineData("br-lan", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("ifb0", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("if3", LinkType.Ethernet, RouteClass.Unknown)]
    [InlineData("any", LinkType.LinuxSll2, RouteClass.Unknown)]
    [InlineData("ifindex7", LinkType.LinuxSll2, RouteClass.Unknown)]
    [InlineData("veth1", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("veth9f2c1a0", LinkType.LinuxSll2, RouteClass.Virtual)]
    [InlineData("docker0", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("br-0123456789ab", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("br-0123456789", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("br0", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("bridge", LinkType.Ethernet, RouteClass.Physical)]
    [InlineData("virbr0", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("vnet3", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("cni0", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("podman1", LinkType.Ethernet, RouteClass.Virtual)]
    [InlineData("tap0", LinkType.Ethernet, RouteClass.Tunnel)]
    public void Heuristics(string name, LinkType link, RouteClass expected) =>
        Assert.Equal(expected, new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel)).Classify(name, link).Class);

    [Fact]
    public void PolicyHints_ComeFirst()
    {
        LeakPolicy policy = Profiles.Create(PolicyProfile.FullTunnel) with
        {
            InterfaceClasses = [new InterfaceHint(new InterfacePattern("wg*"), RouteClass.Physical), new InterfaceHint(new InterfacePattern("eth9"), RouteClass.Tunnel)],
        };
        var routes = new RouteClassifier(policy);

        RouteClassResult wg = routes.Classify("wg0", LinkType.Raw);
        Assert.Equal(RouteClass.Physical, wg.Class);
        Assert.Equal("policy hint", wg.Reason);
        Assert.Equal(RouteClass.Tunnel, routes.Classify("eth9", LinkType.Ethernet).Class);
    }

    [Theory]
    [InlineData("veth1", RouteClass.Virtual, "veth (kernel")]
    [InlineData("uplink", RouteClass.Physical, "carrying a route through a gateway")]
    [InlineData("br0", RouteClass.Virtual, "bridge of veth1, vnet0")]
    [InlineData("lan", RouteClass.Physical, "bridge with a physical port (enp1s0)")]
    [InlineData("vnet0", RouteClass.Virtual, "tap, port of bridge br0")]
    [InlineData("tap7", RouteClass.Tunnel, "tunnel name")]
    [InlineData("enp1s0", RouteClass.Physical, "physical interface name")]
    [InlineData("docker0", RouteClass.Virtual, "bridge without ports")]
    public void KernelFacts_DecideVirtual_BeforeNames(string name, RouteClass expected, string reason)
    {
        var table = new Table(InterfaceFacts.FromDump(
        [
            Link(2, "enp1s0", null, master: 5),
            Link(3, "veth1", "veth", master: 4),
            Link(4, "br0", "bridge"),
            Link(5, "lan", "bridge"),
            Link(6, "vnet0", "tun", master: 4),
            Link(7, "tap7", "tun"),
            Link(8, "uplink", "veth"),
            Link(9, "docker0", "bridge"),
        ],
        [new RouteInfo(System.Net.Sockets.AddressFamily.InterNetwork, RouteInfo.TableMain, null, 0, null, 8, null, 0, 0, RouteInfo.TypeUnicast, null, [])]));

        RouteClassResult result = new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel), table).Classify(name, LinkType.LinuxSll2);

        Assert.Equal(expected, result.Class);
        Assert.Contains(reason, result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AVeth_IsAWayOut_WhenARouteThroughAGatewayLeavesByIt_NotForItsOwnSubnet()
    {
        System.Net.IPAddress net = System.Net.IPAddress.Parse("10.9.0.0"), web = System.Net.IPAddress.Parse("203.0.113.80");
        RouteInfo onLink = new(System.Net.Sockets.AddressFamily.InterNetwork, RouteInfo.TableMain, net, 24, null, 3, null, 2, 253, RouteInfo.TypeUnicast, null, []);
        RouteInfo viaGateway = onLink with { Destination = web, DestinationLength = 32, Gateway = System.Net.IPAddress.Parse("10.9.0.1"), OutputInterfaceIndex = 4 };
        var table = new Table(InterfaceFacts.FromDump([Link(3, "vethc0", "veth"), Link(4, "out0", "veth")], [onLink, viaGateway]));
        var routes = new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel), table);

        Assert.Equal(RouteClass.Virtual, routes.Classify("vethc0", LinkType.Ethernet).Class);
        Assert.Equal(RouteClass.Physical, routes.Classify("out0", LinkType.Ethernet).Class);
    }

    [Fact]
    public void KernelFacts_OverruleAVirtualLookingName()
    {
        // "br0" reads as a bridge of containers, but the kernel says it holds the physical card: the host's uplink.
        var table = new Table(InterfaceFacts.FromDump([Link(2, "eno1", null, master: 3), Link(3, "br0", "bridge")], []));
        Assert.Equal(RouteClass.Physical, new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel), table).Classify("br0", LinkType.Ethernet).Class);
        Assert.Equal(RouteClass.Virtual, new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel)).Classify("br0", LinkType.Ethernet).Class);
    }

    [Fact]
    public void ANewReadingOfTheTable_IsJudgedAgain()
    {
        var table = new Table(InterfaceFacts.FromDump([Link(3, "if9", "veth")], []));
        var routes = new RouteClassifier(Profiles.Create(PolicyProfile.FullTunnel), table);
        Assert.Equal(RouteClass.Virtual, routes.Classify("if9", LinkType.Ethernet).Class);

        table.Replace(InterfaceFacts.FromDump([Link(3, "if9", null)], []));
        Assert.Equal(RouteClass.Unknown, routes.Classify("if9", LinkType.Ethernet).Class);
    }

    private static LinkInfo Link(int index, string name, string? kind, int master = 0) =>
        new(index, name, LinkInfo.ArphrdEther, LinkInfo.FlagUp, 1500, 6, kind, master, master == 0 ? null : "bridge");

    private sealed class Table(Dictionary<string, InterfaceFacts> facts) : IInterfaceTable
    {
        private Dictionary<string, InterfaceFacts> _facts = facts;

        public int Version { get; private set; }

        public InterfaceFacts? Find(string name) => _facts.GetValueOrDefault(name);

        public string? NameOf(int index) => _facts.Values.FirstOrDefault(f => f.Index == index)?.Name;

        public void Replace(Dictionary<string, InterfaceFacts> facts)
        {
            _facts = facts;
            Version++;
        }
    }
}
