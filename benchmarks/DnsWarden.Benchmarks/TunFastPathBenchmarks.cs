using BenchmarkDotNet.Attributes;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The TUN filter's per-packet work on raw IP packets: the rule-table decision (target ≤ 2.6 ns and 0 bytes for
/// a non-matching packet, the Go anchor's figure for the destination address alone), the full read, and the
/// virtual DNS service's answer packet. Two rules, one IPv4 and one IPv6, as the virtual DNS service installs.
/// </summary>
[MemoryDiagnoser]
public class TunFastPathBenchmarks
{
    private static readonly IpAddr s_client4 = IpAddr.Parse("10.0.0.2");
    private static readonly IpAddr s_remote4 = IpAddr.Parse("203.0.113.80");
    private static readonly IpAddr s_virtual4 = IpAddr.Parse("10.30.30.30");
    private static readonly IpAddr s_client6 = IpAddr.Parse("fd00::2");
    private static readonly IpAddr s_remote6 = IpAddr.Parse("2001:db8::80");
    private static readonly IpAddr s_virtual6 = IpAddr.Parse("fd00:30::30");

    private readonly DestinationRuleTable _table = new();
    private readonly byte[] _answer = new byte[100];
    private readonly byte[] _output = new byte[1600];
    private byte[] _tcp4Miss = [];
    private byte[] _tcp6Miss = [];
    private byte[] _udp4Hit = [];
    private byte[] _udp6Options = [];
    private IpPacketInfo _query;

    [GlobalSetup]
    public void Setup()
    {
        _table.Add(s_virtual4, 0);
        _table.Add(s_virtual6, 1);
        _tcp4Miss = Tcp(s_client4, s_remote4);
        _tcp6Miss = Tcp(s_client6, s_remote6);
        _udp4Hit = new byte[64];
        PacketBuilder.TryWriteUdpPacket(_udp4Hit, s_client4, s_virtual4, 40000, 53, new byte[33], out int n);
        _udp4Hit = _udp4Hit.AsSpan(0, n).ToArray();
        _udp6Options = WithDestinationOptions(s_client6, s_remote6);
        if (!IpPacket.TryRead(_udp4Hit, out _query, out IpPacketError error) || _table.Match(_udp4Hit) != 0 || _table.Match(_tcp4Miss) != -1 || _table.Match(_tcp6Miss) != -1
            || TryReadIpv6DestOptionsUdp() != 53)
        {
            throw new InvalidOperationException($"benchmark packets are not what they should be: {error}");
        }
    }

    /// <summary>The complete decision for a packet no rule claims: it passes through untouched.</summary>
    [Benchmark(Baseline = true)]
    public int MatchMissIpv4Tcp() => _table.Match(_tcp4Miss);

    [Benchmark]
    public int MatchMissIpv6Tcp() => _table.Match(_tcp6Miss);

    [Benchmark]
    public int MatchHitIpv4Udp() => _table.Match(_udp4Hit);

    [Benchmark]
    public int TryReadIpv4Tcp() => IpPacket.TryRead(_tcp4Miss, out IpPacketInfo info, out _) ? info.DestinationPort : -1;

    [Benchmark]
    public int TryReadIpv6Tcp() => IpPacket.TryRead(_tcp6Miss, out IpPacketInfo info, out _) ? info.DestinationPort : -1;

    /// <summary>IPv6 with one Destination Options header before UDP/53: the extension walk.</summary>
    [Benchmark]
    public int TryReadIpv6DestOptionsUdp() => IpPacket.TryRead(_udp6Options, out IpPacketInfo info, out _) ? info.DestinationPort : -1;

    /// <summary>A 100-byte DNS answer wrapped as IPv4/UDP with both checksums.</summary>
    [Benchmark]
    public int WriteUdpReply100() => IpReplyWriter.TryWriteUdpReply(_query, _answer, _output, out int n) ? n : -1;

    /// <summary>An IPv6 UDP/53 packet with an 8-byte Destination Options header (one PadN option) after the fixed header.</summary>
    private static byte[] WithDestinationOptions(IpAddr source, IpAddr destination)
    {
        var buffer = new byte[128];
        PacketBuilder.TryWriteUdpPacket(buffer, source, destination, 40000, 53, new byte[33], out int n);
        byte[] packet = new byte[n + 8];
        buffer.AsSpan(0, 40).CopyTo(packet);
        packet[6] = (byte)IpProtocol.DestinationOptions;
        packet[5] += 8;
        packet[40] = (byte)IpProtocol.Udp;
        packet[42] = 1; // PadN (RFC 8200 §4.2) filling the header's 6 option bytes
        packet[43] = 4;
        buffer.AsSpan(40, n - 40).CopyTo(packet.AsSpan(48));
        return packet;
    }

    private static byte[] Tcp(IpAddr source, IpAddr destination)
    {
        var buffer = new byte[128];
        PacketBuilder.TryWriteTcpPacket(buffer, source, destination, 50000, 443, 1, 0, TcpFlags.Syn, 64240, [], out int n);
        return buffer.AsSpan(0, n).ToArray();
    }
}
