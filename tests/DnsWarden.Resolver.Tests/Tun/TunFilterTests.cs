using System.Buffers.Binary;
using DnsWarden.Guard.Tun;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Resolver.Tests.Tun.TunFixture;

namespace DnsWarden.Resolver.Tests.Tun;

public sealed class TunFilterTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void VirtualDnsQueryIsAnsweredOnTheSinkWithAddressesAndPortsSwapped(int version)
    {
        var f = new TunFixture();
        byte[] answer = f.Resolve(version, id: 0x5151);

        IpPacketInfo info = ReadValid(answer);
        Assert.Equal(version, info.Version);
        Assert.Equal(IpProtocol.Udp, info.Protocol);
        Assert.Equal(f.VirtualDns(version), info.Source);
        Assert.Equal(Client(version), info.Destination);
        Assert.Equal(53, info.SourcePort);
        Assert.Equal(40000, info.DestinationPort);

        byte[] dns = answer.AsSpan(info.PayloadOffset, info.PayloadLength).ToArray();
        Assert.Equal(0x5151, BinaryPrimitives.ReadUInt16BigEndian(dns));
        var reader = new DnsMessageReader(dns);
        var addresses = new List<IpAddr>();
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer && r.TryReadAddress(out IpAddr a))
            {
                addresses.Add(a);
            }
        }

        Assert.Equal([Resolved(version)], addresses);
        Assert.Equal(1, f.Filter.Counters.DnsQueries);
        Assert.Equal(1, f.Filter.Counters.DnsAnswers);
        Assert.True(f.Tracker.Contains(Resolved(version), f.Engine.NowTicks));

        // The oracle reads the same answer.
        ARSoft.Tools.Net.Dns.DnsMessage parsed = DnsWarden.Wire.Tests.Dns.ArsoftOracle.Parse(dns);
        Assert.Equal(ARSoft.Tools.Net.Dns.ReturnCode.NoError, parsed.ReturnCode);
        Assert.Single(parsed.AnswerRecords);
    }

    [Fact]
    public void AQueryTheEngineDropsGetsNoReplyButIsConsumed()
    {
        var f = new TunFixture();

        // A DNS response sent to the service: the engine answers nothing (0 bytes).
        byte[] response = DnsWarden.Resolver.Tests.Cache.DnsCacheTests.Query(ResolvedName);
        response[2] |= 0x80;
        Assert.Equal(TunVerdict.Consumed, f.Out(Udp(ClientV4, f.VirtualDns(4), 40000, 53, response), out _));
        Assert.Equal(0, f.Sink.Count);
        Assert.Equal(1, f.Filter.Counters.DnsQueries);
        Assert.Equal(0, f.Filter.Counters.DnsAnswers);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void TcpToTheVirtualDnsGetsAResetNeverSilence(int version)
    {
        var f = new TunFixture();
        byte[] syn = Tcp(Client(version), f.VirtualDns(version), 41000, 53, TcpFlags.Syn, sequence: 7000);
        Assert.Equal(TunVerdict.Reply, f.Out(syn, out byte[] reply));

        IpPacketInfo rst = ReadValid(reply);
        Assert.Equal(IpProtocol.Tcp, rst.Protocol);
        Assert.Equal(f.VirtualDns(version), rst.Source);
        Assert.Equal(Client(version), rst.Destination);
        Assert.Equal(53, rst.SourcePort);
        Assert.Equal(41000, rst.DestinationPort);
        Assert.Equal(TcpFlagBits.Rst | TcpFlagBits.Ack, rst.TcpFlags);
        Assert.Equal(7001u, rst.TcpAcknowledgment);

        Assert.Equal(1, f.Filter.Counters.RefusedNoService);
        RefusedPacket refused = Assert.Single(f.RefusedEvents);
        Assert.Equal(new RefusedPacket(RefusedKind.NoService, IpProtocol.Tcp, f.VirtualDns(version), 53), refused);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void OtherUdpToTheVirtualAddressGetsPortUnreachableAndOtherProtocolsAreDroppedOutLoud(int version)
    {
        var f = new TunFixture();
        byte[] udp = Udp(Client(version), f.VirtualDns(version), 40001, 5353, [1, 2, 3]);
        Assert.Equal(TunVerdict.Reply, f.Out(udp, out byte[] reply));
        AssertUnreachableQuoting(reply, udp, version, portUnreachable: true);

        byte[] ping = Echo(Client(version), f.VirtualDns(version), request: true, identifier: 9);
        Assert.Equal(TunVerdict.Drop, f.Out(ping, out _));
        Assert.Equal(2, f.Filter.Counters.RefusedNoService);
        Assert.All(f.RefusedEvents, e => Assert.Equal(RefusedKind.NoService, e.Kind));
        Assert.Equal(2, f.RefusedEvents.Count);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void ANameResolvedThroughTheVirtualDnsOpensItsAddressAndNothingElse(int version)
    {
        var f = new TunFixture();
        byte[] toUnresolved = Tcp(Client(version), Unresolved(version), 42000, 443, TcpFlags.Syn, sequence: 100);
        Assert.Equal(TunVerdict.Reply, f.Out(toUnresolved, out _));

        f.Resolve(version);
        byte[] syn = Tcp(Client(version), Resolved(version), 42001, 443, TcpFlags.Syn, sequence: 100);
        Assert.Equal(TunVerdict.Pass, f.Out(syn, out byte[] none));
        Assert.Empty(none);
        Assert.Equal(1, f.Filter.Counters.FlowsCreated);

        // SYN to another address: RST,ACK with SEQ 0 and ACK = SEG.SEQ + 1 (RFC 9293 §3.10.7.1).
        Assert.Equal(TunVerdict.Reply, f.Out(toUnresolved, out byte[] reply));
        IpPacketInfo rst = ReadValid(reply);
        Assert.Equal(Unresolved(version), rst.Source);
        Assert.Equal(Client(version), rst.Destination);
        Assert.Equal(TcpFlagBits.Rst | TcpFlagBits.Ack, rst.TcpFlags);
        Assert.Equal(0u, rst.TcpSequence);
        Assert.Equal(101u, rst.TcpAcknowledgment);

        // A segment with ACK of an unknown flow: <SEQ=SEG.ACK><CTL=RST>.
        byte[] ack = Tcp(Client(version), Unresolved(version), 42002, 443, TcpFlags.Ack | TcpFlags.Psh, sequence: 500, acknowledgment: 9999, dataLength: 10);
        Assert.Equal(TunVerdict.Reply, f.Out(ack, out reply));
        rst = ReadValid(reply);
        Assert.Equal(TcpFlagBits.Rst, rst.TcpFlags);
        Assert.Equal(9999u, rst.TcpSequence);

        // Non-SYN to a resolved address with no flow is refused too.
        byte[] stray = Tcp(Client(version), Resolved(version), 42003, 443, TcpFlags.Ack, sequence: 1, acknowledgment: 2);
        Assert.Equal(TunVerdict.Reply, f.Out(stray, out _));

        Assert.Equal(4, f.Filter.Counters.RefusedUnresolved);
        Assert.All(f.RefusedEvents, e => Assert.Equal(RefusedKind.Unresolved, e.Kind));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void UdpToAnUnresolvedAddressGetsPortUnreachableQuotingIt(int version)
    {
        var f = new TunFixture();
        byte[] udp = Udp(Client(version), Unresolved(version), 43000, 5000, new byte[100]);
        Assert.Equal(TunVerdict.Reply, f.Out(udp, out byte[] reply));
        AssertUnreachableQuoting(reply, udp, version, portUnreachable: true);
        Assert.Equal(new RefusedPacket(RefusedKind.Unresolved, IpProtocol.Udp, Unresolved(version), 5000), Assert.Single(f.RefusedEvents));

        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(Client(version), Resolved(version), 43000, 5000, new byte[100]), out _));
        Assert.Equal(TunVerdict.Pass, f.In(Udp(Resolved(version), Client(version), 5000, 43000, new byte[10]), out _));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void PingToAnUnresolvedAddressIsAdministrativelyProhibitedAndToAResolvedOneIsAFlow(int version)
    {
        var f = new TunFixture();
        byte[] ping = Echo(Client(version), Unresolved(version), request: true, identifier: 77);
        Assert.Equal(TunVerdict.Reply, f.Out(ping, out byte[] reply));
        AssertUnreachableQuoting(reply, ping, version, portUnreachable: false);

        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Echo(Client(version), Resolved(version), request: true, identifier: 78), out _));
        Assert.Equal(TunVerdict.Pass, f.In(Echo(Resolved(version), Client(version), request: false, identifier: 78), out _));
        Assert.Equal(TunVerdict.Drop, f.In(Echo(Resolved(version), Client(version), request: false, identifier: 79), out _));

        // Other protocols to an unresolved address: dropped, still refused out loud.
        byte[] gre = Udp(Client(version), Unresolved(version), 1, 2, [0]);
        gre[version == 4 ? 9 : 6] = 47;
        Assert.Equal(TunVerdict.Drop, f.Out(gre, out _));
        Assert.Equal(2, f.Filter.Counters.RefusedUnresolved);
    }

    [Theory]
    [InlineData("ff02::2")]
    [InlineData("ff02::16")]
    [InlineData("224.0.0.251")]
    public void LinkScopedMulticastIsDroppedWithoutAReport(string destination)
    {
        var f = new TunFixture();
        IpAddr to = IpAddr.Parse(destination);
        byte[] packet = to.IsV4 ? Udp(Client(4), to, 5353, 5353, [0]) : Icmp(Client(6), to, 133, 0, new byte[4]);
        Assert.Equal(TunVerdict.Drop, f.Out(packet, out byte[] reply));
        Assert.Empty(reply);
        Assert.Empty(f.RefusedEvents);
        Assert.Equal(0, f.Filter.Counters.RefusedUnresolved);
        Assert.Equal(1, f.Filter.Counters.DroppedLinkScoped);

        // A routable multicast group is not link-scoped: refused as unresolved like any other address.
        Assert.Equal(TunVerdict.Drop, f.Out(Udp(Client(6), IpAddr.Parse("ff0e::1"), 5000, 5000, [0]), out _));
        Assert.Equal(1, f.Filter.Counters.RefusedUnresolved);
    }

    [Theory]
    [InlineData(4, 443)]
    [InlineData(4, 80)]
    [InlineData(6, 443)]
    [InlineData(6, 80)]
    public void QuicIsDroppedEvenToAResolvedAddress(int version, ushort port)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.Equal(TunVerdict.Drop, f.Out(Udp(Client(version), Resolved(version), 44000, port, new byte[1200]), out byte[] reply));
        Assert.Empty(reply);
        Assert.Equal(1, f.Filter.Counters.RefusedQuic);
        Assert.Equal(0, f.Filter.Counters.FlowsCreated);
        Assert.Equal(new RefusedPacket(RefusedKind.Quic, IpProtocol.Udp, Resolved(version), port), Assert.Single(f.RefusedEvents));

        // TCP to the same port is what the application falls back to.
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 44001, port, TcpFlags.Syn), out _));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void AfterTheAddressExpiresANewConnectionIsRefusedWhileTheEstablishedOneLivesBothWays(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 45000, 443, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Pass, f.In(Tcp(Resolved(version), Client(version), 443, 45000, TcpFlags.Syn | TcpFlags.Ack, 5000, 1001), out _));

        // The answer's TTL is 60 s; the flow's idle timeout 15 min, refreshed by traffic.
        for (int i = 0; i < 3; i++)
        {
            f.Time.Advance(TimeSpan.FromSeconds(50));
            Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 45000, 443, TcpFlags.Ack, 1001, 5001, 100), out _));
            Assert.Equal(TunVerdict.Pass, f.In(Tcp(Resolved(version), Client(version), 443, 45000, TcpFlags.Ack, 5001, 1101, 1000), out _));
        }

        f.Engine.Sweep();
        Assert.False(f.Tracker.Contains(Resolved(version), f.Engine.NowTicks));
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(version), Resolved(version), 45001, 443, TcpFlags.Syn), out byte[] reply));
        Assert.Equal(IpProtocol.Tcp, ReadValid(reply).Protocol);
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 45000, 443, TcpFlags.Ack, 1101, 6001), out _));
        Assert.Equal(0, f.Filter.Sweep());
        Assert.Equal(TunVerdict.Pass, f.In(Tcp(Resolved(version), Client(version), 443, 45000, TcpFlags.Ack, 6001, 1101), out _));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void IdleFlowsExpireAndSweepForgetsThem(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(Client(version), Resolved(version), 46000, 5000, [1]), out _));
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 46001, 443, TcpFlags.Syn), out _));
        Assert.Equal(2, f.Filter.FlowCount);

        f.Time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(TunVerdict.Drop, f.In(Udp(Resolved(version), Client(version), 5000, 46000, [1]), out _));
        Assert.Equal(TunVerdict.Pass, f.In(Tcp(Resolved(version), Client(version), 443, 46001, TcpFlags.Syn | TcpFlags.Ack, 1, 1001), out _));
        Assert.Equal(1, f.Filter.Sweep());
        Assert.Equal(1, f.Filter.FlowCount);

        f.Time.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(1, f.Filter.Sweep());
        Assert.Equal(0, f.Filter.FlowCount);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void AResetShortensTheFlowsLife(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 47000, 443, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Pass, f.In(Tcp(Resolved(version), Client(version), 443, 47000, TcpFlags.Rst | TcpFlags.Ack, 0, 1001), out _));
        f.Time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(1, f.Filter.Sweep());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void InboundFromNoFlowIsDroppedAndAPacketTooBigForALiveFlowPasses(int version)
    {
        var f = new TunFixture();
        IpAddr router = version == 4 ? IpAddr.Parse("198.51.100.1") : IpAddr.Parse("2001:db8:1::1");
        Assert.Equal(TunVerdict.Drop, f.In(Tcp(Unresolved(version), Client(version), 443, 48000, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Drop, f.In(Udp(Resolved(version), Client(version), 53, 48000, [1]), out _));
        Assert.Equal(2, f.Filter.Counters.DroppedInbound);

        f.Resolve(version);
        byte[] big = Tcp(Client(version), Resolved(version), 48001, 443, TcpFlags.Ack, 1, 1, dataLength: 1400);
        Assert.Equal(TunVerdict.Pass, f.Out(Tcp(Client(version), Resolved(version), 48001, 443, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Pass, f.Out(big, out _));
        Assert.Equal(TunVerdict.Pass, f.In(TooBig(router, Client(version), big), out _));

        // The same error about a flow that does not exist, or addressed to someone the quote did not come from.
        byte[] other = Tcp(Client(version), Resolved(version), 48002, 443, TcpFlags.Ack, 1, 1, dataLength: 1400);
        Assert.Equal(TunVerdict.Drop, f.In(TooBig(router, Client(version), other), out _));
        IpAddr someoneElse = version == 4 ? IpAddr.Parse("10.0.0.99") : IpAddr.Parse("fd00:1::99");
        Assert.Equal(TunVerdict.Drop, f.In(TooBig(router, someoneElse, big), out _));
        Assert.Equal(1, f.Filter.Counters.PassedIn);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void AnIcmpErrorTheNamespaceSendsAboutALiveFlowPassesAndAboutNoFlowIsRefused(int version)
    {
        var f = new TunFixture();
        f.Resolve(version);
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(Client(version), Resolved(version), 55000, 5000, [1]), out _));
        byte[] late = Udp(Resolved(version), Client(version), 5000, 55000, new byte[40]);
        Assert.Equal(TunVerdict.Pass, f.In(late, out _));

        // The namespace's socket closed: its port unreachable about the inbound datagram goes back out.
        byte[] quote = new byte[4 + late.Length];
        late.CopyTo(quote, 4);
        byte[] error = version == 4 ? Icmp(ClientV4, ResolvedV4, 3, 3, quote) : Icmp(ClientV6, ResolvedV6, 1, 4, quote);
        Assert.Equal(TunVerdict.Pass, f.Out(error, out _));

        // The same error, quoting the same live flow, sent to anyone but that flow's peer: a channel out, refused.
        byte[] elsewhere = version == 4 ? Icmp(ClientV4, UnresolvedV4, 3, 3, quote) : Icmp(ClientV6, UnresolvedV6, 1, 4, quote);
        Assert.NotEqual(TunVerdict.Pass, f.Out(elsewhere, out _));

        byte[] stranger = Udp(Unresolved(version), Client(version), 5000, 55001, new byte[40]);
        byte[] quote2 = new byte[4 + stranger.Length];
        stranger.CopyTo(quote2, 4);
        byte[] error2 = version == 4 ? Icmp(ClientV4, UnresolvedV4, 3, 3, quote2) : Icmp(ClientV6, UnresolvedV6, 1, 4, quote2);
        Assert.Equal(TunVerdict.Drop, f.Out(error2, out _));
        Assert.Equal(2, f.Filter.Counters.RefusedUnresolved);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void DnsOnlyPassesUntrackedTrafficAndSwitchingModesTakesEffectOnTheNextPacket(int version)
    {
        var f = new TunFixture(new TunFilterOptions { Mode = TunFilterMode.DnsOnly });
        byte[] syn = Tcp(Client(version), Unresolved(version), 49000, 443, TcpFlags.Syn);
        byte[] inbound = Tcp(Unresolved(version), Client(version), 443, 49000, TcpFlags.Syn | TcpFlags.Ack, 1, 1001);
        Assert.Equal(TunVerdict.Pass, f.Out(syn, out _));
        Assert.Equal(TunVerdict.Pass, f.In(inbound, out _));
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(Client(version), Unresolved(version), 49000, 443, [1]), out _));

        // The virtual DNS still answers in DNS-only mode.
        f.Resolve(version);

        f.Filter.Mode = TunFilterMode.Firewall;
        Assert.Equal(TunVerdict.Reply, f.Out(syn, out _));
        Assert.Equal(TunVerdict.Drop, f.In(inbound, out _));

        f.Filter.Mode = TunFilterMode.DnsOnly;
        Assert.Equal(TunVerdict.Pass, f.Out(syn, out _));
        Assert.Equal(3, f.Filter.Counters.PassedOut);
        Assert.Equal(1, f.Filter.Counters.PassedIn);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    public void TheVirtualSubnetEarnsNothing_ASpoofedSourceFromOutsideIsDropped(int version)
    {
        // Anyone who can route to the host can write a source inside the virtual subnet: it opens no way in or out.
        var f = new TunFixture();
        IpAddr neighbour = version == 4 ? IpAddr.Parse("10.30.30.31") : IpAddr.Parse("fd00:7475:6e::80");
        Assert.Equal(TunVerdict.Drop, f.In(Tcp(neighbour, Client(version), 8080, 50000, TcpFlags.Syn), out _));
        Assert.Equal(TunVerdict.Drop, f.In(Udp(neighbour, Client(version), 5000, 50000, [1, 2, 3]), out _));
        Assert.Equal(TunVerdict.Reply, f.Out(Tcp(Client(version), neighbour, 50000, 8080, TcpFlags.Syn), out _));
        Assert.Equal(0, f.Filter.Counters.PassedIn);
        Assert.Equal(0, f.Filter.Counters.PassedOut);
        Assert.Equal(0, f.Filter.FlowCount);
    }

    [Fact]
    public void SourceRoutedPacketsAreDropped_EvenToAResolvedAddress()
    {
        var f = new TunFixture();
        f.Resolve(4);
        f.Resolve(6);

        // IPv6 routing header (type 4, which an unprivileged socket can set) with the resolved address as first hop.
        byte[] segment = DnsWarden.Wire.Tests.Packets.TunPackets.Segment(Udp(ClientV6, ResolvedV6, 51000, 5000, [1]));
        byte[] routed = DnsWarden.Wire.Tests.Packets.TunPackets.V6WithExtensions(
            ClientV6, ResolvedV6, IpProtocol.Udp, segment, new DnsWarden.Wire.Tests.Packets.Extension(IpProtocol.Routing, 24));
        Assert.Equal(TunVerdict.Drop, f.Out(routed, out _));

        // IPv4 with an options field (LSRR and the like).
        Assert.Equal(TunVerdict.Drop, f.Out(DnsWarden.Wire.Tests.Packets.TunPackets.WithIpv4Options(Udp(ClientV4, ResolvedV4, 51000, 5000, [1])), out _));
        Assert.Equal(2, f.Filter.Counters.RefusedSourceRouted);
        Assert.Equal(0, f.Filter.Counters.PassedOut);

        // The same packets without them pass.
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(ClientV4, ResolvedV4, 51000, 5000, [1]), out _));
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(ClientV6, ResolvedV6, 51000, 5000, [1]), out _));
    }

    [Fact]
    public void LaterFragmentsPassOnlyOnALiveFlowsAddressPair()
    {
        var f = new TunFixture();
        byte[] later = LaterFragmentV4(ClientV4, ResolvedV4);
        Assert.Equal(TunVerdict.Drop, f.Out(later, out _));
        Assert.Equal(1, f.Filter.Counters.DroppedFragments);
        Assert.Equal(TunVerdict.Drop, f.In(LaterFragmentV4(ResolvedV4, ClientV4), out _));

        f.Resolve(4);
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(ClientV4, ResolvedV4, 51000, 5000, [1]), out _));
        Assert.Equal(TunVerdict.Pass, f.Out(later, out _));
        Assert.Equal(TunVerdict.Pass, f.In(LaterFragmentV4(ResolvedV4, ClientV4), out _));
        Assert.Equal(TunVerdict.Drop, f.Out(LaterFragmentV4(ClientV4, UnresolvedV4), out _));
    }

    [Fact]
    public void MalformedPacketsAreDroppedAndCounted()
    {
        var f = new TunFixture();
        Assert.Equal(TunVerdict.Drop, f.Out([], out _));
        Assert.Equal(TunVerdict.Drop, f.Out([0x45, 0, 0], out _));
        Assert.Equal(TunVerdict.Drop, f.In([0x60], out _));
        byte[] udp = Udp(ClientV4, ResolvedV4, 1, 2, [1, 2, 3]);
        Assert.Equal(TunVerdict.Drop, f.Out(udp.AsSpan(0, udp.Length - 1).ToArray(), out _));
        Assert.Equal(4, f.Filter.Counters.Malformed);
    }

    [Fact]
    public void FirewallModeNeedsATracker()
    {
        var engine = new DnsWarden.Resolver.Engine.DnsEngine(new DnsWarden.Resolver.Engine.DnsEngineOptions());
        Assert.Throws<ArgumentException>(() => new TunFilter(new TunFilterOptions(), engine, new ListSink()));
        var dnsOnly = new TunFilter(new TunFilterOptions { Mode = TunFilterMode.DnsOnly }, engine, new ListSink());
        Assert.Throws<InvalidOperationException>(() => dnsOnly.Mode = TunFilterMode.Firewall);
        Assert.Equal(TunFilterMode.DnsOnly, dnsOnly.Mode);
    }

    /// <summary>RFC 791 §3.1: a UDP datagram's second fragment (offset 1480 bytes), no transport header.</summary>
    private static byte[] LaterFragmentV4(IpAddr source, IpAddr destination)
    {
        var buffer = new byte[20 + 64];
        Assert.True(IpHeaderWriter.TryWriteIpv4Header(buffer, source, destination, IpProtocol.Udp, 64, new IpHeaderOptions { FragmentOffset = 1480, Identification = 7 }, out int n));
        Assert.Equal(20, n);
        Assert.True(IpPacket.TryRead(buffer, out IpPacketInfo info, out _));
        Assert.True(info.IsLaterFragment);
        return buffer;
    }

    /// <summary>An ICMP destination unreachable from the offending packet's destination quoting it from its first byte.</summary>
    internal static void AssertUnreachableQuoting(byte[] reply, byte[] offending, int version, bool portUnreachable)
    {
        IpPacketInfo info = ReadValid(reply);
        Assert.True(IpPacket.TryRead(offending, out IpPacketInfo original, out _));
        Assert.Equal(original.Destination, info.Source);
        Assert.Equal(original.Source, info.Destination);
        Assert.Equal(version == 4 ? IpProtocol.Icmp : IpProtocol.IcmpV6, info.Protocol);
        Assert.Equal(version == 4 ? 3 : 1, info.IcmpType);
        Assert.Equal(version == 4 ? (portUnreachable ? 3 : 13) : (portUnreachable ? 4 : 1), info.IcmpCode);
        ReadOnlySpan<byte> quote = reply.AsSpan(info.PayloadOffset, info.PayloadLength);
        Assert.True(quote.Length > 0);
        Assert.True(quote.SequenceEqual(offending.AsSpan(0, quote.Length)));
    }
}
