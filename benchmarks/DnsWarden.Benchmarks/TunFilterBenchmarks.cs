using System.Text;
using BenchmarkDotNet.Attributes;
using DnsWarden.Guard.Tun;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The TUN filter's whole per-packet decision (read, virtual-address match, mode, flow lookup and refresh, counters):
/// a data segment of an established TCP flow each way in firewall mode, and a non-DNS packet in DNS-only mode. All
/// are expected at 0 bytes allocated.
/// </summary>
[MemoryDiagnoser]
public class TunFilterBenchmarks
{
    private static readonly IpAddr s_client = IpAddr.Parse("10.0.0.2");
    private static readonly IpAddr s_remote = IpAddr.Parse("203.0.113.80");

    private readonly byte[] _reply = new byte[1600];
    private TunFilter _firewall = null!;
    private TunFilter _dnsOnly = null!;
    private byte[] _outbound = [];
    private byte[] _inbound = [];

    [GlobalSetup]
    public void Setup()
    {
        if (!ResolverPolicyLoader.TryParse(
            Encoding.UTF8.GetBytes("""{ "local_records": [ { "name": "svc.test", "type": "A", "value": "203.0.113.80" } ] }"""),
            "bench.json",
            out ResolverPolicy? policy,
            out PolicyError? error))
        {
            throw new InvalidOperationException(error?.ToString());
        }

        var engine = new DnsEngine(new DnsEngineOptions { Policy = policy!, Tracker = new IpTracker() });
        _firewall = new TunFilter(new TunFilterOptions(), engine, NullSink.Instance);
        _dnsOnly = new TunFilter(new TunFilterOptions { Mode = TunFilterMode.DnsOnly }, engine, NullSink.Instance);

        // Resolve through the virtual DNS, open the flow with a SYN, then time the data segments.
        var query = new byte[64];
        var w = new DnsMessageWriter(query);
        if (!w.TryWriteHeader(1, DnsHeaderFlags.RecursionDesired) || !w.TryWriteQuestion("svc.test", DnsType.A) || !w.TryFinish(out int q))
        {
            throw new InvalidOperationException("query");
        }

        byte[] ask = Udp(s_client, _firewall.Options.VirtualDns[0], 40000, 53, query.AsSpan(0, q));
        byte[] syn = Tcp(s_client, s_remote, 50000, 443, TcpFlags.Syn, 0);
        _outbound = Tcp(s_client, s_remote, 50000, 443, TcpFlags.Ack | TcpFlags.Psh, 1400);
        _inbound = Tcp(s_remote, s_client, 443, 50000, TcpFlags.Ack, 1400);
        if (_firewall.Outbound(ask, _reply, out _) != TunVerdict.Consumed
            || _firewall.Outbound(syn, _reply, out _) != TunVerdict.Pass
            || _firewall.Outbound(_outbound, _reply, out _) != TunVerdict.Pass
            || _firewall.Inbound(_inbound, _reply, out _) != TunVerdict.Pass
            || _dnsOnly.Outbound(_outbound, _reply, out _) != TunVerdict.Pass)
        {
            throw new InvalidOperationException("benchmark packets do not take the path they should");
        }
    }

    [Benchmark(Baseline = true)]
    public TunVerdict OutboundExistingFlowFirewall() => _firewall.Outbound(_outbound, _reply, out _);

    [Benchmark]
    public TunVerdict InboundExistingFlowFirewall() => _firewall.Inbound(_inbound, _reply, out _);

    [Benchmark]
    public TunVerdict OutboundDnsOnly() => _dnsOnly.Outbound(_outbound, _reply, out _);

    private static byte[] Udp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var buffer = new byte[1600];
        PacketBuilder.TryWriteUdpPacket(buffer, source, destination, sourcePort, destinationPort, payload, out int n);
        return buffer.AsSpan(0, n).ToArray();
    }

    private static byte[] Tcp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, TcpFlags flags, int dataLength)
    {
        var buffer = new byte[1600];
        PacketBuilder.TryWriteTcpPacket(buffer, source, destination, sourcePort, destinationPort, 1, 1, flags, 64240, new byte[dataLength], out int n);
        return buffer.AsSpan(0, n).ToArray();
    }

    private sealed class NullSink : IPacketSink
    {
        public static readonly NullSink Instance = new();

        public void Write(ReadOnlySpan<byte> packet)
        {
        }
    }
}
