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

    /// <summary>
    /// RFC 9001 Appendix A.2: the ClientHello inside the client Initial's CRYPTO frame (241 bytes, SNI
    /// "example.com", ALPN "alpn", quic_transport_parameters).
    /// </summary>
    public const string Rfc9001ClientHelloHex =
        "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47" +
        "f06a2b69484c00000413011302010000c000000010000e00000b6578616d706c" +
        "652e636f6dff01000100000a00080006001d0017001800100007000504616c70" +
        "6e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559f" +
        "edba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d001000" +
        "0e0403050306030203080408050806002d00020101001c000240010039003204" +
        "08ffffffffffffffff05048000ffff07048000ffff0801100104800075300901" +
        "100f088394c8f03e51570806048000ffff";

    /// <summary>RFC 9001 Appendix A.2: the protected 1200-byte client Initial datagram (DCID 8394c8f03e515708).</summary>
    public const string Rfc9001ClientInitialHex =
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11" +
        "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399" +
        "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c" +
        "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212" +
        "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5" +
        "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208" +
        "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec" +
        "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3" +
        "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db" +
        "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c" +
        "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8" +
        "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556" +
        "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74" +
        "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a" +
        "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00" +
        "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632" +
        "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964" +
        "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd" +
        "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff" +
        "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198" +
        "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd" +
        "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73" +
        "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f" +
        "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e" +
        "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade" +
        "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047" +
        "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2" +
        "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4" +
        "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0" +
        "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e" +
        "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0" +
        "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400" +
        "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab" +
        "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9" +
        "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4" +
        "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064" +
        "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241" +
        "e221af44860018ab0856972e194cd934";

    public static byte[] ClientHello => Convert.FromHexString(Rfc9001ClientHelloHex);

    public static byte[] QuicInitial => Convert.FromHexString(Rfc9001ClientInitialHex);

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

                writer.WritePacket(id, ts, frame);
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
