using System.Buffers.Binary;
using System.Text;
using DnsWarden.Guard.Tun;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// The whole TUN filter over a sequence of packets, both directions, with mode switches, sweeps and time steps (so
/// flows and tracked addresses expire): a real engine whose policy answers svc.test locally, a small flow table.
/// Input: records <c>[meta:1][len:2][packet]</c>; meta bit 0 inbound, bit 2 switch mode, bit 3 sweep, bits 4–7 seconds
/// to advance. Asserts: no exception; every reply and every packet written into the namespace reads back as IP, from
/// the address it answers for; a consumed packet was a UDP/53 query, to a virtual DNS address unless in firewall mode.
/// </summary>
internal sealed class TunFilterFuzzer : IFuzzer
{
    private static readonly IpAddr s_virtualV4 = TunFilterOptions.DefaultVirtualDnsV4;
    private static readonly IpAddr s_virtualV6 = TunFilterOptions.DefaultVirtualDnsV6;
    private static readonly ResolverPolicy s_policy = LoadPolicy();

    public string Name => "TunFilter";

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        var time = new StepTime();
        var engine = new DnsEngine(new DnsEngineOptions { Policy = s_policy, Tracker = new IpTracker(), Time = time });
        var sink = new CheckingSink();
        var filter = new TunFilter(new TunFilterOptions { MaxFlows = 64 }, engine, sink, time);
        Span<byte> reply = stackalloc byte[2048];
        while (bytes.Length >= 3)
        {
            byte meta = bytes[0];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(bytes[1..]) % 1600, bytes.Length - 3);
            ReadOnlySpan<byte> packet = bytes.Slice(3, length);
            bytes = bytes[(3 + length)..];
            time.Advance(TimeSpan.FromSeconds(meta >> 4));
            if ((meta & 4) != 0)
            {
                filter.Mode = filter.Mode == TunFilterMode.Firewall ? TunFilterMode.DnsOnly : TunFilterMode.Firewall;
            }

            if ((meta & 8) != 0)
            {
                filter.Sweep();
            }

            bool inbound = (meta & 1) != 0;
            TunVerdict verdict = inbound ? filter.Inbound(packet, reply, out int n) : filter.Outbound(packet, reply, out n);
            FuzzAssert.True(Enum.IsDefined(verdict), $"verdict {verdict}");
            bool read = IpPacket.TryRead(packet, out IpPacketInfo info, out _);
            if (verdict == TunVerdict.Reply)
            {
                FuzzAssert.True(read, "a reply to a packet that does not read");
                FuzzAssert.True(n > 0 && n <= reply.Length, $"reply length {n}");
                FuzzAssert.True(IpPacket.TryRead(reply[..n], out IpPacketInfo answer, out IpPacketError error), $"reply does not read: {error}");
                FuzzAssert.True(answer.Destination == info.Source, $"reply to {answer.Destination}, packet from {info.Source}");
            }

            if (verdict == TunVerdict.Consumed)
            {
                // UDP/53: to any address in firewall mode, to a virtual DNS address in dns-only mode.
                bool toVirtual = info.Destination == s_virtualV4 || info.Destination == s_virtualV6;
                FuzzAssert.True(!inbound && read && info.Protocol == IpProtocol.Udp && info.DestinationPort == 53, $"consumed a packet to {info.Destination} that is no UDP/53 query");
                FuzzAssert.True(toVirtual || filter.Mode == TunFilterMode.Firewall, $"consumed a packet to {info.Destination} in dns-only mode");
            }
        }
    }

    public IReadOnlyList<byte[]> GetSeeds()
    {
        IpAddr c4 = SeedCorpus.ClientV4;
        IpAddr c6 = SeedCorpus.ClientV6;
        IpAddr svc4 = IpAddr.Parse("203.0.113.10");
        IpAddr svc6 = IpAddr.Parse("2001:db8::10");
        byte[] query4 = SeedCorpus.DnsQuery("svc.test", DnsWarden.Wire.Dns.DnsType.A, edns: true);
        byte[] query6 = SeedCorpus.DnsQuery("svc.test", DnsWarden.Wire.Dns.DnsType.AAAA, edns: false);
        byte[] resolve = Records(
            (0, SeedCorpus.Udp(c4, s_virtualV4, 40000, 53, query4)),
            (0, SeedCorpus.Udp(c6, s_virtualV6, 40001, 53, query6)),
            (0, SeedCorpus.Tcp(c4, svc4, 40002, 80, 1000, TcpFlags.Syn, [])),
            (1, SeedCorpus.Tcp(svc4, c4, 80, 40002, 5000, TcpFlags.Syn | TcpFlags.Ack, [])),
            (0, SeedCorpus.Tcp(c6, svc6, 40003, 443, 1000, TcpFlags.Syn, [])),
            (0x10 * 15 | 8, SeedCorpus.Tcp(c4, svc4, 40002, 80, 1001, TcpFlags.Ack, "GET /"u8)),
            (0, SeedCorpus.Udp(c4, svc4, 40004, 443, "quic"u8)));
        byte[] refused = Records(
            (0, SeedCorpus.Tcp(c4, SeedCorpus.ServerV4, 40005, 80, 1, TcpFlags.Syn, [])),
            (0, SeedCorpus.Udp(c6, SeedCorpus.ServerV6, 40006, 5353, "x"u8)),
            (0, SeedCorpus.Tcp(c4, s_virtualV4, 40007, 53, 1, TcpFlags.Syn, [])),
            (1, SeedCorpus.Tcp(SeedCorpus.ServerV4, c4, 80, 40005, 9, TcpFlags.Ack, "y"u8)),
            (4, SeedCorpus.Tcp(c4, SeedCorpus.ServerV4, 40008, 80, 1, TcpFlags.Syn, [])));
        byte[] anyDns = Records(
            (0, SeedCorpus.Udp(c4, SeedCorpus.ServerV4, 40009, 53, query4)),
            (0, SeedCorpus.Udp(c6, SeedCorpus.ServerV6, 40010, 53, query6)),
            (0, SeedCorpus.Tcp(c4, svc4, 40011, 853, 1, TcpFlags.Syn, [])),
            (0, SeedCorpus.Udp(c6, svc6, 40012, 853, "doq"u8)),
            (4, SeedCorpus.Udp(c4, SeedCorpus.ServerV4, 40013, 53, query4)));
        return [resolve, refused, anyDns];
    }

    private static byte[] Records(params (int Meta, byte[] Packet)[] records)
    {
        var output = new List<byte>();
        foreach ((int meta, byte[] packet) in records)
        {
            output.Add((byte)meta);
            output.Add((byte)(packet.Length >> 8));
            output.Add((byte)packet.Length);
            output.AddRange(packet);
        }

        return [.. output];
    }

    private static ResolverPolicy LoadPolicy()
    {
        bool ok = ResolverPolicyLoader.TryParse(
            Encoding.UTF8.GetBytes("""
            { "local_records": [
                { "name": "svc.test", "type": "A", "value": "203.0.113.10", "ttl": 60 },
                { "name": "svc.test", "type": "AAAA", "value": "2001:db8::10", "ttl": 60 } ] }
            """),
            "fuzz.json",
            out ResolverPolicy? policy,
            out PolicyError? error);
        return ok ? policy! : throw new InvalidOperationException(error?.ToString());
    }

    private sealed class StepTime : TimeProvider
    {
        private long _ticks = TimeSpan.FromDays(1).Ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(_ticks);

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private sealed class CheckingSink : IPacketSink
    {
        public void Write(ReadOnlySpan<byte> packet)
        {
            FuzzAssert.True(IpPacket.TryRead(packet, out IpPacketInfo info, out IpPacketError error), $"an answer written inside does not read: {error}");
            FuzzAssert.True(info.Source == s_virtualV4 || info.Source == s_virtualV6, $"an answer from {info.Source}");
        }
    }
}
