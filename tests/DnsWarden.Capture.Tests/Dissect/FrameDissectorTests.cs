using System.Buffers.Binary;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tests.Ip;
using DnsWarden.Wire.Tests.Quic;
using DnsWarden.Wire.Tests.Tls;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Tests.Dissect;

/// <summary>The dissector on crafted frames, one branch each: what real-traffic tests cannot easily provoke.</summary>
public sealed class FrameDissectorTests
{
    private static readonly IpAddr s_client = IpAddr.Parse("10.0.0.2");
    private static readonly IpAddr s_server = IpAddr.Parse("10.0.0.1");

    private readonly List<Observation> _seen = [];
    private readonly FrameDissector _dissector;
    private long _clock = 1_000_000_000;

    public FrameDissectorTests() => _dissector = new FrameDissector(_seen.Add);

    [Fact]
    public void Rfc9001ClientInitial_OnUdp443_GivesQuicObservationWithSni()
    {
        byte[] datagram = Convert.FromHexString(QuicTestVectors.V1ClientInitialProtected);
        Feed(Udp(s_client, s_server, 50000, 443, datagram));

        Observation o = Assert.Single(_seen);
        Assert.Equal(ObservationKind.QuicInitial, o.Kind);
        Assert.Equal("quic", o.Transport);
        Assert.Equal("example.com", o.ServerName);
        Assert.Equal(QuicVersion.V1, o.QuicVersion);
        Assert.Equal(1, _dissector.Stats.QuicInitials);
    }

    [Fact]
    public void DoqClientHello_SplitOverTwoInitials_IsReportedAtTheSecond()
    {
        byte[] hello = new ClientHelloBuilder().ServerName("dns.example.test").Alpn("doq").SupportedVersions(0x0304).Build();
        int half = hello.Length / 2;
        byte[] dcid = Convert.FromHexString("0011223344556677");
        byte[] first = QuicPacketProtector.BuildClientInitial(QuicVersion.V1, dcid, [], QuicPacketProtector.CryptoFrame(0, hello.AsSpan(0, half)), packetNumber: 0);
        byte[] second = QuicPacketProtector.BuildClientInitial(QuicVersion.V1, dcid, [], QuicPacketProtector.CryptoFrame((ulong)half, hello.AsSpan(half)), packetNumber: 1);

        Feed(Udp(s_client, s_server, 50001, 853, first));
        Assert.Empty(_seen);
        Feed(Udp(s_client, s_server, 50001, 853, second));

        Observation o = Assert.Single(_seen);
        Assert.Equal("doq", o.Transport);
        Assert.Equal(2, o.FrameNumber);
        Assert.Equal("dns.example.test", o.ServerName);
        Assert.Equal(["doq"], o.Alpn);
    }

    [Fact]
    public void NonDnsBytesOnPort53_AreCountedMalformed_WithAReason()
    {
        Feed(Udp(s_client, s_server, 40000, 53, "GET / HTTP/1.1\r\n"u8.ToArray()));

        Assert.Empty(_seen);
        Assert.Equal(1, _dissector.Stats.MalformedTotal);
        Assert.StartsWith("dns:", Assert.Single(_dissector.Stats.Malformed).Key, StringComparison.Ordinal);
    }

    [Fact]
    public void DnsOverTcp_InThreeSegmentsOutOfOrder_IsReportedOnceWhenComplete()
    {
        byte[] query = Query("split.example.test", 0x4242);
        byte[] stream = new byte[2 + query.Length];
        BinaryPrimitives.WriteUInt16BigEndian(stream, (ushort)query.Length);
        query.CopyTo(stream, 2);
        const uint Isn = 0xFFFFFFF0; // the sequence numbers wrap inside the message
        Feed(Tcp(s_client, s_server, 40001, 53, Isn, TcpFlags.Syn, []));
        int a = 5, b = 17;
        Feed(Tcp(s_client, s_server, 40001, 53, Isn + 1 + (uint)b, TcpFlags.Ack | TcpFlags.Psh, stream.AsSpan(b).ToArray()));
        Feed(Tcp(s_client, s_server, 40001, 53, Isn + 1 + (uint)a, TcpFlags.Ack, stream.AsSpan(a, b - a).ToArray()));
        Assert.Empty(_seen);
        Feed(Tcp(s_client, s_server, 40001, 53, Isn + 1, TcpFlags.Ack, stream.AsSpan(0, a).ToArray()));

        Observation o = Assert.Single(_seen);
        Assert.Equal("tcp53", o.Transport);
        Assert.Equal(4, o.FrameNumber);
        Assert.Equal(0x4242, o.Dns!.Id);
        Assert.Equal("split.example.test", o.Dns.QName);
    }

    [Fact]
    public void TlsClientHello_AcrossTwoRecordsAndSegments_OnDotPort_IsDot()
    {
        byte[] hello = new ClientHelloBuilder().ServerName("dot.example.test").Alpn("dot").Build();
        byte[] records = ClientHelloBuilder.ToRecords(hello, 40);
        Feed(Tcp(s_client, s_server, 40002, 853, 100, TcpFlags.Syn, []));
        Feed(Tcp(s_client, s_server, 40002, 853, 101, TcpFlags.Ack, records.AsSpan(0, 30).ToArray()));
        Assert.Empty(_seen);
        Feed(Tcp(s_client, s_server, 40002, 853, 131, TcpFlags.Ack | TcpFlags.Psh, records.AsSpan(30).ToArray()));

        Observation o = Assert.Single(_seen);
        Assert.Equal("dot", o.Transport);
        Assert.Equal("dot.example.test", o.ServerName);
        Assert.Equal(["dot"], o.Alpn);
    }

    [Fact]
    public void FragmentedDnsResponse_InReverseOrder_IsReassembled()
    {
        byte[] query = Query("frag.example.test", 7);
        byte[] response = new byte[2000];
        var writer = new DnsMessageWriter(response);
        Assert.True(writer.TryBeginResponse(query, DnsRcode.NoError));
        Assert.True(writer.TryWriteTxt(DnsSection.Answer, "frag.example.test", 60, System.Text.Encoding.ASCII.GetBytes(new string((char)120, 1500))));
        Assert.True(writer.TryFinish(out int length));

        byte[] udp = new byte[8 + length];
        Assert.True(TransportHeaderWriter.TryWriteUdpHeader(udp, 53, 40003, length, out _));
        response.AsSpan(0, length).CopyTo(udp.AsSpan(8));
        byte[][] fragments = [.. Ipv4Fragments.Split(s_server, s_client, IpProtocol.Udp, udp, 0x77, 800)];
        Assert.True(fragments.Length >= 2);
        foreach (byte[] f in fragments.Reverse())
        {
            Feed(f);
        }

        Observation o = Assert.Single(_seen);
        Assert.Equal(fragments.Length, o.FrameNumber);
        Assert.Equal((ushort)53, o.Flow.SourcePort);
        Assert.Equal(new string('x', 1500), Assert.Single(o.Dns!.Answers).Data);
        Assert.Equal(1, _dissector.Stats.Reassembled);
    }

    [Fact]
    public void RandomFrames_NeverThrow_AndEveryFrameIsCounted()
    {
        var random = new Random(1234);
        byte[] valid = Udp(s_client, s_server, 1, 53, Query("x.test", 1));
        for (int i = 0; i < 20000; i++)
        {
            byte[] frame = i % 2 == 0 ? new byte[random.Next(0, 200)] : (byte[])valid.Clone();
            if (i % 2 == 0)
            {
                random.NextBytes(frame);
            }
            else
            {
                frame[random.Next(frame.Length)] = (byte)random.Next(256);
            }

            Feed(frame, (LinkType)random.GetItems<ushort>([0, 1, 101, 113, 228, 229, 276], 1)[0]);
        }

        _dissector.Complete();
        DissectorStats s = _dissector.Stats;
        Assert.Equal(20000, s.Frames);
        Assert.Equal(s.Frames, s.Decoded + s.NotIp + s.Malformed.Where(kv => kv.Key.StartsWith("frame:", StringComparison.Ordinal)).Sum(kv => kv.Value));
    }

    private void Feed(byte[] frame, LinkType link = LinkType.Raw)
    {
        _clock += 1_000_000;
        var origin = new FrameOrigin(_clock, 0, "test0", link, frame.Length);
        _dissector.Process(in origin, frame);
    }

    private static byte[] Query(string name, ushort id)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, DnsType.A, true, 1232, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    private static byte[] Udp(IpAddr src, IpAddr dst, ushort sport, ushort dport, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sport, dport, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    private static byte[] Tcp(IpAddr src, IpAddr dst, ushort sport, ushort dport, uint seq, TcpFlags flags, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 80];
        Assert.True(PacketBuilder.TryWriteTcpPacket(buffer, src, dst, sport, dport, seq, 0, flags, 65535, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }
}
