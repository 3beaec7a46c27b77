using System.Buffers.Binary;
using System.Text;
using DnsWarden.Guard.Tun;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Resolver.Tests.Tun;

/// <summary>Collects what the filter writes into the namespace.</summary>
internal sealed class ListSink : IPacketSink
{
    private readonly List<byte[]> _packets = [];

    public int Count
    {
        get
        {
            lock (_packets)
            {
                return _packets.Count;
            }
        }
    }

    public void Write(ReadOnlySpan<byte> packet)
    {
        lock (_packets)
        {
            _packets.Add(packet.ToArray());
        }
    }

    public byte[] Single()
    {
        lock (_packets)
        {
            return Assert.Single(_packets);
        }
    }

    public byte[][] Take()
    {
        lock (_packets)
        {
            byte[][] all = [.. _packets];
            _packets.Clear();
            return all;
        }
    }
}

/// <summary>
/// A filter over a real engine whose policy answers svc.test locally (203.0.113.10 and 2001:db8::10, TTL 60 s) and
/// a tracker that honours that TTL; the clock is a manual one shared by engine and filter. No network.
/// </summary>
internal sealed class TunFixture
{
    public const string ResolvedName = "svc.test";

    public static readonly IpAddr ClientV4 = IpAddr.Parse("10.0.0.2");
    public static readonly IpAddr ClientV6 = IpAddr.Parse("fd00:1::2");
    public static readonly IpAddr ResolvedV4 = IpAddr.Parse("203.0.113.10");
    public static readonly IpAddr ResolvedV6 = IpAddr.Parse("2001:db8::10");
    public static readonly IpAddr UnresolvedV4 = IpAddr.Parse("198.51.100.7");
    public static readonly IpAddr UnresolvedV6 = IpAddr.Parse("2001:db8:ffff::7");

    /// <summary>Answered with TTL 0, as dnsmasq's <c>address=</c> and many CDNs do.</summary>
    public const string ZeroTtlName = "zero.test";

    public static readonly IpAddr ZeroTtlV4 = IpAddr.Parse("203.0.113.20");

    public TunFixture(TunFilterOptions? options = null, IpTrackerOptions? tracker = null)
    {
        Time = new ManualTime();
        Tracker = tracker is null ? new IpTracker() : new IpTracker(tracker);
        Assert.True(ResolverPolicyLoader.TryParse(
            Encoding.UTF8.GetBytes("""
            { "local_records": [
                { "name": "svc.test", "type": "A", "value": "203.0.113.10", "ttl": 60 },
                { "name": "svc.test", "type": "AAAA", "value": "2001:db8::10", "ttl": 60 },
                { "name": "zero.test", "type": "A", "value": "203.0.113.20", "ttl": 0 } ] }
            """),
            "p.json",
            out ResolverPolicy? policy,
            out PolicyError? error), error?.ToString());
        Engine = new DnsEngine(new DnsEngineOptions { Policy = policy!, Tracker = Tracker, Time = Time });
        Sink = new ListSink();
        Filter = new TunFilter(options ?? new TunFilterOptions(), Engine, Sink, Time);
        Filter.Refused += r =>
        {
            lock (RefusedEvents)
            {
                RefusedEvents.Add(r);
            }
        };
    }

    public ManualTime Time { get; }

    public IpTracker Tracker { get; }

    public DnsEngine Engine { get; }

    public ListSink Sink { get; }

    public TunFilter Filter { get; }

    public List<RefusedPacket> RefusedEvents { get; } = [];

    public static IpAddr Client(int version) => version == 4 ? ClientV4 : ClientV6;

    public static IpAddr Resolved(int version) => version == 4 ? ResolvedV4 : ResolvedV6;

    public static IpAddr Unresolved(int version) => version == 4 ? UnresolvedV4 : UnresolvedV6;

    public IpAddr VirtualDns(int version) => Filter.Options.VirtualDns.First(a => a.IsV4 == (version == 4));

    /// <summary>Asks the virtual DNS (or <paramref name="server"/>) for <paramref name="name"/> (A or AAAA by version) and returns the answer packet from the sink.</summary>
    public byte[] Resolve(int version, ushort id = 0x4242, IpAddr? server = null, string name = ResolvedName)
    {
        byte[] query = DnsCacheTests.Query(name, version == 4 ? DnsType.A : DnsType.AAAA, id);
        byte[] packet = Udp(Client(version), server ?? VirtualDns(version), 40000, 53, query);
        Assert.Equal(TunVerdict.Consumed, Filter.Outbound(packet, new byte[2048], out int n));
        Assert.Equal(0, n);
        return Sink.Take().Single();
    }

    public TunVerdict Out(byte[] packet, out byte[] reply)
    {
        var buffer = new byte[2048];
        TunVerdict verdict = Filter.Outbound(packet, buffer, out int n);
        reply = buffer.AsSpan(0, n).ToArray();
        return verdict;
    }

    public TunVerdict In(byte[] packet, out byte[] reply)
    {
        var buffer = new byte[2048];
        TunVerdict verdict = Filter.Inbound(packet, buffer, out int n);
        reply = buffer.AsSpan(0, n).ToArray();
        return verdict;
    }

    public static byte[] Udp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var buffer = new byte[70_000];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, source, destination, sourcePort, destinationPort, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Tcp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, TcpFlags flags, uint sequence = 1000, uint acknowledgment = 0, int dataLength = 0)
    {
        var buffer = new byte[70_000];
        Assert.True(PacketBuilder.TryWriteTcpPacket(
            buffer, source, destination, sourcePort, destinationPort, sequence, acknowledgment, flags, 64240, new byte[dataLength], out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>An ICMP (IPv4) or ICMPv6 message: type, code, checksum, then <paramref name="rest"/> (the 4 header bytes and the body).</summary>
    public static byte[] Icmp(IpAddr source, IpAddr destination, byte type, byte code, ReadOnlySpan<byte> rest)
    {
        int messageLength = 4 + rest.Length;
        var buffer = new byte[40 + messageLength];
        int ip;
        if (source.IsV4)
        {
            Assert.True(IpHeaderWriter.TryWriteIpv4Header(buffer, source, destination, IpProtocol.Icmp, messageLength, out ip));
        }
        else
        {
            Assert.True(IpHeaderWriter.TryWriteIpv6Header(buffer, source, destination, IpProtocol.IcmpV6, messageLength, out ip));
        }

        Span<byte> message = buffer.AsSpan(ip, messageLength);
        message[0] = type;
        message[1] = code;
        rest.CopyTo(message.Slice(4));
        ushort checksum = source.IsV4 ? InternetChecksum.Compute(message) : InternetChecksum.ComputeTransport(source, destination, IpProtocol.IcmpV6, message);
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), checksum);
        return buffer.AsSpan(0, ip + messageLength).ToArray();
    }

    /// <summary>RFC 792 / RFC 4443 §4.1: echo request (8 / 128) or reply (0 / 129) with identifier and sequence.</summary>
    public static byte[] Echo(IpAddr source, IpAddr destination, bool request, ushort identifier, ushort sequence = 1)
    {
        var rest = new byte[4 + 16];
        BinaryPrimitives.WriteUInt16BigEndian(rest, identifier);
        BinaryPrimitives.WriteUInt16BigEndian(rest.AsSpan(2), sequence);
        byte type = source.IsV4 ? (byte)(request ? 8 : 0) : (byte)(request ? 128 : 129);
        return Icmp(source, destination, type, 0, rest);
    }

    /// <summary>
    /// An ICMP error about <paramref name="quoted"/>: IPv4 type 3 code 4 "fragmentation needed" with next-hop MTU
    /// (RFC 1191 §4), IPv6 type 2 "packet too big" with MTU (RFC 4443 §3.2), quoting the IP header and 8 bytes (IPv4)
    /// or as much as the packet has (IPv6).
    /// </summary>
    public static byte[] TooBig(IpAddr router, IpAddr destination, byte[] quoted, ushort mtu = 1280)
    {
        bool v4 = router.IsV4;
        int quoteLength = v4 ? Math.Min(quoted.Length, ((quoted[0] & 0x0F) * 4) + 8) : quoted.Length;
        var rest = new byte[4 + quoteLength];
        BinaryPrimitives.WriteUInt16BigEndian(rest.AsSpan(2), mtu);
        quoted.AsSpan(0, quoteLength).CopyTo(rest.AsSpan(4));
        return v4 ? Icmp(router, destination, 3, 4, rest) : Icmp(router, destination, 2, 0, rest);
    }

    /// <summary>The same packet with the TCP/UDP checksum and IPv4 header checksum checked.</summary>
    public static IpPacketInfo ReadValid(byte[] packet)
    {
        Assert.True(IpPacket.TryRead(packet, out IpPacketInfo info, out IpPacketError error), error.ToString());
        Assert.Equal(packet.Length, info.TotalLength);
        if (info.Version == 4)
        {
            Assert.True(InternetChecksum.VerifyIpv4Header(packet.AsSpan(0, info.IpHeaderLength)));
        }

        ReadOnlySpan<byte> segment = packet.AsSpan(info.TransportOffset, info.TransportLength);
        if (info.Protocol is IpProtocol.Tcp or IpProtocol.Udp || (info.Protocol == IpProtocol.IcmpV6))
        {
            Assert.True(InternetChecksum.VerifyTransport(info.Source, info.Destination, info.Protocol, segment));
        }
        else if (info.Protocol == IpProtocol.Icmp)
        {
            Assert.True(InternetChecksum.IsValid(segment));
        }

        return info;
    }
}
