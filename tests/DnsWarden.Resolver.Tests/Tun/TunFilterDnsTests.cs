using DnsWarden.Guard;
using DnsWarden.Guard.Tun;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Resolver.Tests.Tun.TunFixture;

namespace DnsWarden.Resolver.Tests.Tun;

/// <summary>DNS to any address is the engine's, 853 is refused everywhere, the virtual addresses are the configured ones, the TTL floor holds.</summary>
public sealed class TunFilterDnsTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void UdpDnsToAnyAddressIsAnsweredByTheEngineFromThatAddress(int version)
    {
        var f = new TunFixture();
        byte[] answer = f.Resolve(version, server: Unresolved(version));

        IpPacketInfo info = ReadValid(answer);
        Assert.Equal(Unresolved(version), info.Source);
        Assert.Equal(53, info.SourcePort);
        Assert.Equal(Client(version), info.Destination);
        Assert.Equal(40000, info.DestinationPort);
        Assert.True(f.Tracker.Contains(Resolved(version), f.Engine.NowTicks));
        Assert.Equal(0, f.Filter.Counters.PassedOut);
        Assert.Equal(0, f.Filter.Counters.FlowsCreated);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void InDnsOnlyModeOnlyTheVirtualAddressesAnswerAndOtherDnsThatReachesTheFilterIsRefused(int version)
    {
        var f = new TunFixture(new TunFilterOptions { Mode = TunFilterMode.DnsOnly });
        Assert.Equal(f.VirtualDns(version), ReadValid(f.Resolve(version)).Source);

        IpAddr inSubnet = version == 4 ? TunFilterOptions.DefaultVirtualDnsV4 : TunFilterOptions.DefaultVirtualDnsV6;
        var other = new TunFixture(new TunFilterOptions { Mode = TunFilterMode.DnsOnly, VirtualDns = [IpAddr.Parse(version == 4 ? "100.96.128.1" : "fd00:64::1")] });
        byte[] query = Udp(Client(version), inSubnet, 40000, 53, [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(TunVerdict.Reply, other.Out(query, out byte[] unreachable));
        TunFilterTests.AssertUnreachableQuoting(unreachable, query, version, portUnreachable: true);
        Assert.Equal(TunVerdict.Reply, other.Out(Tcp(Client(version), inSubnet, 40001, 53, TcpFlags.Syn), out _));
        Assert.Equal(0, other.Filter.Counters.DnsQueries);
        Assert.Equal(2, other.Filter.Counters.RefusedNoService);

        // Not DNS: dns-only passes it.
        Assert.Equal(TunVerdict.Pass, other.Out(Tcp(Client(version), Unresolved(version), 40002, 80, TcpFlags.Syn), out _));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void DnsToAnAddressDnsHandedOutIsStillAnsweredNeverPassedAsAFlow(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.True(f.Tracker.Contains(Resolved(version), f.Engine.NowTicks));

        byte[] answer = f.Resolve(version, id: 0x0707, server: Resolved(version));
        Assert.Equal(Resolved(version), ReadValid(answer).Source);
        Assert.Equal(0, f.Filter.Counters.PassedOut);
        Assert.Equal(2, f.Filter.Counters.DnsAnswers);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void TcpDnsThatMissedTheNatRuleIsResetEvenToAResolvedAddress(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        byte[] syn = Tcp(Client(version), Resolved(version), 41000, 53, TcpFlags.Syn, sequence: 10);
        Assert.Equal(TunVerdict.Reply, f.Out(syn, out byte[] reply));
        IpPacketInfo rst = ReadValid(reply);
        Assert.Equal(Resolved(version), rst.Source);
        Assert.Equal(TcpFlagBits.Rst | TcpFlagBits.Ack, rst.TcpFlags);
        Assert.Equal(new RefusedPacket(RefusedKind.NoService, IpProtocol.Tcp, Resolved(version), 53), Assert.Single(f.RefusedEvents));
        Assert.Equal(0, f.Filter.Counters.FlowsCreated);
    }

    [Theory]
    [InlineData(4, TunFilterMode.Firewall)]
    [InlineData(6, TunFilterMode.Firewall)]
    [InlineData(4, TunFilterMode.DnsOnly)]
    [InlineData(6, TunFilterMode.DnsOnly)]
    public void Port853IsRefusedToEveryAddressAndCounted(int version, TunFilterMode mode)
    {
        var f = new TunFixture(new TunFilterOptions { Mode = mode });
        f.Resolve(version);
        IpAddr[] targets = [Resolved(version), Unresolved(version), f.VirtualDns(version)];
        foreach (IpAddr target in targets)
        {
            byte[] syn = Tcp(Client(version), target, 42000, 853, TcpFlags.Syn, sequence: 5);
            Assert.Equal(TunVerdict.Reply, f.Out(syn, out byte[] rst));
            Assert.Equal(TcpFlagBits.Rst | TcpFlagBits.Ack, ReadValid(rst).TcpFlags);

            byte[] doq = Udp(Client(version), target, 42001, 853, [0xC0, 0, 0, 0, 1]);
            Assert.Equal(TunVerdict.Reply, f.Out(doq, out byte[] unreachable));
            TunFilterTests.AssertUnreachableQuoting(unreachable, doq, version, portUnreachable: true);
        }

        Assert.Equal(6, f.Filter.Counters.RefusedDot);
        Assert.Equal(6, f.RefusedEvents.Count);
        Assert.All(f.RefusedEvents, e => Assert.Equal(RefusedKind.Dot, e.Kind));
        Assert.Equal(0, f.Filter.Counters.FlowsCreated);
        Assert.Equal("dot", TunRefusals.KindName(RefusedKind.Dot));
    }

    [Fact]
    public void ConfiguredVirtualAddressesReplaceTheDefaults()
    {
        IpAddr v4 = IpAddr.Parse("100.96.128.1");
        IpAddr v6 = IpAddr.Parse("fd00:64::1");
        var f = new TunFixture(new TunFilterOptions { VirtualDns = [v4, v6] });
        Assert.Equal(v4, ReadValid(f.Resolve(4)).Source);
        Assert.Equal(v6, ReadValid(f.Resolve(6)).Source);

        // Another port on a configured address is no service; on the old default it is an ordinary unresolved address.
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(4), v4, 43000, 80, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(4), TunFilterOptions.DefaultVirtualDnsV4, 43001, 80, TcpFlags.Syn), out _));
        Assert.Equal(
            [new RefusedPacket(RefusedKind.NoService, IpProtocol.Tcp, v4, 80), new RefusedPacket(RefusedKind.Unresolved, IpProtocol.Tcp, TunFilterOptions.DefaultVirtualDnsV4, 80)],
            f.RefusedEvents);
    }

    [Fact]
    public void ATtlOfZeroStaysOpenForTheFloorAndNotAfter()
    {
        var f = new TunFixture(tracker: AddressHold.Tracker(AddressHold.DefaultMinimum));
        f.Resolve(4, name: ZeroTtlName);
        f.Time.Advance(AddressHold.DefaultMinimum - TimeSpan.FromSeconds(1));
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(4), ZeroTtlV4, 44000, 80, TcpFlags.Syn), out _));

        f.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(4), ZeroTtlV4, 44001, 80, TcpFlags.Syn), out _));
    }

    [Fact]
    public void WithoutAFloorATtlOfZeroIsRefusedAtOnce()
    {
        var f = new TunFixture(tracker: AddressHold.Tracker(TimeSpan.Zero));
        f.Resolve(4, name: ZeroTtlName);
        f.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(4), ZeroTtlV4, 44000, 80, TcpFlags.Syn), out _));
        Assert.Equal(RefusedKind.Unresolved, Assert.Single(f.RefusedEvents).Kind);
    }
}
