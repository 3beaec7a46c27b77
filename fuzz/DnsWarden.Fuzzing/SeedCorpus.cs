using System.Buffers.Binary;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing;

/// <summary>Valid inputs built with the project's own writers, plus the RFC vectors the readers were tested on.</summary>
internal static class SeedCorpus
{
    public static readonly IpAddr ClientV4 = IpAddr.Parse("10.0.0.2");
    public static readonly IpAddr ServerV4 = IpAddr.Parse("10.0.0.53");
    public static readonly IpAddr ClientV6 = IpAddr.Parse("fd00::2");
    public static readonly IpAddr ServerV6 = IpAddr.Parse("fd00::53");

    // RFC 9001 Appendix A.2, shared with the wire tests (linked in the project file).
    public static byte[] ClientHello => Convert.FromHexString(Wire.Tests.Tls.TlsTestVectors.Rfc9001ClientHelloHex);

    public static byte[] QuicInitial => Convert.FromHexString(Wire.Tests.Quic.QuicTestVectors.V1ClientInitialProtected);

    public static byte[] DnsQuery(string name, DnsType type, bool edns, ushort id = 0x1234)
    {
        byte[] buffer = new byte[512];
        FuzzAssert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, type, recursionDesired: true, edns ? (ushort)1232 : null, out int n), "seed query " + name);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>A response with one record of every type the reader has a typed accessor for, compressed names throughout.</summary>
    public static byte[] DnsResponse()
    {
        byte[] query = DnsQuery("www.example.com", DnsType.A, edns: true);
        byte[] buffer = new byte[2048];
        var writer = new DnsMessageWriter(buffer);
        bool ok = writer.TryBeginResponse(query, DnsRcode.NoError)
            && writer.TryWriteCname(DnsSection.Answer, "www.example.com", 300, "edge.example.net")
            && writer.TryWriteA(DnsSection.Answer, "edge.example.net", 60, IpAddr.Parse("192.0.2.1"))
            && writer.TryWriteAaaa(DnsSection.Answer, "edge.example.net", 60, IpAddr.Parse("2001:db8::1"))
            && writer.TryWriteTxt(DnsSection.Answer, "edge.example.net", 60, "v=spf1 -all"u8)
            && writer.TryWriteMx(DnsSection.Answer, "example.com", 60, 10, "mail.example.com")
            && writer.TryWritePtr(DnsSection.Answer, "1.2.0.192.in-addr.arpa", 60, "edge.example.net")
            && writer.TryWriteRecord(DnsSection.Answer, "_dns.example.com", DnsType.SRV, DnsClass.IN, 60, SrvRdata())
            && writer.TryWriteRecord(DnsSection.Answer, "example.com", DnsType.HTTPS, DnsClass.IN, 60, SvcbRdata())
            && writer.TryWriteNull(DnsSection.Answer, "null.example.com", 60, [1, 2, 3])
            && writer.TryWriteNs(DnsSection.Authority, "example.com", 3600, "ns1.example.com")
            && writer.TryWriteSoa(DnsSection.Authority, "example.com", 3600, "ns1.example.com", "hostmaster.example.com", 2024010101, 7200, 900, 1209600, 300)
            && writer.TryFinish(out int n);
        FuzzAssert.True(ok, "seed response");
        return buffer.AsSpan(0, writer.BytesWritten).ToArray();
    }

    public static byte[] NxDomain()
    {
        byte[] query = DnsQuery("nope.example.org", DnsType.AAAA, edns: false);
        byte[] buffer = new byte[512];
        FuzzAssert.True(DnsMessageWriter.TryWriteNxDomain(query, buffer, out int n), "seed nxdomain");
        return buffer.AsSpan(0, n).ToArray();
    }

    public static IReadOnlyList<byte[]> DnsMessages() =>
    [
        DnsQuery("example.com", DnsType.A, edns: false),
        DnsQuery("www.example.com", DnsType.HTTPS, edns: true),
        DnsQuery("_dns.resolver.arpa", DnsType.SVCB, edns: true),
        DnsQuery(".", DnsType.NS, edns: false),
        DnsQuery(@"we\.ird\\na\032me.example", DnsType.TXT, edns: false),
        DnsResponse(),
        NxDomain(),
    ];

    public static byte[] Udp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload, in IpHeaderOptions options = default)
    {
        byte[] buffer = new byte[payload.Length + 128];
        IpHeaderOptions o = options.TimeToLive == 0 ? new IpHeaderOptions() : options;
        FuzzAssert.True(PacketBuilder.TryWriteUdpPacket(buffer, source, destination, sourcePort, destinationPort, payload, o, out int n), "seed udp");
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Tcp(IpAddr source, IpAddr destination, ushort sourcePort, ushort destinationPort, uint sequence, TcpFlags flags, ReadOnlySpan<byte> payload)
    {
        byte[] buffer = new byte[payload.Length + 128];
        FuzzAssert.True(
            PacketBuilder.TryWriteTcpPacket(buffer, source, destination, sourcePort, destinationPort, sequence, 1, flags, 65535, payload, out int n),
            "seed tcp");
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>Puts an IP packet behind the link header of <paramref name="link"/>.</summary>
    public static byte[] Frame(LinkType link, byte[] ipPacket)
    {
        bool v4 = (ipPacket[0] >> 4) == 4;
        ushort etherType = (ushort)(v4 ? EtherType.Ipv4 : EtherType.Ipv6);
        byte[] header;
        switch (link)
        {
            case LinkType.Ethernet:
                header = new byte[PacketBuilder.EthernetHeaderLength];
                FuzzAssert.True(
                    PacketBuilder.TryWriteEthernetHeader(header, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], (EtherType)etherType, out _),
                    "seed ethernet");
                break;
            case LinkType.Null:
                // BSD loopback: address family in host (here little-endian) byte order.
                header = new byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(header, v4 ? 2u : 24u);
                break;
            case LinkType.Loop:
                header = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(header, v4 ? 2u : 24u);
                break;
            case LinkType.LinuxSll:
                // tcpdump LINKTYPE_LINUX_SLL: packet type, ARPHRD, address length, 8-byte address, protocol.
                header = new byte[16];
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 1);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 6);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), etherType);
                break;
            case LinkType.LinuxSll2:
                // LINKTYPE_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
                header = new byte[20];
                BinaryPrimitives.WriteUInt16BigEndian(header, etherType);
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), 3);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), 1);
                header[11] = 6;
                break;
            default:
                header = [];
                break;
        }

        return [.. header, .. ipPacket];
    }

    /// <summary>IP packets (no link header) covering UDP/TCP DNS, DoT, QUIC, v4 fragments and IPv6.</summary>
    public static IReadOnlyList<byte[]> IpPackets()
    {
        byte[] query = DnsQuery("example.com", DnsType.A, edns: true);
        byte[] response = DnsResponse();
        byte[] tcpQuery = [(byte)(query.Length >> 8), (byte)query.Length, .. query];
        byte[] hello = TlsRecord(ClientHello, split: 0);
        var list = new List<byte[]>
        {
            Udp(ClientV4, ServerV4, 40000, 53, query),
            Udp(ServerV4, ClientV4, 53, 40000, response),
            Udp(ClientV6, ServerV6, 40001, 53, query),
            Tcp(ClientV4, ServerV4, 40002, 53, 1000, TcpFlags.Syn, []),
            Tcp(ClientV4, ServerV4, 40002, 53, 1001, TcpFlags.Ack | TcpFlags.Psh, tcpQuery),
            Tcp(ClientV6, ServerV6, 40003, 853, 5000, TcpFlags.Ack | TcpFlags.Psh, hello),
            Udp(ClientV4, ServerV4, 40004, 443, QuicInitial),
            Udp(ClientV6, ServerV6, 40005, 443, QuicInitial),
        };
        list.AddRange(Fragments(Udp(ClientV4, ServerV4, 40006, 53, response)));
        return list;
    }

    /// <summary>Splits an IPv4 packet into fragments of at most 64 payload bytes (RFC 791 §3.2).</summary>
    public static IEnumerable<byte[]> Fragments(byte[] ipv4Packet)
    {
        int headerLength = (ipv4Packet[0] & 0x0F) * 4;
        ReadOnlySpan<byte> payload = ipv4Packet.AsSpan(headerLength);
        var result = new List<byte[]>();
        for (int offset = 0; offset < payload.Length; offset += 64)
        {
            int length = Math.Min(64, payload.Length - offset);
            byte[] fragment = new byte[headerLength + length];
            ipv4Packet.AsSpan(0, headerLength).CopyTo(fragment);
            payload.Slice(offset, length).CopyTo(fragment.AsSpan(headerLength));
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(2), (ushort)fragment.Length);
            ushort flags = (ushort)((offset / 8) | (offset + length < payload.Length ? 0x2000 : 0));
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(6), flags);
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(10), InternetChecksum.Compute(fragment.AsSpan(0, headerLength)));
            result.Add(fragment);
        }

        return result;
    }

    /// <summary>Wraps a handshake message in TLS records (RFC 8446 §5.1), split every <paramref name="split"/> bytes when positive.</summary>
    public static byte[] TlsRecord(byte[] handshake, int split)
    {
        int chunk = split > 0 ? split : handshake.Length;
        var output = new List<byte>();
        for (int offset = 0; offset < handshake.Length; offset += chunk)
        {
            int length = Math.Min(chunk, handshake.Length - offset);
            output.AddRange([22, 3, 1, (byte)(length >> 8), (byte)length]);
            output.AddRange(handshake.AsSpan(offset, length).ToArray());
        }

        return [.. output];
    }

    public static byte[] Pcap(LinkType link, IEnumerable<byte[]> frames, bool nanoseconds)
    {
        using var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, link, nanoseconds: nanoseconds, leaveOpen: true))
        {
            long ts = 1_700_000_000_000_000_000;
            foreach (byte[] frame in frames)
            {
                writer.WritePacket(ts, frame);
                ts += 1_000_000;
            }
        }

        return stream.ToArray();
    }

    public static byte[] PcapNg(IEnumerable<(LinkType Link, byte[] Frame)> frames, bool bigEndian)
    {
        using var stream = new MemoryStream();
        using (var writer = new PcapNgWriter(stream, leaveOpen: true, bigEndian: bigEndian))
        {
            var interfaces = new Dictionary<LinkType, int>();
            long ts = 1_700_000_000_000_000_000;
            foreach ((LinkType link, byte[] frame) in frames)
            {
                if (!interfaces.TryGetValue(link, out int id))
                {
                    id = writer.AddInterface(link, "if" + interfaces.Count, description: link.ToString());
                    interfaces.Add(link, id);
                }

                // Every other packet with comments (as the evidence file writes them), so the option walk is fuzzed too.
                writer.WritePacket(id, ts, frame, comments: ts % 2_000_000 == 0 ? ["dnsw event 1: Leak-A P1 correlation q1; query, capture frame 1", "x"] : null);
                ts += 1_000_000;
            }
        }

        return stream.ToArray();
    }

    private static byte[] SrvRdata() =>
    [
        0, 10, 0, 5, 0x03, 0x55, // priority 10, weight 5, port 853
        3, (byte)'d', (byte)'o', (byte)'t', 7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'c', (byte)'o', (byte)'m', 0,
    ];

    // RFC 9460 §2.2: priority, target, then SvcParams in ascending key order.
    private static byte[] SvcbRdata() =>
    [
        0, 1, 0,
        0, 1, 0, 6, 2, (byte)'h', (byte)'2', 2, (byte)'h', (byte)'3', // alpn
        0, 3, 0, 2, 0x01, 0xBB, // port 443
        0, 4, 0, 4, 192, 0, 2, 1, // ipv4hint
        0, 5, 0, 3, 0xFE, 0x0D, 0x00, // ech (opaque here)
        0, 6, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // ipv6hint
    ];
}
