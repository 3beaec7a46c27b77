using System.Buffers.Binary;
using DnsWarden.Capture.Reassembly;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Tests.Reassembly;

public sealed class DnsTcpFramerTests
{
    private static readonly FlowKey5 s_client = TcpReassemblerTests.Client;

    /// <summary>A DNS query for "example.com" A (RFC 1035 §4.1) with the given id.</summary>
    private static byte[] Query(ushort id, int padTo = 0)
    {
        byte[] header = [(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        byte[] question = [7, .. "example"u8, 3, .. "com"u8, 0, 0, 1, 0, 1];
        byte[] msg = [.. header, .. question];
        return msg.Length >= padTo ? msg : [.. msg, .. new byte[padTo - msg.Length]];
    }

    private static byte[] Framed(params byte[][] messages)
    {
        var all = new List<byte>();
        foreach (byte[] m in messages)
        {
            all.Add((byte)(m.Length >> 8));
            all.Add((byte)m.Length);
            all.AddRange(m);
        }

        return [.. all];
    }

    private static (DnsTcpFramer Framer, List<byte[]> Messages) NewFramer(int max = ushort.MaxValue)
    {
        var got = new List<byte[]>();
        var framer = new DnsTcpFramer((in FlowKey5 f, ReadOnlySpan<byte> m, long t) => got.Add(m.ToArray()), max);
        return (framer, got);
    }

    private static readonly byte[][] s_messages = [Query(1), Query(2, 300), Query(3), Query(4, 1000), Query(5)];

    [Fact]
    public void SeveralMessages_SplitAtEveryOffset_ThroughTheReassembler()
    {
        byte[] stream = Framed(s_messages);
        for (int cut = 0; cut <= stream.Length; cut++)
        {
            (DnsTcpFramer framer, List<byte[]> got) = NewFramer();
            var r = new TcpReassembler(framer);
            TcpReassemblerTests.Send(r, s_client, 0xFFFFFF00, stream, cut == 0 || cut == stream.Length ? [] : [cut], fin: true);
            Assert.Equal(s_messages, got);
            Assert.Equal(0, framer.Malformed);
            Assert.Equal(0, framer.PartialCount);
        }
    }

    [Fact]
    public void SeveralMessages_AtEveryPairOfCuts()
    {
        byte[] stream = Framed(s_messages[0], s_messages[2], s_messages[4]);
        for (int a = 1; a < stream.Length; a++)
        {
            for (int b = a; b < stream.Length; b += 3)
            {
                (DnsTcpFramer framer, List<byte[]> got) = NewFramer();
                framer.OnData(s_client, stream.AsSpan(0, a), 0);
                framer.OnData(s_client, stream.AsSpan(a, b - a), 0);
                framer.OnData(s_client, stream.AsSpan(b), 0);
                Assert.Equal([s_messages[0], s_messages[2], s_messages[4]], got);
            }
        }
    }

    [Fact]
    public void OneBytePerSegment_AndOutOfOrder()
    {
        byte[] stream = Framed(s_messages);
        (DnsTcpFramer framer, List<byte[]> got) = NewFramer();
        var r = new TcpReassembler(framer);
        TcpReassemblerTests.Send(r, s_client, 1234, stream, Enumerable.Range(1, stream.Length - 1));
        Assert.Equal(s_messages, got);

        // Segments of 5 bytes sent back to front: nothing until the first arrives, then all.
        (framer, got) = NewFramer();
        r = new TcpReassembler(framer);
        r.AddSegment(s_client, 99, TcpFlags.Syn, [], 0);
        for (int o = (stream.Length - 1) / 5 * 5; o >= 0; o -= 5)
        {
            r.AddSegment(s_client, 100 + (uint)o, 0, stream.AsSpan(o, Math.Min(5, stream.Length - o)), 0);
        }

        Assert.Equal(s_messages, got);
    }

    [Fact]
    public void ZeroLength_Undersized_AndOversized_AreCountedAsMalformed_AndSkipped()
    {
        (DnsTcpFramer framer, List<byte[]> got) = NewFramer(max: 512);
        byte[] stream = [0, 0, .. Framed(new byte[5]), .. Framed(Query(1)), .. Framed(Query(2, 600)), .. Framed(Query(3))];
        framer.OnData(s_client, stream, 0);
        Assert.Equal([Query(1), Query(3)], got);
        Assert.Equal(3, framer.Malformed);
        Assert.Equal(2, framer.Messages);
    }

    [Fact]
    public void Gap_AbandonsTheDirection_ClosingForgetsIt()
    {
        (DnsTcpFramer framer, List<byte[]> got) = NewFramer();
        byte[] stream = Framed(Query(1), Query(2));
        framer.OnData(s_client, stream.AsSpan(0, 20), 0);
        framer.OnGap(s_client, 100, 0);
        framer.OnData(s_client, stream.AsSpan(20), 0);
        Assert.Empty(got);
        Assert.Equal(1, framer.Desynchronized);
        framer.OnClosed(s_client, TcpCloseReason.Fin, 0);
        Assert.Equal(0, framer.PartialCount);

        // The other direction is unaffected.
        framer.OnData(s_client.Reversed, stream, 0);
        Assert.Equal(2, got.Count);
    }

    [Fact]
    public void LargestMessage_65535_AcrossManySegments()
    {
        byte[] big = Query(9, ushort.MaxValue);
        byte[] stream = Framed(big, Query(10));
        (DnsTcpFramer framer, List<byte[]> got) = NewFramer();
        var r = new TcpReassembler(framer);
        TcpReassemblerTests.Send(r, s_client, 0, stream, Enumerable.Range(1, stream.Length / 1448).Select(i => i * 1448));
        Assert.Equal([big, Query(10)], got);
        Assert.Equal(65535, BinaryPrimitives.ReadUInt16BigEndian(stream));
    }

    [Fact]
    public void RandomChunks_NeverThrow()
    {
        var rng = new Random(3);
        (DnsTcpFramer framer, _) = NewFramer(max: 4096);
        byte[] buf = new byte[3000];
        for (int i = 0; i < 5000; i++)
        {
            rng.NextBytes(buf);
            var flow = s_client with { SourcePort = (ushort)rng.Next(4) };
            switch (rng.Next(10))
            {
                case 0:
                    framer.OnGap(flow, 1, i);
                    break;
                case 1:
                    framer.OnClosed(flow, TcpCloseReason.Fin, i);
                    break;
                default:
                    framer.OnData(flow, buf.AsSpan(0, rng.Next(1, 3000)), i);
                    break;
            }
        }

        Assert.True(framer.PartialCount <= 4);
    }
}
