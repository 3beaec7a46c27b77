using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tests.Quic;
using DnsWarden.Wire.Tests.Tls;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Feeds crafted raw-IP frames, each on a named interface, through a whole pipeline and collects the events.</summary>
internal sealed class Harness
{
    private long _clock = 1_700_000_000_000_000_000;

    private readonly Action<long, long, byte[]>? _onFeed;

    /// <param name="onFeed">Sees each frame fed: its number, time and bytes.</param>
    public Harness(LeakPolicy policy, LeakPipelineOptions? options = null, Action<long, long, byte[]>? onFeed = null)
    {
        Pipeline = new LeakPipeline(policy, Events.Add, options);
        _onFeed = onFeed;
    }

    public LeakPipeline Pipeline { get; }

    public List<LeakEvent> Events { get; } = [];

    public long Frames { get; private set; }

    /// <summary>Advances packet time.</summary>
    public void Wait(TimeSpan t) => _clock += t.Ticks * 100;

    /// <summary>Feeds a frame; returns its frame number.</summary>
    public long Feed(string iface, byte[] packet, LinkType link = LinkType.Ethernet)
    {
        _clock += 1_000_000;
        byte[] frame = packet;
        if (link == LinkType.Ethernet)
        {
            frame = new byte[packet.Length + 14];
            frame[12] = (byte)((packet[0] >> 4) == 6 ? 0x86 : 0x08);
            frame[13] = (byte)((packet[0] >> 4) == 6 ? 0xDD : 0x00);
            packet.CopyTo(frame, 14);
        }

        var origin = new FrameOrigin(_clock, 0, iface, link, frame.Length);
        _onFeed?.Invoke(Frames + 1, _clock, frame);
        Pipeline.Process(in origin, frame);
        return ++Frames;
    }

    public void Complete() => Pipeline.Complete();

    /// <summary>
    /// No event, and the crafted packets were read as what they stand for (every frame decoded, none malformed, the DNS
    /// messages, ClientHellos and QUIC Initials counted): a "no event" that a frame which never decoded cannot pass.
    /// <paramref name="notTls"/>: the shape tests' server bursts are record-shaped filler, one <c>tls:NotTls</c> each.
    /// </summary>
    public void AssertNoEventAfterSeeing(long dns = 0, long hellos = 0, long quic = 0, long notTls = 0)
    {
        Assert.Empty(Events);
        Assert.True(Frames > 0, "no frame was fed");
        Assert.Equal(Frames, Pipeline.Dissector.Decoded);
        Assert.True(
            Pipeline.Dissector.MalformedTotal == notTls && (notTls == 0 || Pipeline.Dissector.Malformed["tls:NotTls"] == notTls),
            string.Join(", ", Pipeline.Dissector.Malformed.Select(m => $"{m.Key} {m.Value}")));
        Assert.Equal((dns, hellos, quic), (Pipeline.Dissector.DnsMessages, Pipeline.Dissector.TlsClientHellos, Pipeline.Dissector.QuicInitials));
    }

    public static byte[] Query(string name, ushort id, DnsType type = DnsType.A)
    {
        byte[] buffer = new byte[600];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, DnsNameSource.FromText(name), type, true, 1232, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Answer(byte[] query, uint ttl, params string[] addresses)
    {
        byte[] buffer = new byte[1200];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryBeginResponse(query, DnsRcode.NoError));
        var reader = new DnsMessageReader(query);
        Assert.True(reader.TryReadHeader(out _));
        Assert.True(reader.TryReadQuestion(out DnsQuestion q));
        string name = q.Name.ToString();
        foreach (string a in addresses)
        {
            IpAddr ip = IpAddr.Parse(a);
            Assert.True(ip.IsV4 ? w.TryWriteA(DnsSection.Answer, DnsNameSource.FromText(name), ttl, ip) : w.TryWriteAaaa(DnsSection.Answer, DnsNameSource.FromText(name), ttl, ip));
        }

        Assert.True(w.TryFinish(out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Udp(string src, string dst, ushort sport, ushort dport, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 80];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, IpAddr.Parse(src), IpAddr.Parse(dst), sport, dport, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, uint seq, TcpFlags flags, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 100];
        Assert.True(PacketBuilder.TryWriteTcpPacket(buffer, IpAddr.Parse(src), IpAddr.Parse(dst), sport, dport, seq, 0, flags, 65535, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] HelloRecords(string? sni, params string[] alpn)
    {
        var b = new ClientHelloBuilder().SupportedVersions(0x0304);
        if (sni is not null)
        {
            b.ServerName(sni);
        }

        if (alpn.Length > 0)
        {
            b.Alpn(alpn);
        }

        return ClientHelloBuilder.ToRecords(b.Build());
    }

    /// <summary>A DNS message with the 2-byte length prefix of DNS over TCP (RFC 1035 §4.2.2).</summary>
    public static byte[] Framed(byte[] message) => [(byte)(message.Length >> 8), (byte)message.Length, .. message];

    /// <summary>A protected QUIC v1 client Initial carrying a ClientHello (RFC 9001 §5).</summary>
    public static byte[] QuicInitial(string? sni, params string[] alpn)
    {
        var b = new ClientHelloBuilder().SupportedVersions(0x0304);
        if (sni is not null)
        {
            b.ServerName(sni);
        }

        if (alpn.Length > 0)
        {
            b.Alpn(alpn);
        }

        byte[] hello = b.Build();
        byte[] dcid = Convert.FromHexString("8394c8f03e515708");
        return QuicPacketProtector.BuildClientInitial(QuicVersion.V1, dcid, [], QuicPacketProtector.CryptoFrame(0, hello));
    }

    /// <summary>DNS over TCP: the 3-way handshake, then the framed query in one segment; returns the query's frame number.</summary>
    public long TcpQuery(string iface, string client, ushort cport, string server, byte[] query)
    {
        const uint ClientIsn = 7000, ServerIsn = 9000;
        Feed(iface, Tcp(client, server, cport, 53, ClientIsn, TcpFlags.Syn, []));
        Feed(iface, Tcp(server, client, 53, cport, ServerIsn, TcpFlags.Syn | TcpFlags.Ack, []));
        Feed(iface, Tcp(client, server, cport, 53, ClientIsn + 1, TcpFlags.Ack, []));
        return Feed(iface, Tcp(client, server, cport, 53, ClientIsn + 1, TcpFlags.Ack | TcpFlags.Psh, Framed(query)));
    }

    /// <summary>
    /// A whole TLS connection client:port → server:port: SYN, the ClientHello, then bursts alternating server, client,
    /// server… of the given sizes (the first is the server's handshake flight), then FIN from both sides.
    /// </summary>
    public void TlsConnection(string iface, string client, ushort cport, string server, ushort sport, string? sni, string[] alpn, params int[] bursts) =>
        TlsConnection(iface, client, cport, server, sport, sni, alpn, close: true, bursts);

    /// <summary>As above; with <paramref name="close"/> false the connection is left open (no FINs).</summary>
    public void TlsConnection(string iface, string client, ushort cport, string server, ushort sport, string? sni, string[] alpn, bool close, params int[] bursts)
    {
        uint cseq = 1000, sseq = 5000;
        Feed(iface, Tcp(client, server, cport, sport, cseq++, TcpFlags.Syn, []));
        Feed(iface, Tcp(server, client, sport, cport, sseq++, TcpFlags.Syn | TcpFlags.Ack, []));
        byte[] hello = HelloRecords(sni, alpn);
        Feed(iface, Tcp(client, server, cport, sport, cseq, TcpFlags.Ack | TcpFlags.Psh, hello));
        cseq += (uint)hello.Length;
        bool server2client = true;
        foreach (int size in bursts)
        {
            int left = size;
            while (left > 0)
            {
                int chunk = Math.Min(left, 1400);
                byte[] data = new byte[chunk];
                data[0] = 23; // application data record type; the content is irrelevant to the shape
                if (server2client)
                {
                    Feed(iface, Tcp(server, client, sport, cport, sseq, TcpFlags.Ack | TcpFlags.Psh, data));
                    sseq += (uint)chunk;
                }
                else
                {
                    Feed(iface, Tcp(client, server, cport, sport, cseq, TcpFlags.Ack | TcpFlags.Psh, data));
                    cseq += (uint)chunk;
                }

                left -= chunk;
            }

            server2client = !server2client;
        }

        if (close)
        {
            Feed(iface, Tcp(client, server, cport, sport, cseq, TcpFlags.Ack | TcpFlags.Fin, []));
            Feed(iface, Tcp(server, client, sport, cport, sseq, TcpFlags.Ack | TcpFlags.Fin, []));
        }
    }
}
