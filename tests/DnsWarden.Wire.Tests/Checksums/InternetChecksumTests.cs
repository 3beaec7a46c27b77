using System.Buffers.Binary;
using System.Net;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Ip;
using PacketDotNet;
using IpProtocol = DnsWarden.Wire.Ip.IpProtocol;

namespace DnsWarden.Wire.Tests.Checksums;

public sealed class InternetChecksumTests
{
    /// <summary>The textbook definition, 16 bits at a time, as the reference.</summary>
    private static ushort NaiveSum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    [Fact]
    public void Rfc1071_numerical_example()
    {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        byte[] data = Convert.FromHexString("0001f203f4f5f6f7");
        Assert.Equal(0xDDF2, InternetChecksum.Sum(data));
        Assert.Equal(0x220D, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Known_ipv4_header()
    {
        // A widely quoted sample header (192.168.0.1 > 192.168.0.199, UDP, TTL 64) whose checksum is 0xb861.
        byte[] header = Convert.FromHexString("45000073000040004011b861c0a80001c0a800c7");
        Assert.True(InternetChecksum.VerifyIpv4Header(header));
        Assert.True(InternetChecksum.TryComputeIpv4Header(header, out ushort c));
        Assert.Equal(0xB861, c);
        header[8] = 63;
        Assert.False(InternetChecksum.VerifyIpv4Header(header));
        Assert.False(InternetChecksum.TryComputeIpv4Header(header.AsSpan(0, 19), out _));
    }

    [Fact]
    public void Matches_the_naive_sum_for_every_length_and_alignment()
    {
        var rng = new Random(1071);
        var buffer = new byte[600];
        rng.NextBytes(buffer);
        for (int start = 0; start < 8; start++)
        {
            for (int length = 0; length <= 300; length++)
            {
                ReadOnlySpan<byte> data = buffer.AsSpan(start, length);
                Assert.Equal(NaiveSum(data), InternetChecksum.Sum(data));
            }
        }

        Array.Fill(buffer, (byte)0xFF); // worst case for carries
        Assert.Equal(NaiveSum(buffer), InternetChecksum.Sum(buffer));
        Assert.Equal(0, InternetChecksum.Sum(new byte[64]));
    }

    [Fact]
    public void Partial_sums_chain_over_even_chunks()
    {
        var rng = new Random(7);
        var data = new byte[257];
        rng.NextBytes(data);
        for (int split = 0; split < data.Length; split += 2)
        {
            ushort chained = InternetChecksum.Sum(data.AsSpan(split), InternetChecksum.Sum(data.AsSpan(0, split)));
            Assert.Equal(InternetChecksum.Sum(data), chained);
        }
    }

    [Fact]
    public void Large_buffer_uses_the_vector_path_correctly()
    {
        var data = new byte[65535];
        new Random(3).NextBytes(data);
        Assert.Equal(NaiveSum(data), InternetChecksum.Sum(data));
    }

    [Theory]
    [InlineData("192.0.2.1", "198.51.100.53", false)]
    [InlineData("2001:db8::1", "2001:db8::53", false)]
    [InlineData("192.0.2.1", "198.51.100.53", true)]
    [InlineData("2001:db8::1", "2001:db8::53", true)]
    public void Transport_checksums_agree_with_PacketDotNet(string src, string dst, bool tcp)
    {
        var rng = new Random(src.Length + (tcp ? 1 : 0));
        for (int i = 0; i < 200; i++)
        {
            var payload = new byte[rng.Next(0, 200)];
            rng.NextBytes(payload);
            var ip = IPAddress.Parse(src).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                ? (IPPacket)new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst))
                : new IPv6Packet(IPAddress.Parse(src), IPAddress.Parse(dst));
            TransportPacket t = tcp
                ? new TcpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { SequenceNumber = (uint)rng.Next(), WindowSize = 1000, PayloadData = payload }
                : new UdpPacket((ushort)rng.Next(65536), (ushort)rng.Next(65536)) { PayloadData = payload };
            ip.PayloadPacket = t;
            ip.UpdateCalculatedValues();
            if (t is UdpPacket u)
            {
                u.UpdateUdpChecksum();
            }
            else
            {
                ((TcpPacket)t).UpdateTcpChecksum();
            }

            byte[] segment = t.Bytes;
            ushort expected = tcp ? ((TcpPacket)t).Checksum : ((UdpPacket)t).Checksum;
            IpProtocol proto = tcp ? IpProtocol.Tcp : IpProtocol.Udp;
            Assert.Equal(expected, InternetChecksum.ComputeTransport(IpAddr.Parse(src), IpAddr.Parse(dst), proto, segment));
            Assert.True(InternetChecksum.VerifyTransport(IpAddr.Parse(src), IpAddr.Parse(dst), proto, segment));
            segment[^1] ^= 0x01;
            Assert.False(InternetChecksum.VerifyTransport(IpAddr.Parse(src), IpAddr.Parse(dst), proto, segment));
        }
    }

    [Fact]
    public void Ipv4_header_checksum_agrees_with_PacketDotNet()
    {
        var rng = new Random(791);
        for (int i = 0; i < 200; i++)
        {
            var ip = new IPv4Packet(new IPAddress(rng.NextInt64(0, uint.MaxValue)), new IPAddress(rng.NextInt64(0, uint.MaxValue)))
            {
                TimeToLive = rng.Next(256),
                Id = (ushort)rng.Next(65536),
                PayloadData = new byte[rng.Next(0, 50)],
            };
            ip.UpdateCalculatedValues();
            ip.UpdateIPChecksum();
            byte[] header = ip.Bytes.AsSpan(0, 20).ToArray();
            Assert.True(InternetChecksum.TryComputeIpv4Header(header, out ushort c));
            Assert.Equal(ip.Checksum, c);
            Assert.True(InternetChecksum.VerifyIpv4Header(header));
        }
    }

    [Fact]
    public void Udp_zero_result_is_sent_as_all_ones()
    {
        // RFC 768: find a payload whose checksum computes to zero and check it is transmitted as 0xFFFF.
        IpAddr src = IpAddr.Parse("10.0.0.1");
        IpAddr dst = IpAddr.Parse("10.0.0.2");
        var segment = new byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(4), 10);
        ushort raw = (ushort)~InternetChecksum.Sum(segment, InternetChecksum.PseudoHeaderSum(src, dst, IpProtocol.Udp, 10));
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(8), raw); // now the data sums to all ones: checksum 0
        Assert.Equal(0xFFFF, InternetChecksum.ComputeTransport(src, dst, IpProtocol.Udp, segment));
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(6), 0xFFFF);
        Assert.True(InternetChecksum.VerifyTransport(src, dst, IpProtocol.Udp, segment));
    }

    [Fact]
    public void IcmpV4_checksum_has_no_pseudo_header()
    {
        // RFC 792 echo request, id 1 seq 1, "abcd".
        byte[] icmp = Convert.FromHexString("0800000000010001" + "61626364");
        Assert.True(InternetChecksum.TryComputeIcmpV4(icmp, out ushort c));
        Assert.Equal((ushort)~NaiveSum(icmp), c);
        Assert.Equal(c, InternetChecksum.ComputeTransport(IpAddr.Parse("10.0.0.1"), IpAddr.Parse("10.0.0.2"), IpProtocol.Icmp, icmp));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), c);
        Assert.True(new IcmpV4Packet(new PacketDotNet.Utils.ByteArraySegment(icmp)).ValidIcmpChecksum);
    }
}
