using System.Buffers.Binary;
using DnsWarden.Capture.Reassembly;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Tests.Reassembly;

public sealed class TcpReassemblerTests
{
    private const long Second = 1_000_000_000;

    internal static readonly FlowKey5 Client = new(IpAddr.Parse("192.168.1.10"), IpAddr.Parse("198.51.100.53"), 40000, 53, IpProtocol.Tcp);

    internal sealed class Recorder : ITcpStreamConsumer
    {
        public Dictionary<FlowKey5, List<byte>> Data { get; } = [];

        public List<(FlowKey5 Flow, long Missing)> Gaps { get; } = [];

        public List<(FlowKey5 Flow, TcpCloseReason Reason)> Closed { get; } = [];

        public byte[] Of(FlowKey5 flow) => Data.TryGetValue(flow, out List<byte>? l) ? [.. l] : [];

        public void OnData(in FlowKey5 flow, ReadOnlySpan<byte> data, long timestampNs)
        {
            Assert.False(data.IsEmpty);
            if (!Data.TryGetValue(flow, out List<byte>? l))
            {
                Data[flow] = l = [];
            }

            l.AddRange(data.ToArray());
        }

        public void OnGap(in FlowKey5 flow, long missingBytes, long timestampNs) => Gaps.Add((flow, missingBytes));

        public void OnClosed(in FlowKey5 flow, TcpCloseReason reason, long timestampNs) => Closed.Add((flow, reason));
    }

    internal static byte[] Stream(int n) => Enumerable.Range(0, n).Select(i => (byte)(i % 251)).ToArray();

    /// <summary>Sends SYN then the stream cut at the given offsets (payload starts at isn + 1).</summary>
    internal static void Send(TcpReassembler r, FlowKey5 flow, uint isn, byte[] stream, IEnumerable<int> cuts, bool syn = true, bool fin = false)
    {
        if (syn)
        {
            r.AddSegment(flow, isn, TcpFlags.Syn, [], 0);
        }

        int prev = 0;
        foreach (int c in cuts.Append(stream.Length))
        {
            bool last = c == stream.Length;
            r.AddSegment(flow, isn + 1 + (uint)prev, TcpFlags.Ack | (last && fin ? TcpFlags.Fin : 0), stream.AsSpan(prev, c - prev), 1);
            prev = c;
        }
    }

    [Fact]
    public void InOrder_WithSyn_DeliversEverything()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(5000);
        Send(r, Client, 1000, s, [100, 1500, 1501, 4000], fin: true);
        Assert.Equal(s, rec.Of(Client));
        Assert.Equal((Client, TcpCloseReason.Fin), Assert.Single(rec.Closed));
        Assert.Equal(0, r.MidStreamPickups);
    }

    [Fact]
    public void OutOfOrder_IsBuffered_ThenDeliveredInOrder()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(1000);
        uint isn = 77;
        r.AddSegment(Client, isn, TcpFlags.Syn, [], 0);
        int[] starts = [900, 600, 300, 0];
        foreach (int start in starts)
        {
            int len = Math.Min(300, s.Length - start);
            if (start != 0)
            {
                r.AddSegment(Client, isn + 1 + (uint)start, TcpFlags.Ack, s.AsSpan(start, len), 0);
                Assert.Empty(rec.Of(Client));
            }
            else
            {
                r.AddSegment(Client, isn + 1, TcpFlags.Ack, s.AsSpan(0, 300), 0);
            }
        }

        Assert.Equal(s, rec.Of(Client));
        Assert.Equal(3, r.OutOfOrderSegments);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Retransmissions_AndOverlaps_AreDeliveredOnce()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(600);
        uint isn = 5;
        r.AddSegment(Client, isn, TcpFlags.Syn, [], 0);
        r.AddSegment(Client, isn + 1, 0, s.AsSpan(0, 200), 0);
        r.AddSegment(Client, isn + 1, 0, s.AsSpan(0, 200), 0);           // full retransmit
        r.AddSegment(Client, isn + 1 + 100, 0, s.AsSpan(100, 200), 0);   // half old, half new
        r.AddSegment(Client, isn + 1 + 400, 0, s.AsSpan(400, 100), 0);   // ahead
        r.AddSegment(Client, isn + 1 + 400, 0, s.AsSpan(400, 100), 0);   // ahead, duplicate
        r.AddSegment(Client, isn + 1 + 350, 0, s.AsSpan(350, 200), 0);   // ahead, overlapping the buffered one
        r.AddSegment(Client, isn, TcpFlags.Syn, [], 0);           // SYN retransmit
        r.AddSegment(Client, isn + 1 + 250, 0, s.AsSpan(250, 350), 0);   // fills the hole and the rest
        Assert.Equal(s, rec.Of(Client));
        Assert.True(r.Retransmissions >= 2);
        Assert.True(r.OverlapBytes > 0);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Theory]
    [InlineData(0xFFFFFFF0u)]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x7FFFFFF0u)]
    public void SequenceWrapAround_NearTwoToThe32(uint isn)
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(300);
        Send(r, Client, isn, s, Enumerable.Range(1, 40).Select(i => i * 7));
        Assert.Equal(s, rec.Of(Client));

        // And out of order across the wrap.
        var rec2 = new Recorder();
        var r2 = new TcpReassembler(rec2);
        r2.AddSegment(Client, isn, TcpFlags.Syn, [], 0);
        r2.AddSegment(Client, isn + 1 + 20, 0, s.AsSpan(20, 280), 0);
        r2.AddSegment(Client, isn + 1, 0, s.AsSpan(0, 20), 0);
        Assert.Equal(s, rec2.Of(Client));
    }

    [Fact]
    public void MissedSyn_PicksUpMidStream()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(100);
        r.AddSegment(Client, 123456, TcpFlags.Ack, [], 0);          // bare ACK: no flow yet
        Assert.Equal(0, r.FlowCount);
        Send(r, Client, 123456 - 1, s, [10, 50], syn: false);
        Assert.Equal(s, rec.Of(Client));
        Assert.Equal(1, r.MidStreamPickups);
    }

    [Fact]
    public void Rst_ClosesBothDirections_AndLaterDataIsIgnored()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        FlowKey5 server = Client.Reversed;
        Send(r, Client, 10, Stream(20), []);
        Send(r, server, 9000, Stream(30), []);
        r.AddSegment(server, 9031, TcpFlags.Rst, [], 2);
        Assert.Equal(2, rec.Closed.Count);
        Assert.All(rec.Closed, c => Assert.Equal(TcpCloseReason.Rst, c.Reason));
        r.AddSegment(Client, 31, 0, [1, 2, 3], 3);
        Assert.Equal(20, rec.Of(Client).Length);

        // A new SYN on the same tuple starts a fresh stream.
        r.AddSegment(Client, 5000, TcpFlags.Syn, [], 4);
        r.AddSegment(Client, 5001, 0, [9, 9], 4);
        Assert.Equal(22, rec.Of(Client).Length);
    }

    [Fact]
    public void Fin_OutOfOrder_ClosesOnceTheHoleFills_AndRetransmitsAfterAreIgnored()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec);
        byte[] s = Stream(100);
        r.AddSegment(Client, 0, TcpFlags.Syn, [], 0);
        r.AddSegment(Client, 51, TcpFlags.Fin, s.AsSpan(50), 0);
        Assert.Empty(rec.Closed);
        r.AddSegment(Client, 1, 0, s.AsSpan(0, 50), 0);
        Assert.Equal((Client, TcpCloseReason.Fin), Assert.Single(rec.Closed));
        r.AddSegment(Client, 1, 0, s.AsSpan(0, 50), 0);
        Assert.Equal(s, rec.Of(Client));
    }

    [Fact]
    public void OutOfOrderBound_SkipsTheHole_AndReportsAGap()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec, new TcpReassemblerOptions { MaxBufferedBytesPerFlow = 1000 });
        byte[] s = Stream(3000);
        r.AddSegment(Client, 0, TcpFlags.Syn, [], 0);
        r.AddSegment(Client, 1, 0, s.AsSpan(0, 100), 0);
        for (int o = 200; o < 3000; o += 100)
        {
            r.AddSegment(Client, 1 + (uint)o, 0, s.AsSpan(o, 100), 0);
            Assert.True(r.BufferedBytes <= 1000);
        }

        (FlowKey5 flow, long missing) = Assert.Single(rec.Gaps);
        Assert.Equal(Client, flow);
        Assert.Equal(100, missing);
        Assert.Equal([.. s[..100], .. s[200..]], rec.Of(Client));
    }

    [Fact]
    public void IdleTimeout_UsesPacketTime()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec, new TcpReassemblerOptions { IdleTimeoutNs = 10 * Second });
        r.AddSegment(Client, 0, TcpFlags.Syn, [], 0);
        r.AddSegment(Client.Reversed, 0, TcpFlags.Syn, [], 5 * Second);
        r.ExpireIdle(9 * Second);
        Assert.Empty(rec.Closed);
        r.ExpireIdle(10 * Second);
        Assert.Equal((Client, TcpCloseReason.IdleTimeout), Assert.Single(rec.Closed));
        Assert.Equal(1, r.FlowCount);
        r.CloseAll(11 * Second);
        Assert.Equal(TcpCloseReason.Flushed, rec.Closed[1].Reason);
        Assert.Equal(0, r.FlowCount);
    }

    [Fact]
    public void FloodOfDistinctFlows_StaysBounded()
    {
        var rec = new Recorder();
        var r = new TcpReassembler(rec, new TcpReassemblerOptions { MaxFlows = 100 });
        for (int i = 0; i < 10_000; i++)
        {
            var flow = new FlowKey5(IpAddr.FromV4((uint)(0x0A000000 + i)), IpAddr.Parse("198.51.100.53"), (ushort)(1024 + (i % 50000)), 53, IpProtocol.Tcp);
            r.AddSegment(flow, (uint)i, 0, [1, 2, 3], i);
            r.AddSegment(flow, (uint)i + 100, 0, [4, 5, 6], i);   // out of order, held
            Assert.True(r.FlowCount <= 100);
        }

        Assert.Equal(9_900, r.Evicted);
        Assert.Equal(9_900, rec.Closed.Count(c => c.Reason == TcpCloseReason.Evicted));
        Assert.True(r.BufferedBytes <= 100 * 3);
    }

    [Fact]
    public void RandomSegments_NeverThrow_AndStayBounded()
    {
        var rng = new Random(99);
        var rec = new Recorder();
        var options = new TcpReassemblerOptions { MaxFlows = 8, MaxBufferedBytesPerFlow = 4096, MaxBufferedBytes = 16384 };
        var r = new TcpReassembler(rec, options);
        byte[] buf = new byte[1500];
        for (int i = 0; i < 20_000; i++)
        {
            var flow = new FlowKey5(IpAddr.FromV4((uint)rng.Next(4)), IpAddr.FromV4(1), (ushort)rng.Next(3), 53, IpProtocol.Tcp);
            uint seq = (uint)rng.Next(2) == 0 ? (uint)rng.Next(0, 5000) : (uint)rng.NextInt64(0, 1L << 32);
            r.AddSegment(flow, seq, (TcpFlags)rng.Next(64), buf.AsSpan(0, rng.Next(0, 1500)), i * 1000L);
            Assert.True(r.BufferedBytes <= options.MaxBufferedBytes + 1500);
            Assert.True(r.FlowCount <= 8);
        }
    }

    [Fact]
    public void InOrderPath_DoesNotAllocate()
    {
        var framer = new DnsTcpFramer((in FlowKey5 f, ReadOnlySpan<byte> m, long t) => { });
        var r = new TcpReassembler(framer);
        byte[] msg = new byte[2 + 40];
        BinaryPrimitives.WriteUInt16BigEndian(msg, 40);
        r.AddSegment(Client, 0, TcpFlags.Syn, [], 0);
        r.AddSegment(Client, 1, 0, msg, 0);
        uint seq = 1 + (uint)msg.Length;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            r.AddSegment(Client, seq, TcpFlags.Ack | TcpFlags.Psh, msg, i);
            seq += (uint)msg.Length;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001, framer.Messages);
    }
}
