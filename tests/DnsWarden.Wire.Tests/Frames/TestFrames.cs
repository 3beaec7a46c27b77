using System.Buffers.Binary;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Frames;

/// <summary>Frame construction for tests: IP packets from <see cref="PacketBuilder"/> wrapped in each link header.</summary>
internal static class TestFrames
{
    public static readonly byte[] DnsQueryExampleCom = Convert.FromHexString(
        "abcd01000001000000000000" + "076578616d706c6503636f6d00" + "00010001");

    public static byte[] Udp(string src, string dst, ushort sourcePort, ushort destinationPort, byte[]? payload = null, IpHeaderOptions? options = null)
    {
        payload ??= DnsQueryExampleCom;
        var buffer = new byte[60 + 8 + payload.Length];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, IpAddr.Parse(src), IpAddr.Parse(dst), sourcePort, destinationPort, payload, options ?? new IpHeaderOptions(), out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static byte[] Tcp(string src, string dst, ushort sourcePort, ushort destinationPort, TcpFlags flags, byte[]? payload = null, uint seq = 1000, uint ack = 2000, ushort window = 65535)
    {
        payload ??= [];
        var buffer = new byte[60 + 20 + payload.Length];
        Assert.True(PacketBuilder.TryWriteTcpPacket(buffer, IpAddr.Parse(src), IpAddr.Parse(dst), sourcePort, destinationPort, seq, ack, flags, window, payload, out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static EtherType EtherTypeOf(ReadOnlySpan<byte> ip) => (ip[0] >> 4) == 4 ? EtherType.Ipv4 : EtherType.Ipv6;

    /// <summary>Ethernet II with optional stacked tags, outermost first, each (TPID, TCI).</summary>
    public static byte[] Ethernet(ReadOnlySpan<byte> ip, params (ushort Tpid, ushort Tci)[] tags)
    {
        var frame = new byte[14 + (4 * tags.Length) + ip.Length];
        Convert.FromHexString("0011223344556677889900aa").CopyTo(frame, 0);
        int off = 12;
        foreach ((ushort tpid, ushort tci) in tags)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off), tpid);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off + 2), tci);
            off += 4;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(off), (ushort)EtherTypeOf(ip));
        ip.CopyTo(frame.AsSpan(off + 2));
        return frame;
    }

    /// <summary>LINKTYPE_LINUX_SLL: packet type, ARPHRD_ETHER, address length 6, 8 address bytes, protocol.</summary>
    public static byte[] Sll(ReadOnlySpan<byte> ip) =>
        [.. Convert.FromHexString("00000001000600112233445500 00".Replace(" ", "", StringComparison.Ordinal)), .. BigEndian16((ushort)EtherTypeOf(ip)), .. ip];

    /// <summary>LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address.</summary>
    public static byte[] Sll2(ReadOnlySpan<byte> ip, int interfaceIndex) =>
        [.. BigEndian16((ushort)EtherTypeOf(ip)), 0, 0, .. BigEndian32((uint)interfaceIndex), .. Convert.FromHexString("00010406001122334455 0000".Replace(" ", "", StringComparison.Ordinal)), .. ip];

    public static byte[] Null(ReadOnlySpan<byte> ip, uint addressFamily, bool bigEndian)
    {
        var frame = new byte[4 + ip.Length];
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame, addressFamily);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame, addressFamily);
        }

        ip.CopyTo(frame.AsSpan(4));
        return frame;
    }

    public static byte[] BigEndian16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, v);
        return b;
    }

    public static byte[] BigEndian32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    /// <summary>One representative frame per supported link type, for prefix/mutation tests.</summary>
    public static IEnumerable<(LinkType Link, byte[] Frame)> Seeds()
    {
        byte[] udp4 = Udp("192.0.2.1", "198.51.100.53", 40000, 53);
        byte[] udp6 = Udp("2001:db8::1", "2001:db8::53", 40001, 853);
        byte[] tcp6 = Tcp("2001:db8::1", "2001:db8::2", 50000, 443, TcpFlags.Syn, [1, 2, 3]);
        byte[] tcp4 = Tcp("10.0.0.1", "10.0.0.2", 50000, 853, TcpFlags.Ack | TcpFlags.Psh, [9, 8, 7, 6]);
        yield return (LinkType.Ethernet, Ethernet(udp4));
        yield return (LinkType.Ethernet, Ethernet(tcp6, (0x8100, 0x0064)));
        yield return (LinkType.Ethernet, Ethernet(udp6, (0x88A8, 0x0010), (0x8100, 0x0020)));
        yield return (LinkType.LinuxSll, Sll(tcp4));
        yield return (LinkType.LinuxSll2, Sll2(udp6, 3));
        yield return (LinkType.Raw, udp4);
        yield return (LinkType.Raw, tcp6);
        yield return (LinkType.Ipv4, tcp4);
        yield return (LinkType.Ipv6, udp6);
        yield return (LinkType.Null, Null(udp4, 2, bigEndian: false));
        yield return (LinkType.Null, Null(tcp6, 30, bigEndian: true));
        yield return (LinkType.Loop, Null(udp6, 24, bigEndian: true));
    }
}
