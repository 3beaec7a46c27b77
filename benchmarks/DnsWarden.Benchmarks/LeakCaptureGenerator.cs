using System.Buffers.Binary;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Benchmarks;

/// <summary>
/// Writes a host's traffic as a pcapng with two named interfaces (eth0 Ethernet, tun0 raw IP) for the leak pipeline
/// figures, shaped like a full-tunnel VPN client: per 100 packets about 70 HTTPS segments inside the tunnel (whole
/// connections: SYN, ClientHello, data, FIN), 10 WireGuard datagrams on eth0 carrying the tunnel, 20 DNS messages
/// (queries and answers through the tunnel resolver, one query in twenty leaking to the ISP resolver on eth0).
/// Deterministic for a given packet count.
/// </summary>
public static class LeakCaptureGenerator
{
    // RFC 9001 Appendix A.2 ClientHello (SNI example.com, ALPN "alpn").
    private const string ClientHelloHex =
        "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c00000413011302010000" +
        "c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d0017001800100007000504616c70" +
        "6e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994" +
        "ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c000240010039003204" +
        "08ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ff" +
        "ff";

    public static void Write(string path, int packets, bool twoInterfaces = true)
    {
        using FileStream file = File.Create(path);
        using var writer = new PcapNgWriter(file);
        int eth = writer.AddInterface(LinkType.Ethernet, "eth0");
        int tun = twoInterfaces ? writer.AddInterface(LinkType.Raw, "tun0") : eth;
        LinkType tunLink = twoInterfaces ? LinkType.Raw : LinkType.Ethernet;
        byte[] helloMessage = Convert.FromHexString(ClientHelloHex);
        byte[] hello = [0x16, 0x03, 0x01, (byte)(helloMessage.Length >> 8), (byte)helloMessage.Length, .. helloMessage];
        byte[] data = new byte[1400];
        data[0] = 23; // TLS application data record header (RFC 8446 §5.1)
        data[1] = 3;
        data[2] = 3;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(3), (ushort)(data.Length - 5));
        byte[] frame = new byte[2048];
        byte[] dns = new byte[512];
        var random = new Random(20261124);
        IpAddr client = IpAddr.Parse("192.168.1.10");
        IpAddr tunClient = IpAddr.Parse("10.8.0.2");
        IpAddr tunResolver = IpAddr.Parse("10.8.0.1");
        IpAddr ispResolver = IpAddr.Parse("198.51.100.53");
        long ns = 1_764_000_000_000_000_000;
        int written = 0;
        int flow = 0;
        int query = 0;

        void Emit(int iface, LinkType link, int ipLength)
        {
            ns += 10_000;
            if (link == LinkType.Ethernet)
            {
                frame.AsSpan(0, 12).Fill(0x02);
                frame[12] = 0x08;
                frame[13] = 0x00;
                writer.WritePacket(iface, ns, frame.AsSpan(0, 14 + ipLength));
            }
            else
            {
                writer.WritePacket(iface, ns, frame.AsSpan(14, ipLength));
            }

            written++;
        }

        while (written < packets)
        {
            int slot = random.Next(100);
            if (slot < 70)
            {
                // A short HTTPS connection: SYN, SYN-ACK, ClientHello, 8 data segments, FIN both ways.
                IpAddr server = IpAddr.FromV4(0xCB007100u | (uint)(flow % 250)); // 203.0.113.x
                ushort port = (ushort)(40000 + (flow++ % 20000));
                uint c = 1, s = 1;
                Tcp(tunClient, server, port, 443, c, TcpFlags.Syn, []);
                Tcp(server, tunClient, 443, port, s, TcpFlags.Syn | TcpFlags.Ack, []);
                Tcp(tunClient, server, port, 443, c + 1, TcpFlags.Ack | TcpFlags.Psh, hello);
                for (int i = 0; i < 8; i++)
                {
                    Tcp(server, tunClient, 443, port, s + 1 + (uint)(i * data.Length), TcpFlags.Ack | TcpFlags.Psh, data);
                }

                Tcp(tunClient, server, port, 443, c + 1 + (uint)hello.Length, TcpFlags.Ack | TcpFlags.Fin, []);
                Tcp(server, tunClient, 443, port, s + 1 + (uint)(8 * data.Length), TcpFlags.Ack | TcpFlags.Fin, []);
            }
            else if (slot < 80)
            {
                // WireGuard transport data (type 4) to and from the VPN server: the tunnel itself, on eth0.
                byte[] wg = new byte[1200];
                wg[0] = 4;
                for (int i = 0; i < 10; i++)
                {
                    bool up = i % 2 == 0;
                    PacketBuilder.TryWriteUdpPacket(
                        frame.AsSpan(14), up ? client : IpAddr.Parse("198.51.100.1"), up ? IpAddr.Parse("198.51.100.1") : client,
                        up ? (ushort)41641 : (ushort)51820, up ? (ushort)51820 : (ushort)41641, wg, out int n);
                    Emit(eth, LinkType.Ethernet, n);
                }
            }
            else
            {
                // Ten DNS transactions: through the tunnel, except one in twenty queries to the ISP resolver on eth0.
                for (int i = 0; i < 10; i++)
                {
                    bool leak = query % 20 == 0;
                    ushort id = (ushort)query;
                    string name = $"host{query % 5000}.example{query % 37}.com";
                    query++;
                    DnsMessageWriter.TryWriteQuery(dns, id, DnsNameSource.FromText(name), DnsType.A, true, 1232, out int qlen);
                    IpAddr src = leak ? client : tunClient;
                    IpAddr dst = leak ? ispResolver : tunResolver;
                    int iface = leak ? eth : tun;
                    LinkType link = leak ? LinkType.Ethernet : tunLink;
                    ushort sport = (ushort)(30000 + (query % 30000));
                    PacketBuilder.TryWriteUdpPacket(frame.AsSpan(14), src, dst, sport, 53, dns.AsSpan(0, qlen), out int n);
                    Emit(iface, link, n);
                    byte[] response = new byte[512];
                    var w = new DnsMessageWriter(response);
                    w.TryBeginResponse(dns.AsSpan(0, qlen), DnsRcode.NoError);
                    w.TryWriteA(DnsSection.Answer, DnsNameSource.FromText(name), 300, IpAddr.FromV4(0xCB007100u | (uint)(query % 250)));
                    w.TryFinish(out int rlen);
                    PacketBuilder.TryWriteUdpPacket(frame.AsSpan(14), dst, src, 53, sport, response.AsSpan(0, rlen), out n);
                    Emit(iface, link, n);
                }
            }
        }

        void Tcp(IpAddr src, IpAddr dst, ushort sport, ushort dport, uint seq, TcpFlags flags, ReadOnlySpan<byte> payload)
        {
            PacketBuilder.TryWriteTcpPacket(frame.AsSpan(14), src, dst, sport, dport, seq, 1, flags, 65535, payload, out int n);
            Emit(tun, tunLink, n);
        }
    }
}
