using System.Buffers.Binary;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Packets;

/// <summary>One IPv6 extension header to put in a crafted chain; Length in bytes (multiple of 8, of 4 for AH).</summary>
internal readonly record struct Extension(IpProtocol Type, int Length = 8, int FragmentOffset = 0, bool More = false);

/// <summary>Raw IP packets, as a TUN device with IFF_NO_PI hands them over, built with the project's writers.</summary>
internal static class TunPackets
{
    public static readonly IpAddr ClientV4 = IpAddr.Parse("10.0.0.2");
    public static readonly IpAddr ServerV4 = IpAddr.Parse("10.30.30.30");
    public static readonly IpAddr ClientV6 = IpAddr.Parse("fd00::2");
    public static readonly IpAddr ServerV6 = IpAddr.Parse("fd00:30::30");

    public static byte[] Udp(IpAddr src, IpAddr dst, ushort sp, ushort dp, ReadOnlySpan<byte> payload, IpHeaderOptions? options = null)
    {
        var buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sp, dp, payload, options ?? new IpHeaderOptions(), out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Tcp(IpAddr src, IpAddr dst, ushort sp, ushort dp, uint seq, uint ack, TcpFlags flags, ReadOnlySpan<byte> payload = default)
    {
        var buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteTcpPacket(buffer, src, dst, sp, dp, seq, ack, flags, 65535, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] UdpV4() => Udp(ClientV4, ServerV4, 40000, 53, "query"u8);

    public static byte[] TcpV4() => Tcp(ClientV4, ServerV4, 40001, 443, 1000, 0, TcpFlags.Syn);

    public static byte[] UdpV6() => Udp(ClientV6, ServerV6, 40002, 53, "query6"u8);

    public static byte[] TcpV6() => Tcp(ClientV6, ServerV6, 40003, 443, 7, 9, TcpFlags.Ack | TcpFlags.Psh, "data"u8);

    /// <summary>An ICMP (IPv4) or ICMPv6 message with the given type and code and an 8-byte header plus body.</summary>
    public static byte[] Icmp(IpAddr src, IpAddr dst, byte type, byte code, ReadOnlySpan<byte> body)
    {
        bool v4 = src.IsV4 && dst.IsV4;
        int headerLength = v4 ? 20 : 40;
        var packet = new byte[headerLength + 8 + body.Length];
        IpProtocol protocol = v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6;
        Assert.True(v4
            ? IpHeaderWriter.TryWriteIpv4Header(packet, src, dst, protocol, 8 + body.Length, out _)
            : IpHeaderWriter.TryWriteIpv6Header(packet, src, dst, protocol, 8 + body.Length, out _));
        Span<byte> message = packet.AsSpan(headerLength);
        message[0] = type;
        message[1] = code;
        body.CopyTo(message.Slice(8));
        ushort checksum = v4 ? (InternetChecksum.TryComputeIcmpV4(message, out ushort c) ? c : (ushort)0) : InternetChecksum.ComputeTransport(src, dst, protocol, message);
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), checksum);
        return packet;
    }

    /// <summary>An IPv6 packet whose payload is <paramref name="chain"/> then <paramref name="upper"/> (protocol <paramref name="upperProtocol"/>).</summary>
    public static byte[] V6WithExtensions(IpAddr src, IpAddr dst, IpProtocol upperProtocol, ReadOnlySpan<byte> upper, params Extension[] chain)
    {
        int chainLength = chain.Sum(e => e.Type == IpProtocol.Fragment ? 8 : e.Length);
        var packet = new byte[40 + chainLength + upper.Length];
        IpProtocol first = chain.Length > 0 ? chain[0].Type : upperProtocol;
        Assert.True(IpHeaderWriter.TryWriteIpv6Header(packet, src, dst, first, chainLength + upper.Length, out _));
        int off = 40;
        for (int i = 0; i < chain.Length; i++)
        {
            Extension e = chain[i];
            IpProtocol next = i + 1 < chain.Length ? chain[i + 1].Type : upperProtocol;
            if (e.Type == IpProtocol.Fragment)
            {
                Assert.True(IpHeaderWriter.TryWriteIpv6FragmentHeader(packet.AsSpan(off), next, e.FragmentOffset, e.More, 0xABCD, out _));
                off += 8;
                continue;
            }

            packet[off] = (byte)next;
            packet[off + 1] = (byte)(e.Type == IpProtocol.Ah ? (e.Length / 4) - 2 : (e.Length / 8) - 1);

            // PadN filling the rest of an options header (RFC 8200 §4.2) keeps it well-formed for other parsers.
            if (e.Type is IpProtocol.HopByHopOptions or IpProtocol.DestinationOptions)
            {
                packet[off + 2] = 1;
                packet[off + 3] = (byte)(e.Length - 4);
            }

            off += e.Length;
        }

        upper.CopyTo(packet.AsSpan(off));
        return packet;
    }

    /// <summary>The transport segment (header and data) of a packet built by <see cref="Udp"/> or <see cref="Tcp"/>.</summary>
    public static byte[] Segment(byte[] packet) => packet.AsSpan((packet[0] >> 4) == 4 ? (packet[0] & 0xF) * 4 : 40).ToArray();

    /// <summary>An IPv4 header with four NOP option bytes (RFC 791 §3.1 option type 1) inserted before the payload.</summary>
    public static byte[] WithIpv4Options(byte[] packet)
    {
        var withOptions = new byte[packet.Length + 4];
        packet.AsSpan(0, 20).CopyTo(withOptions);
        withOptions.AsSpan(20, 4).Fill(1);
        packet.AsSpan(20).CopyTo(withOptions.AsSpan(24));
        withOptions[0] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(withOptions.AsSpan(2), (ushort)withOptions.Length);
        BinaryPrimitives.WriteUInt16BigEndian(withOptions.AsSpan(10), 0);
        InternetChecksum.TryComputeIpv4Header(withOptions.AsSpan(0, 24), out ushort checksum);
        BinaryPrimitives.WriteUInt16BigEndian(withOptions.AsSpan(10), checksum);
        return withOptions;
    }

    public static IpAddr RandomV4(Random rng) => IpAddr.FromV4(0x0A00_0000u | (uint)rng.Next(1 << 24));

    /// <summary>A random fd00::/8 address: never v4-mapped, never multicast.</summary>
    public static IpAddr RandomV6(Random rng) => IpAddr.FromV6(0xFD00_0000_0000_0000UL | ((ulong)rng.NextInt64() >> 8), (ulong)rng.NextInt64());

    /// <summary>A random well-formed TCP or UDP packet, IPv4 or IPv6, with a payload of up to <paramref name="maxPayload"/> bytes.</summary>
    public static byte[] RandomPacket(Random rng, int maxPayload = 200, IpAddr? destination = null)
    {
        bool v6 = destination is IpAddr d ? !d.IsV4 : rng.Next(2) == 0;
        IpAddr src = v6 ? RandomV6(rng) : RandomV4(rng);
        IpAddr dst = destination ?? (v6 ? RandomV6(rng) : RandomV4(rng));
        var payload = new byte[rng.Next(maxPayload + 1)];
        rng.NextBytes(payload);
        ushort sp = (ushort)rng.Next(1, 65536);
        ushort dp = (ushort)rng.Next(1, 65536);
        return rng.Next(2) == 0
            ? Udp(src, dst, sp, dp, payload)
            : Tcp(src, dst, sp, dp, (uint)rng.NextInt64(0, 1L << 32), (uint)rng.NextInt64(0, 1L << 32), (TcpFlags)rng.Next(256), payload);
    }

    /// <summary>
    /// A random packet of the shapes a TUN device and a capture both meet: IPv4 whole, first or later fragment; IPv6 with
    /// a chain of up to <paramref name="maxExtensions"/> extension headers (Hop-by-Hop first, Destination Options,
    /// Routing, Mobility, HIP, Shim6, AH, one Fragment header: atomic, first or later); over UDP (often to port 53), TCP,
    /// ICMP/ICMPv6 echo or an error quoting a packet, or a protocol without ports. <paramref name="shape"/> names it.
    /// </summary>
    public static byte[] RandomShapedPacket(Random rng, out string shape, int maxExtensions = 5)
    {
        bool v6 = rng.Next(2) == 0;
        IpAddr src = v6 ? RandomV6(rng) : RandomV4(rng);
        IpAddr dst = v6 ? RandomV6(rng) : RandomV4(rng);
        var payload = new byte[rng.Next(120)];
        rng.NextBytes(payload);
        ushort sp = (ushort)rng.Next(1, 65536);
        ushort dp = rng.Next(3) == 0 ? (ushort)53 : (ushort)rng.Next(1, 65536);
        byte[] packet;
        int kind = rng.Next(5);
        switch (kind)
        {
            case 0:
                packet = Udp(src, dst, sp, dp, payload);
                shape = "udp";
                break;
            case 1:
                packet = Tcp(src, dst, sp, dp, (uint)rng.NextInt64(0, 1L << 32), (uint)rng.NextInt64(0, 1L << 32), (TcpFlags)rng.Next(256), payload);
                shape = "tcp";
                break;
            case 2:
                packet = Icmp(src, dst, v6 ? (byte)128 : (byte)8, 0, payload);
                shape = "icmp-echo";
                break;
            case 3:
                // An error quoting the start of a packet that went the other way (RFC 792, RFC 4443 §2.4).
                byte[] quoted = Udp(dst, src, dp, sp, payload);
                packet = Icmp(src, dst, v6 ? (byte)1 : (byte)3, (byte)rng.Next(5), quoted.AsSpan(0, Math.Min(quoted.Length, (v6 ? 40 : 20) + 8)));
                shape = "icmp-error";
                break;
            default:
                IpProtocol other = rng.Next(2) == 0 ? IpProtocol.Sctp : IpProtocol.Gre;
                packet = v6 ? V6WithExtensions(src, dst, other, payload) : WithProtocol(Udp(src, dst, sp, dp, payload), other);
                shape = "other";
                break;
        }

        if (!v6)
        {
            switch (rng.Next(4))
            {
                case 0:
                    // First fragment: MF set, the UDP length may claim more than this fragment holds.
                    packet[6] |= 0x20;
                    shape += "+v4-first-fragment";
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), (ushort)(rng.Next(1, 0x1FFF) | (rng.Next(2) == 0 ? 0x2000 : 0)));
                    shape += "+v4-later-fragment";
                    break;
            }

            return packet;
        }

        int count = rng.Next(maxExtensions + 1);
        if (count == 0)
        {
            return packet;
        }

        IpProtocol upper = (IpProtocol)packet[6];
        byte[] upperBytes = packet.AsSpan(40).ToArray();
        var chain = new List<Extension>();
        bool fragment = false;
        IpProtocol[] kinds = [IpProtocol.DestinationOptions, IpProtocol.Routing, IpProtocol.Mobility, IpProtocol.Hip, IpProtocol.Shim6, IpProtocol.Ah, IpProtocol.Fragment];
        for (int i = 0; i < count; i++)
        {
            IpProtocol type = i == 0 && rng.Next(3) == 0 ? IpProtocol.HopByHopOptions : kinds[rng.Next(kinds.Length)];
            if (type == IpProtocol.Fragment && fragment)
            {
                type = IpProtocol.DestinationOptions;
            }

            if (type == IpProtocol.Fragment)
            {
                fragment = true;
                int which = rng.Next(3);
                chain.Add(new Extension(IpProtocol.Fragment, FragmentOffset: which == 2 ? 8 * rng.Next(1, 8000) : 0, More: which != 0 || rng.Next(2) == 0));
                shape += which == 2 ? "+v6-later-fragment" : "+v6-fragment";
                continue;
            }

            chain.Add(new Extension(type, 8 * rng.Next(1, 4)));
            shape += "+" + type;
        }

        return V6WithExtensions(src, dst, upper, upperBytes, [.. chain]);
    }

    /// <summary>An IPv4 packet with its protocol field changed (and the header checksum left as it was: readers do not check it).</summary>
    private static byte[] WithProtocol(byte[] packet, IpProtocol protocol)
    {
        packet[9] = (byte)protocol;
        return packet;
    }
}
