using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Benchmarks;

/// <summary>
/// Frame → link/IP/transport classification over a batch of prepared frames, reported per packet.
/// The mix: Ethernet IPv4 UDP/53, Ethernet IPv6 TCP/443, 802.1Q IPv4 UDP/53, SLL2 IPv6 UDP/853, raw IPv4 TCP/853.
/// </summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private const int BatchSize = 1024;

    private byte[] _buffer = [];
    private int[] _offsets = [];
    private int[] _lengths = [];
    private LinkType[] _links = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        var frames = new List<(LinkType Link, byte[] Frame)>(BatchSize);
        for (int i = 0; i < BatchSize; i++)
        {
            ushort ephemeral = (ushort)rng.Next(32768, 61000);
            frames.Add((i % 5) switch
            {
                0 => (LinkType.Ethernet, Ethernet(Udp(V4(rng), V4(rng), ephemeral, 53, 33), 0)),
                1 => (LinkType.Ethernet, Ethernet(Tcp(V6(rng), V6(rng), ephemeral, 443, 120), 0)),
                2 => (LinkType.Ethernet, Ethernet(Udp(V4(rng), V4(rng), ephemeral, 53, 45), 1)),
                3 => (LinkType.LinuxSll2, Sll2(Udp(V6(rng), V6(rng), ephemeral, 853, 60), rng.Next(1, 8))),
                _ => (LinkType.Raw, Tcp(V4(rng), V4(rng), 853, ephemeral, 0)),
            });
        }

        // One contiguous buffer, as a capture ring would hold them.
        _buffer = new byte[frames.Sum(f => f.Frame.Length)];
        _offsets = new int[BatchSize];
        _lengths = new int[BatchSize];
        _links = new LinkType[BatchSize];
        int off = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            frames[i].Frame.CopyTo(_buffer, off);
            _offsets[i] = off;
            _lengths[i] = frames[i].Frame.Length;
            _links[i] = frames[i].Link;
            off += frames[i].Frame.Length;
        }

        foreach ((LinkType link, byte[] frame) in frames)
        {
            if (!PacketDecoder.TryDecode(link, frame, out DecodedPacket p))
            {
                throw new InvalidOperationException($"benchmark frame does not decode: {p.Error}");
            }
        }
    }

    /// <summary>Only the destination address, the figure to set beside the Go anchor (2.6 ns).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = BatchSize)]
    public ulong DestinationOnly()
    {
        ReadOnlySpan<byte> buffer = _buffer;
        ulong sink = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            if (PacketDecoder.TryGetDestination(_links[i], buffer.Slice(_offsets[i], _lengths[i]), out IpAddr dst))
            {
                sink += dst.Low;
            }
        }

        return sink;
    }

    /// <summary>The lean path: 5-tuple and port class with the same validation as the full decode.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int Classify()
    {
        ReadOnlySpan<byte> buffer = _buffer;
        int sink = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            if (PacketDecoder.TryClassify(_links[i], buffer.Slice(_offsets[i], _lengths[i]), out FlowKey5 key, out PortClass cls))
            {
                sink += key.DestinationPort + (int)cls;
            }
        }

        return sink;
    }

    /// <summary>Every field of <see cref="DecodedPacket"/>.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int FullDecode()
    {
        ReadOnlySpan<byte> buffer = _buffer;
        int sink = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            if (PacketDecoder.TryDecode(_links[i], buffer.Slice(_offsets[i], _lengths[i]), out DecodedPacket p))
            {
                sink += p.DestinationPort + (int)p.PortClass + p.PayloadLength;
            }
        }

        return sink;
    }

    private static IpAddr V4(Random rng) => IpAddr.FromV4((uint)rng.Next());

    private static IpAddr V6(Random rng) => IpAddr.FromV6(0x2001_0db8_0000_0000UL | (uint)rng.Next(), (ulong)rng.NextInt64());

    private static byte[] Udp(IpAddr src, IpAddr dst, ushort sp, ushort dp, int payloadLength)
    {
        var b = new byte[48 + payloadLength];
        PacketBuilder.TryWriteUdpPacket(b, src, dst, sp, dp, new byte[payloadLength], out int n);
        return b.AsSpan(0, n).ToArray();
    }

    private static byte[] Tcp(IpAddr src, IpAddr dst, ushort sp, ushort dp, int payloadLength)
    {
        var b = new byte[60 + payloadLength];
        PacketBuilder.TryWriteTcpPacket(b, src, dst, sp, dp, 1, 1, TcpFlags.Ack | TcpFlags.Psh, 512, new byte[payloadLength], out int n);
        return b.AsSpan(0, n).ToArray();
    }

    private static byte[] Ethernet(byte[] ip, int vlanTags)
    {
        var frame = new byte[14 + (4 * vlanTags) + ip.Length];
        int off = 12;
        for (int i = 0; i < vlanTags; i++, off += 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off), (ushort)EtherType.Vlan);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off + 2), 100);
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off), (ushort)((ip[0] >> 4) == 4 ? EtherType.Ipv4 : EtherType.Ipv6));
        ip.CopyTo(frame, off + 2);
        return frame;
    }

    private static byte[] Sll2(byte[] ip, int interfaceIndex)
    {
        var frame = new byte[20 + ip.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)((ip[0] >> 4) == 4 ? EtherType.Ipv4 : EtherType.Ipv6));
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), interfaceIndex);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(8), 1);
        frame[11] = 6;
        ip.CopyTo(frame, 20);
        return frame;
    }
}
