using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// <see cref="FrameDissector"/> fed a sequence of frames so defragmentation, TCP reassembly and QUIC assembly
/// keep state between them. Input: one byte picking the link type, then records of a 2-byte big-endian
/// length, a 1-byte time step (tens of milliseconds) and that many frame bytes (cut short at the end).
/// </summary>
internal sealed class DissectorFuzzer : IFuzzer
{
    public string Name => "Dissector";

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        LinkType link = FramesFuzzer.PickLink(bytes[0]);
        int observations = 0;
        var dissector = new FrameDissector(o =>
        {
            observations++;
            _ = o.ToString();
        });

        long timestamp = 1_700_000_000_000_000_000;
        int frames = 0;
        int position = 1;
        while (position + 3 <= bytes.Length)
        {
            int length = (bytes[position] << 8) | bytes[position + 1];
            timestamp += bytes[position + 2] * 10_000_000L;
            position += 3;
            length = Math.Min(length, bytes.Length - position);
            ReadOnlySpan<byte> frame = bytes.Slice(position, length);
            position += length;
            var origin = new FrameOrigin(timestamp, 0, "fuzz0", link, length);
            dissector.Process(in origin, frame);
            frames++;
        }

        dissector.Complete();
        DissectorStats stats = dissector.Stats;
        FuzzAssert.True(stats.Frames == frames, $"Stats.Frames {stats.Frames}, fed {frames}");
        FuzzAssert.True(stats.Decoded + stats.NotIp <= frames, "more frames decoded than fed");
        FuzzAssert.True(stats.Fragments <= stats.Decoded, "more fragments than decoded frames");
        FuzzAssert.True(stats.MalformedTotal >= 0 && stats.Malformed.Values.Sum() == stats.MalformedTotal, "malformed counts do not add up");
    }

    public IReadOnlyList<byte[]> GetSeeds()
    {
        byte[] query = SeedCorpus.DnsQuery("example.com", DnsWarden.Wire.Dns.DnsType.A, edns: true);
        byte[] framed = [(byte)(query.Length >> 8), (byte)query.Length, .. query];
        byte[] hello = SeedCorpus.TlsRecord(SeedCorpus.ClientHello, split: 0);
        var c = SeedCorpus.ClientV4;
        var s = SeedCorpus.ServerV4;

        byte[][] tcpDns =
        [
            SeedCorpus.Tcp(c, s, 40000, 53, 100, TcpFlags.Syn, []),
            SeedCorpus.Tcp(c, s, 40000, 53, 101, TcpFlags.Ack | TcpFlags.Psh, framed.AsSpan(0, 5)),
            SeedCorpus.Tcp(c, s, 40000, 53, 106, TcpFlags.Ack | TcpFlags.Psh, framed.AsSpan(5)),
            SeedCorpus.Tcp(c, s, 40000, 53, (uint)(101 + framed.Length), TcpFlags.Fin | TcpFlags.Ack, []),
        ];
        byte[][] dot =
        [
            SeedCorpus.Tcp(c, s, 40001, 853, 7, TcpFlags.Syn, []),
            SeedCorpus.Tcp(c, s, 40001, 853, 8 + 100, TcpFlags.Ack, hello.AsSpan(100)),
            SeedCorpus.Tcp(c, s, 40001, 853, 8, TcpFlags.Ack, hello.AsSpan(0, 100)),
        ];
        byte[][] udp =
        [
            SeedCorpus.Udp(c, s, 40002, 53, query),
            SeedCorpus.Udp(s, c, 53, 40002, SeedCorpus.DnsResponse()),
            SeedCorpus.Udp(SeedCorpus.ClientV6, SeedCorpus.ServerV6, 40003, 443, SeedCorpus.QuicInitial),
        ];
        byte[][] fragments = [.. SeedCorpus.Fragments(SeedCorpus.Udp(s, c, 53, 40004, SeedCorpus.DnsResponse())).Reverse()];

        return
        [
            Pack(LinkType.Ethernet, tcpDns),
            Pack(LinkType.Raw, dot),
            Pack(LinkType.LinuxSll2, udp),
            Pack(LinkType.Ethernet, fragments),
            Pack(LinkType.Raw, [.. udp, .. fragments, .. tcpDns, .. dot]),
        ];
    }

    private static byte[] Pack(LinkType link, IEnumerable<byte[]> ipPackets)
    {
        var output = new List<byte> { FramesFuzzer.LinkByte(link) };
        foreach (byte[] ip in ipPackets)
        {
            byte[] frame = SeedCorpus.Frame(link, ip);
            output.Add((byte)(frame.Length >> 8));
            output.Add((byte)frame.Length);
            output.Add(1);
            output.AddRange(frame);
        }

        return [.. output];
    }
}
