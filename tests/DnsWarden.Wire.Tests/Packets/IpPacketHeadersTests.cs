using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Wire.Tests.Packets.TunPackets;

namespace DnsWarden.Wire.Tests.Packets;

/// <summary>
/// <see cref="IpPacket.TryReadHeaders"/>: the headers of a packet from a copy of its start (the jail's NFLOG copies a
/// refused packet's first bytes; a QUIC Initial is ≥ 1,200 bytes, RFC 9000 §14.1).
/// </summary>
public sealed class IpPacketHeadersTests
{
    private static readonly byte[] s_quicSized = new byte[1200];

    public static TheoryData<string> Packets => ["udp4", "udp6", "tcp4", "tcp6", "chain6", "options4"];

    private static byte[] Packet(string name) => name switch
    {
        "udp4" => Udp(ClientV4, ServerV4, 40000, 443, s_quicSized),
        "udp6" => Udp(ClientV6, ServerV6, 40002, 443, s_quicSized),
        "tcp4" => Tcp(ClientV4, ServerV4, 40001, 853, 1, 0, TcpFlags.Ack | TcpFlags.Psh, s_quicSized),
        "tcp6" => Tcp(ClientV6, ServerV6, 40003, 853, 1, 0, TcpFlags.Ack | TcpFlags.Psh, s_quicSized),
        "chain6" => V6WithExtensions(ClientV6, ServerV6, IpProtocol.Udp, Segment(Udp(ClientV6, ServerV6, 40004, 443, s_quicSized)),
            new Extension(IpProtocol.HopByHopOptions), new Extension(IpProtocol.DestinationOptions, 16), new Extension(IpProtocol.Fragment)),
        "options4" => WithIpv4Options(Udp(ClientV4, ServerV4, 40005, 443, s_quicSized)),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Packets))]
    public void A_copy_of_the_start_gives_the_headers_and_says_it_was_cut(string name)
    {
        byte[] whole = Packet(name);
        Assert.True(IpPacket.TryRead(whole, out IpPacketInfo full, out _));
        for (int copy = full.PayloadOffset; copy < whole.Length; copy++)
        {
            // The exact reader refuses the copy; the headers reader takes it and gives what the whole packet gives.
            Assert.False(IpPacket.TryRead(whole.AsSpan(0, copy), out _, out IpPacketError error));
            Assert.Equal(IpPacketError.TruncatedPacket, error);
            Assert.True(IpPacket.TryReadHeaders(whole.AsSpan(0, copy), out IpPacketInfo cut, out error), $"{name} copy of {copy}: {error}");
            Assert.True(cut.IsCut);
            Assert.Equal((full.Version, full.Protocol, full.Source, full.Destination, full.SourcePort, full.DestinationPort),
                (cut.Version, cut.Protocol, cut.Source, cut.Destination, cut.SourcePort, cut.DestinationPort));
            Assert.Equal(full.TransportOffset, cut.TransportOffset);
            Assert.Equal(copy, cut.TotalLength);
            Assert.Equal(copy - full.PayloadOffset, cut.PayloadLength);
        }
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void A_whole_packet_is_read_as_the_exact_reader_reads_it(string name)
    {
        byte[] whole = Packet(name);
        Assert.True(IpPacket.TryRead(whole, out IpPacketInfo exact, out _));
        Assert.True(IpPacket.TryReadHeaders(whole, out IpPacketInfo headers, out _));
        Assert.False(headers.IsCut);
        Assert.Equal(exact.ToString(), headers.ToString());
        Assert.Equal((exact.PayloadOffset, exact.PayloadLength, exact.TotalLength), (headers.PayloadOffset, headers.PayloadLength, headers.TotalLength));
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void A_copy_that_ends_inside_the_headers_is_refused(string name)
    {
        byte[] whole = Packet(name);
        Assert.True(IpPacket.TryRead(whole, out IpPacketInfo full, out _));
        int headersEnd = full.Protocol == IpProtocol.Tcp ? full.TransportOffset + 20 : full.TransportOffset + 8;
        for (int copy = 0; copy < headersEnd; copy++)
        {
            Assert.False(IpPacket.TryReadHeaders(whole.AsSpan(0, copy), out _, out IpPacketError error), $"{name} copy of {copy}");
            Assert.NotEqual(IpPacketError.None, error);
        }
    }
}
