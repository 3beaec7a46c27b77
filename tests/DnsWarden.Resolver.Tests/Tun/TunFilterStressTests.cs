using System.Buffers.Binary;
using DnsWarden.Guard.Tun;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Resolver.Tests.Tun.TunFixture;

namespace DnsWarden.Resolver.Tests.Tun;

public sealed class TunFilterStressTests
{
    [Fact]
    public void IPv6LaterFragmentsRideOnTheirFlowsAddressPair()
    {
        var f = new TunFixture();
        byte[] later = LaterFragmentV6(ClientV6, ResolvedV6);
        Assert.Equal(TunVerdict.Drop, f.Out(later, out _));
        f.Resolve(6);
        Assert.Equal(TunVerdict.Pass, f.Out(Udp(ClientV6, ResolvedV6, 52000, 5000, [1]), out _));
        Assert.Equal(TunVerdict.Pass, f.Out(later, out _));
        Assert.Equal(TunVerdict.Pass, f.In(LaterFragmentV6(ResolvedV6, ClientV6), out _));
    }

    [Fact]
    public void TheFlowTableStaysWithinMaxFlowsUnder200kRandomFlowsAndRefusesWhenFull()
    {
        const int max = 1000;
        var f = new TunFixture(new TunFilterOptions { MaxFlows = max });
        f.Resolve(4);
        var random = new Random(7);
        byte[] packet = Tcp(ClientV4, ResolvedV4, 1, 443, TcpFlags.Syn);
        var reply = new byte[256];
        int passed = 0;
        for (int i = 0; i < 200_000; i++)
        {
            // Random source address in 10.0/16 and source port: new 5-tuples (checksums do not matter to the filter).
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(14), (ushort)random.Next());
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), (ushort)random.Next(1, 65536));
            if (f.Filter.Outbound(packet, reply, out _) == TunVerdict.Pass)
            {
                passed++;
            }

            Assert.InRange(f.Filter.FlowCount, 0, max);
            if (i == 100_000)
            {
                // Past the TCP idle time: the full table sweeps itself and takes new flows again (once resolved again).
                f.Time.Advance(TimeSpan.FromMinutes(16));
                f.Resolve(4);
            }
        }

        Assert.Equal(2 * max, passed);
        Assert.Equal(2 * max, f.Filter.Counters.FlowsCreated);
        Assert.Equal(200_000 - (2 * max), f.Filter.Counters.RefusedTableFull);
    }

    [Fact]
    public void ConcurrentOutboundInboundSweepAndModeSwitchesDoNotThrowAndCountersAddUp()
    {
        var f = new TunFixture(new TunFilterOptions { MaxFlows = 500 });
        f.Resolve(4);
        f.Resolve(6);
        byte[][] outbound =
        [
            .. Enumerable.Range(0, 300).Select(i => Tcp(ClientV4, ResolvedV4, (ushort)(10000 + i), 443, TcpFlags.Syn)),
            .. Enumerable.Range(0, 300).Select(i => Udp(ClientV6, ResolvedV6, (ushort)(10000 + i), 5000, [1])),
            Tcp(ClientV4, UnresolvedV4, 1, 443, TcpFlags.Syn),
            Udp(ClientV6, UnresolvedV6, 1, 443, [1]),
            Udp(ClientV4, ResolvedV4, 1, 443, [1]),
            Udp(ClientV4, f.VirtualDns(4), 1, 53, DnsCacheTests.Query(ResolvedName)),
            Tcp(ClientV4, f.VirtualDns(4), 1, 53, TcpFlags.Syn),
        ];
        byte[][] inbound =
        [
            .. Enumerable.Range(0, 300).Select(i => Tcp(ResolvedV4, ClientV4, 443, (ushort)(10000 + i), TcpFlags.Syn | TcpFlags.Ack, 1, 1001)),
            .. Enumerable.Range(0, 300).Select(i => Udp(ResolvedV6, ClientV6, 5000, (ushort)(10000 + i), [1])),
            Tcp(UnresolvedV4, ClientV4, 443, 1, TcpFlags.Syn),
        ];

        // Dedicated threads and fixed amounts of work (no thread-pool growth, no wall-clock window): the sender and
        // the receiver make 200,000 calls each while the janitor sweeps, switches modes and moves time until both are done.
        const int Calls = 200_000;
        long outCalls = 0;
        long inCalls = 0;
        int working = 2;
        var sender = new Thread(() =>
        {
            var reply = new byte[2048];
            for (int i = 0; i < Calls; i++)
            {
                f.Filter.Outbound(outbound[i % outbound.Length], reply, out _);
                outCalls++;
            }

            Interlocked.Decrement(ref working);
        });
        var receiver = new Thread(() =>
        {
            var reply = new byte[2048];
            for (int i = 0; i < Calls; i++)
            {
                f.Filter.Inbound(inbound[i % inbound.Length], reply, out _);
                inCalls++;
            }

            Interlocked.Decrement(ref working);
        });
        var janitor = new Thread(() =>
        {
            for (int i = 0; Volatile.Read(ref working) > 0; i++)
            {
                f.Filter.Sweep();
                f.Filter.Mode = i % 3 == 0 ? TunFilterMode.DnsOnly : TunFilterMode.Firewall;
                f.Time.Advance(TimeSpan.FromSeconds(1));
                if (i % 20 == 0)
                {
                    f.Sink.Take();
                }

                Thread.Sleep(1);
            }
        });
        foreach (Thread t in new[] { sender, receiver, janitor })
        {
            t.IsBackground = true;
            t.Start();
        }

        sender.Join();
        receiver.Join();
        janitor.Join();

        TunFilterCounters c = f.Filter.Counters;
        Assert.Equal(0, c.Malformed);
        Assert.Equal(outCalls + 2, c.PassedOut + c.DnsQueries + c.RefusedUnresolved + c.RefusedQuic + c.RefusedSourceRouted + c.RefusedNoService + c.RefusedTableFull + c.DroppedFragments);
        Assert.Equal(inCalls, c.PassedIn + c.DroppedInbound);
        Assert.Equal(c.DnsQueries, c.DnsAnswers + c.DnsDropped);
        Assert.InRange(f.Filter.FlowCount, 0, 500);
        Assert.Equal(Calls, outCalls);
        Assert.Equal(Calls, inCalls);
    }

    [Fact]
    public void APacketOfAnExistingFlowAllocatesNothing()
    {
        var f = new TunFixture();
        f.Resolve(4);
        f.Resolve(6);
        byte[] syn = Tcp(ClientV4, ResolvedV4, 53000, 443, TcpFlags.Syn);
        byte[] data = Tcp(ClientV4, ResolvedV4, 53000, 443, TcpFlags.Ack | TcpFlags.Psh, 1001, 1, dataLength: 1000);
        byte[] back = Tcp(ResolvedV4, ClientV4, 443, 53000, TcpFlags.Ack, 1, 2001, dataLength: 1000);
        byte[] udp6 = Udp(ClientV6, ResolvedV6, 53001, 5000, new byte[100]);
        byte[] udp6Back = Udp(ResolvedV6, ClientV6, 5000, 53001, new byte[100]);
        byte[] dnsOnly = Udp(ClientV4, UnresolvedV4, 53002, 9, new byte[10]);
        var reply = new byte[2048];
        Assert.Equal(TunVerdict.Pass, f.Filter.Outbound(syn, reply, out _));
        Assert.Equal(TunVerdict.Pass, f.Filter.Outbound(udp6, reply, out _));

        void Run()
        {
            for (int i = 0; i < 1000; i++)
            {
                f.Filter.Outbound(data, reply, out _);
                f.Filter.Inbound(back, reply, out _);
                f.Filter.Outbound(udp6, reply, out _);
                f.Filter.Inbound(udp6Back, reply, out _);
            }
        }

        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(0, f.Filter.Counters.DroppedInbound);

        f.Filter.Mode = TunFilterMode.DnsOnly;
        f.Filter.Outbound(dnsOnly, reply, out _);
        before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            f.Filter.Outbound(dnsOnly, reply, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task AnAnswerWaitingOnAnUpstreamReachesTheSinkLater()
    {
        var gate = new TaskCompletionSource();
        var forwarder = new SlowForwarder(gate.Task, q => DnsCacheTests.AnswerA(q, 300, "198.51.100.77"));
        var time = new DnsWarden.Resolver.Tests.Upstreams.ManualTime();
        var tracker = new IpTracker();
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = forwarder, Tracker = tracker, Time = time });
        var sink = new ListSink();
        var filter = new TunFilter(new TunFilterOptions(), engine, sink, time);
        IpAddr far = IpAddr.Parse("198.51.100.77");

        byte[] query = Udp(ClientV4, filter.Options.VirtualDns[0], 40000, 53, DnsCacheTests.Query("far.test", id: 0x0909));
        Assert.Equal(TunVerdict.Consumed, filter.Outbound(query, new byte[64], out _));
        Assert.Equal(0, sink.Count);
        gate.SetResult();

        for (int i = 0; i < 500 && sink.Count == 0; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        IpPacketInfo info = ReadValid(sink.Single());
        Assert.Equal(filter.Options.VirtualDns[0], info.Source);
        Assert.Equal(1, filter.Counters.DnsAnswers);
        Assert.True(tracker.Contains(far, engine.NowTicks));
        Assert.Equal(TunVerdict.Pass, filter.Outbound(Tcp(ClientV4, far, 1, 443, TcpFlags.Syn), new byte[64], out _));
    }

    [Fact]
    public void RandomBytesAndMutatedPacketsNeverThrowAndEveryReplyParses()
    {
        var f = new TunFixture();
        f.Resolve(4);
        f.Resolve(6);
        byte[] big = Tcp(ClientV4, ResolvedV4, 54000, 443, TcpFlags.Ack, 1, 1, dataLength: 1400);
        f.Out(Tcp(ClientV4, ResolvedV4, 54000, 443, TcpFlags.Syn), out _);
        byte[][] seeds =
        [
            Tcp(ClientV4, ResolvedV4, 54000, 443, TcpFlags.Syn),
            Tcp(ClientV6, UnresolvedV6, 54001, 443, TcpFlags.Syn | TcpFlags.Ack, 5, 6, 20),
            Udp(ClientV4, UnresolvedV4, 54002, 443, new byte[40]),
            Udp(ClientV6, f.VirtualDns(6), 54003, 53, DnsCacheTests.Query(ResolvedName, DnsType.AAAA)),
            Udp(ClientV4, f.VirtualDns(4), 54003, 53, DnsCacheTests.Query(ResolvedName)),
            Echo(ClientV4, UnresolvedV4, request: true, 3),
            Echo(ClientV6, ResolvedV6, request: true, 3),
            TooBig(IpAddr.Parse("198.51.100.1"), ClientV4, big),
            TooBig(IpAddr.Parse("2001:db8:1::1"), ClientV6, Tcp(ClientV6, ResolvedV6, 1, 2, TcpFlags.Ack, dataLength: 1300)),
            LaterFragmentV6(ClientV6, ResolvedV6),
        ];

        var random = new Random(20240607);
        var reply = new byte[2048];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] packet;
            if (i % 4 == 0)
            {
                packet = new byte[random.Next(0, 120)];
                random.NextBytes(packet);
                if (packet.Length > 0 && random.Next(2) == 0)
                {
                    packet[0] = (byte)((random.Next(2) == 0 ? 0x40 : 0x60) | (packet[0] & 0x0F));
                }
            }
            else
            {
                packet = (byte[])seeds[random.Next(seeds.Length)].Clone();
                for (int m = random.Next(1, 5); m > 0; m--)
                {
                    packet[random.Next(packet.Length)] = (byte)random.Next(256);
                }

                if (random.Next(8) == 0)
                {
                    packet = packet.AsSpan(0, random.Next(packet.Length)).ToArray();
                }
            }

            f.Filter.Mode = random.Next(10) == 0 ? TunFilterMode.DnsOnly : TunFilterMode.Firewall;
            TunVerdict verdict = (i & 1) == 0 ? f.Filter.Outbound(packet, reply, out int n) : f.Filter.Inbound(packet, reply, out n);
            Assert.True(Enum.IsDefined(verdict));
            if (verdict == TunVerdict.Reply)
            {
                Assert.True(IpPacket.TryRead(reply.AsSpan(0, n), out IpPacketInfo r, out IpPacketError e), e.ToString());
                Assert.Equal(n, r.TotalLength);
            }
            else
            {
                Assert.Equal(0, n);
            }

            foreach (byte[] answer in f.Sink.Take())
            {
                Assert.True(IpPacket.TryRead(answer, out _, out _));
            }
        }
    }

    /// <summary>RFC 8200 §4.5: a UDP datagram's second fragment (offset 1448 bytes) behind a Fragment header.</summary>
    internal static byte[] LaterFragmentV6(IpAddr source, IpAddr destination)
    {
        var buffer = new byte[40 + 8 + 64];
        Assert.True(IpHeaderWriter.TryWriteIpv6Header(buffer, source, destination, IpProtocol.Fragment, 8 + 64, out int n));
        Assert.True(IpHeaderWriter.TryWriteIpv6FragmentHeader(buffer.AsSpan(n), IpProtocol.Udp, 1448, false, 7, out _));
        Assert.True(IpPacket.TryRead(buffer, out IpPacketInfo info, out _));
        Assert.True(info.IsLaterFragment);
        return buffer;
    }

    private sealed class SlowForwarder(Task gate, Func<byte[], byte[]> answer) : IDnsForwarder
    {
        public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            await gate.WaitAsync(cancellationToken);
            byte[] r = answer(query.ToArray());
            r.CopyTo(response);
            return new ForwardReply(r.Length, "slow://", UpstreamError.None);
        }
    }
}
