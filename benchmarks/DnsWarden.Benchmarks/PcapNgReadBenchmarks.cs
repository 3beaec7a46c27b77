using BenchmarkDotNet.Attributes;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Benchmarks;

/// <summary>
/// Reads a generated pcapng file of <see cref="PacketCount"/> packets on two named interfaces,
/// touching every packet's bytes. Throughput is PacketCount / mean time (OperationsPerInvoke makes
/// the reported time per packet). The peer, tcpdump -r on the same file, is in docs/bench/pcapng.md.
/// </summary>
[MemoryDiagnoser]
public class PcapNgReadBenchmarks
{
    public const int PacketCount = 200_000;

    private string _path = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _path = Environment.GetEnvironmentVariable("DNSW_BENCH_PCAPNG")
            ?? Path.Combine(Path.GetTempPath(), "dnsw-bench-200k.pcapng");
        if (File.Exists(_path))
        {
            return;
        }

        using var w = new PcapNgWriter(File.Create(_path));

        // One link type for both interfaces: libpcap (and so tcpdump, the peer) rejects pcapng files
        // whose interfaces have different link types.
        w.AddInterface(LinkType.Ethernet, "eth0");
        w.AddInterface(LinkType.Ethernet, "eth1");
        byte[] frame = new byte[1514];
        long t = 1_700_000_000_000_000_000;
        for (int i = 0; i < PacketCount; i++)
        {
            // Mostly DNS queries with some full-size responses, like a resolver's uplink.
            int dnsLength = i % 10 == 0 ? 1514 - 42 : 29 + (i % 40);
            int len = BuildDnsFrame(frame, (ushort)i, dnsLength, response: i % 10 == 0);
            w.WritePacket(i & 1, t, frame.AsSpan(0, len));
            t += 50_000;
        }
    }

    /// <summary>Ethernet + IPv4 + UDP + DNS header and "example.com" question, addresses from documentation ranges.</summary>
    private static int BuildDnsFrame(byte[] f, ushort id, int dnsLength, bool response)
    {
        Array.Clear(f);
        byte[] mac = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        mac.CopyTo(f, 0);
        int ipLength = 20 + 8 + dnsLength;
        byte[] ip = [0x45, 0, (byte)(ipLength >> 8), (byte)ipLength, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 168, 1, 10, 198, 51, 100, 53];
        if (response)
        {
            (ip[12], ip[13], ip[14], ip[15], ip[16], ip[17], ip[18], ip[19]) = (198, 51, 100, 53, 192, 168, 1, 10);
        }

        ip.CopyTo(f, 14);
        int udpLength = 8 + dnsLength;
        ushort client = (ushort)(20000 + (id % 30000));
        (ushort sport, ushort dport) = response ? ((ushort)53, client) : (client, (ushort)53);
        byte[] udp = [(byte)(sport >> 8), (byte)sport, (byte)(dport >> 8), (byte)dport, (byte)(udpLength >> 8), (byte)udpLength, 0, 0];
        udp.CopyTo(f, 34);
        byte[] dns = [(byte)(id >> 8), (byte)id, response ? (byte)0x81 : (byte)0x01, response ? (byte)0x80 : (byte)0x00, 0, 1, 0, 0, 0, 0, 0, 0,
            7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'c', (byte)'o', (byte)'m', 0, 0, 1, 0, 1];
        dns.CopyTo(f, 42);
        return 42 + dnsLength;
    }

    [Benchmark(OperationsPerInvoke = PacketCount)]
    public long ReadAllPackets()
    {
        long sum = 0;
        using ICaptureFileReader r = CaptureFileReader.Open(_path);
        while (r.TryReadNext(out CapturedPacket p))
        {
            sum += p.CapturedLength + p.Data[0] + p.InterfaceId;
        }

        return sum;
    }
}
