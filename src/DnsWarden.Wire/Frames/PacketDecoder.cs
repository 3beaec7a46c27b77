using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// Decodes a captured frame through the link, IP and transport layers without allocating. Every offset is
/// checked against the frame before it is read; bad input yields false and a <see cref="DecodeError"/>,
/// never an exception.
/// </summary>
public static class PacketDecoder
{
    /// <summary>Stacked 802.1Q/802.1ad tags accepted before giving up; real networks use one or two.</summary>
    public const int MaxVlanTags = 8;

    /// <summary>IPv6 extension headers walked before giving up (RFC 8200 §4.1 defines at most ~8 in a sane order).</summary>
    public const int MaxExtensionHeaders = Ipv6ExtensionChain.MaxHeaders;

    private const int EthernetHeaderLength = 14;
    private const int SllHeaderLength = 16;
    private const int Sll2HeaderLength = 20;
    private const int NullHeaderLength = 4;
    private const int VlanTagLength = 4;
    private const int Ipv4MinHeaderLength = 20;
    private const int Ipv6HeaderLength = 40;
    private const int UdpHeaderLength = 8;
    private const int TcpMinHeaderLength = 20;
    private const int IcmpHeaderLength = 8;

    // BSD address families as they appear in DLT_NULL/DLT_LOOP headers (tcpdump.org linktypes: NetBSD/FreeBSD/macOS differ for INET6).
    private const uint AfInet = 2;
    private const uint AfInet6Bsd = 24;
    private const uint AfInet6FreeBsd = 28;
    private const uint AfInet6Darwin = 30;

    /// <summary>Decodes <paramref name="frame"/> captured with link type <paramref name="link"/>.</summary>
    /// <returns>True when an IP packet was decoded; false with <see cref="DecodedPacket.Error"/> set otherwise.</returns>
    public static bool TryDecode(LinkType link, ReadOnlySpan<byte> frame, out DecodedPacket packet)
    {
        packet = default;

        // DecodedPacket is readonly to its users; the decoder fills its storage in place, once.
        ref PacketFields f = ref Unsafe.AsRef(in packet._fields);
        f.LinkType = link;
        f.InterfaceIndex = -1;
        f.IcmpInnerOffset = -1;
        f.FragmentPayloadOffset = -1;
        DecodeError error = Decode(link, frame, ref f);
        f.Error = error;
        return error == DecodeError.None;
    }

    /// <summary>
    /// The lean path: the 5-tuple and <see cref="PortClass"/> only. It applies the same checks as
    /// <see cref="TryDecode"/>, so the two agree on which frames are accepted.
    /// </summary>
    [SkipLocalsInit]
    public static bool TryClassify(LinkType link, ReadOnlySpan<byte> frame, out FlowKey5 key, out PortClass portClass) =>
        TryClassifyCommon(link, frame, out key, out portClass) || ClassifyGeneral(link, frame, out key, out portClass, out _);

    /// <inheritdoc cref="TryClassify(LinkType, ReadOnlySpan{byte}, out FlowKey5, out PortClass)"/>
    [SkipLocalsInit]
    public static bool TryClassify(LinkType link, ReadOnlySpan<byte> frame, out FlowKey5 key, out PortClass portClass, out DecodeError error)
    {
        if (TryClassifyCommon(link, frame, out key, out portClass))
        {
            error = DecodeError.None;
            return true;
        }

        return ClassifyGeneral(link, frame, out key, out portClass, out error);
    }

    /// <summary>
    /// The shapes that make up nearly all traffic: Ethernet (untagged or one 802.1Q tag), SLL2 or raw IP;
    /// IPv4 without options and unfragmented, or IPv6 with TCP/UDP as the next header; a well-formed TCP or
    /// UDP header. Each test is a sufficient condition for <see cref="ClassifyGeneral"/> to accept the frame
    /// with the same result, so anything else (including every error) is simply left to it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryClassifyCommon(LinkType link, ReadOnlySpan<byte> frame, out FlowKey5 key, out PortClass portClass)
    {
        Unsafe.SkipInit(out key);
        Unsafe.SkipInit(out portClass);
        int n = frame.Length;
        int off;
        uint et;
        if (link == LinkType.Ethernet)
        {
            // The shortest accepted frame carries 20 bytes of IPv4 and 8 of UDP after the 14-byte header.
            if (n < EthernetHeaderLength + Ipv4MinHeaderLength + UdpHeaderLength)
            {
                return false;
            }

            et = BigEndian.U16(frame, 12);
            off = EthernetHeaderLength;
            if (et == (uint)EtherType.Vlan)
            {
                et = BigEndian.U16(frame, 16);
                off = EthernetHeaderLength + VlanTagLength;
            }
        }
        else if (link == LinkType.LinuxSll2)
        {
            if (n < Sll2HeaderLength)
            {
                return false;
            }

            et = BigEndian.U16(frame, 0);
            off = Sll2HeaderLength;
        }
        else if (link == LinkType.Raw)
        {
            if (n < 1)
            {
                return false;
            }

            // The version nibble is checked again below, so only the two valid values need mapping.
            et = (BigEndian.U8(frame, 0) >> 4) == 6 ? (uint)EtherType.Ipv6 : (uint)EtherType.Ipv4;
            off = 0;
        }
        else
        {
            return false;
        }

        // The fields go straight into the caller's key; a refused frame is rewritten whole by the general path.
        ref FlowKeyFields k = ref Unsafe.As<FlowKey5, FlowKeyFields>(ref key);
        int avail = n - off;
        int nh;
        int cur;
        int len;
        if (et == (uint)EtherType.Ipv4)
        {
            if (avail < Ipv4MinHeaderLength || BigEndian.U8(frame, off) != 0x45)
            {
                return false;
            }

            // RFC 791 §3.1: 20 ≤ total length ≤ captured bytes; no MF flag and offset 0 (not a fragment).
            int total = BigEndian.U16(frame, off + 2);
            if ((uint)(total - Ipv4MinHeaderLength) > (uint)(avail - Ipv4MinHeaderLength) || (BigEndian.U16(frame, off + 6) & 0x3FFF) != 0)
            {
                return false;
            }

            nh = BigEndian.U8(frame, off + 9);
            k.Source = IpAddr.FromV4(BigEndian.U32(frame, off + 12));
            k.Destination = IpAddr.FromV4(BigEndian.U32(frame, off + 16));
            cur = off + Ipv4MinHeaderLength;
            len = total - Ipv4MinHeaderLength;
        }
        else if (et == (uint)EtherType.Ipv6)
        {
            if (avail < Ipv6HeaderLength || (BigEndian.U8(frame, off) >> 4) != 6)
            {
                return false;
            }

            // A TCP/UDP next header means no extension chain to walk and no jumbogram (RFC 2675 needs Hop-by-Hop).
            len = BigEndian.U16(frame, off + 4);
            nh = BigEndian.U8(frame, off + 6);
            if (len > avail - Ipv6HeaderLength || (nh != (int)IpProtocol.Udp && nh != (int)IpProtocol.Tcp))
            {
                return false;
            }

            k.Source = IpAddr.FromV6(BigEndian.U64(frame, off + 8), BigEndian.U64(frame, off + 16));
            k.Destination = IpAddr.FromV6(BigEndian.U64(frame, off + 24), BigEndian.U64(frame, off + 32));
            cur = off + Ipv6HeaderLength;
        }
        else
        {
            return false;
        }

        bool tcp;
        if (nh == (int)IpProtocol.Udp)
        {
            // RFC 768: 8 ≤ UDP length ≤ IP payload.
            if (len < UdpHeaderLength || (uint)(BigEndian.U16(frame, cur + 4) - UdpHeaderLength) > (uint)(len - UdpHeaderLength))
            {
                return false;
            }

            tcp = false;
        }
        else if (nh == (int)IpProtocol.Tcp)
        {
            // RFC 9293 §3.1: 20 ≤ data offset ≤ IP payload.
            if (len < TcpMinHeaderLength)
            {
                return false;
            }

            int dataOffset = (BigEndian.U8(frame, cur + 12) >> 4) << 2;
            if (dataOffset < TcpMinHeaderLength || dataOffset > len)
            {
                return false;
            }

            tcp = true;
        }
        else
        {
            return false;
        }

        uint ports = BigEndian.U32(frame, cur);
        k.SourcePort = (ushort)(ports >> 16);
        k.DestinationPort = (ushort)ports;
        k.Protocol = (IpProtocol)nh;
        portClass = PortClassifier.ClassifyTcpUdp(tcp, ports >> 16, ports & 0xFFFF);
        return true;
    }

    /// <summary>
    /// Every frame shape, with the error for the ones refused: the full decode, projected. Only frames the
    /// fast path does not take come here, so one set of checks decides what both entry points accept.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool ClassifyGeneral(LinkType link, ReadOnlySpan<byte> frame, out FlowKey5 key, out PortClass portClass, out DecodeError error)
    {
        bool ok = TryDecode(link, frame, out DecodedPacket packet);
        error = packet.Error;
        key = ok ? packet.FlowKey : default;
        portClass = ok ? packet.PortClass : PortClass.None;
        return ok;
    }

    /// <summary>
    /// Only the destination address: the link header and the IP version/minimum header are checked, lengths
    /// and extension headers are not. For a like-for-like comparison with single-field extractors.
    /// </summary>
    public static bool TryGetDestination(LinkType link, ReadOnlySpan<byte> frame, out IpAddr destination)
    {
        destination = default;
        if (ReadLink(link, frame, out int off, out EtherType etherType, out _, out _, out _) != DecodeError.None)
        {
            return false;
        }

        int available = frame.Length - off;
        if (etherType == EtherType.Ipv4)
        {
            if (available < Ipv4MinHeaderLength || (BigEndian.U8(frame, off) >> 4) != 4)
            {
                return false;
            }

            destination = IpAddr.FromV4(BigEndian.U32(frame, off + 16));
            return true;
        }

        if (available < Ipv6HeaderLength || (BigEndian.U8(frame, off) >> 4) != 6)
        {
            return false;
        }

        destination = IpAddr.FromV6(BigEndian.U64(frame, off + 24), BigEndian.U64(frame, off + 32));
        return true;
    }

    private static DecodeError Decode(LinkType link, ReadOnlySpan<byte> frame, ref PacketFields f)
    {
        DecodeError error = ReadLink(link, frame, out int off, out EtherType etherType, out int vlanCount, out ushort outerVlan, out int interfaceIndex);
        f.EtherType = etherType;
        f.VlanCount = (byte)vlanCount;
        f.OuterVlanId = outerVlan;
        f.InterfaceIndex = interfaceIndex;
        if (error != DecodeError.None)
        {
            return error;
        }

        f.IpHeaderOffset = off;
        return etherType == EtherType.Ipv4 ? DecodeIpv4(frame, off, ref f) : DecodeIpv6(frame, off, ref f);
    }

    /// <summary>Finds the IP header. On success <paramref name="etherType"/> is Ipv4 or Ipv6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecodeError ReadLink(
        LinkType link,
        ReadOnlySpan<byte> frame,
        out int ipOffset,
        out EtherType etherType,
        out int vlanCount,
        out ushort outerVlan,
        out int interfaceIndex)
    {
        ipOffset = 0;
        etherType = EtherType.None;
        vlanCount = 0;
        outerVlan = 0;
        interfaceIndex = -1;
        int off;
        ushort et;
        uint af;
        switch (link)
        {
            case LinkType.Ethernet:
                if (frame.Length < EthernetHeaderLength)
                {
                    return DecodeError.Truncated;
                }

                et = BigEndian.U16(frame, 12);
                off = EthernetHeaderLength;
                break;

            case LinkType.LinuxSll:
                // pcap-linktype(7) LINKTYPE_LINUX_SLL: the protocol type is the last 2 of 16 bytes.
                if (frame.Length < SllHeaderLength)
                {
                    return DecodeError.Truncated;
                }

                et = BigEndian.U16(frame, 14);
                off = SllHeaderLength;
                break;

            case LinkType.LinuxSll2:
                // LINKTYPE_LINUX_SLL2: protocol (2), reserved (2), interface index (4), then ARPHRD, type, address.
                if (frame.Length < Sll2HeaderLength)
                {
                    return DecodeError.Truncated;
                }

                et = BigEndian.U16(frame, 0);
                interfaceIndex = (int)BigEndian.U32(frame, 4);
                off = Sll2HeaderLength;
                break;

            case LinkType.Raw:
                if (frame.Length < 1)
                {
                    return DecodeError.Truncated;
                }

                int version = BigEndian.U8(frame, 0) >> 4;
                if (version == 4)
                {
                    etherType = EtherType.Ipv4;
                    return DecodeError.None;
                }

                if (version == 6)
                {
                    etherType = EtherType.Ipv6;
                    return DecodeError.None;
                }

                return DecodeError.BadIpVersion;

            case LinkType.Ipv4:
                etherType = EtherType.Ipv4;
                return DecodeError.None;

            case LinkType.Ipv6:
                etherType = EtherType.Ipv6;
                return DecodeError.None;

            case LinkType.Null:
                // The family is in the capturing host's byte order, which the file does not record: the
                // values are small, so whichever reading fits in 16 bits is the right one.
                if (frame.Length < NullHeaderLength)
                {
                    return DecodeError.Truncated;
                }

                af = BinaryPrimitives.ReadUInt32LittleEndian(frame);
                if (af > 0xFFFF)
                {
                    af = BinaryPrimitives.ReverseEndianness(af);
                }

                return ReadAddressFamily(af, out ipOffset, out etherType);

            case LinkType.Loop:
                if (frame.Length < NullHeaderLength)
                {
                    return DecodeError.Truncated;
                }

                af = BigEndian.U32(frame, 0);
                return ReadAddressFamily(af, out ipOffset, out etherType);

            default:
                return DecodeError.UnsupportedLinkType;
        }

        // IEEE 802.1Q / 802.1ad: each tag is TCI (PCP 3, DEI 1, VID 12) then the next EtherType.
        while (et is (ushort)EtherType.Vlan or (ushort)EtherType.QinQ or (ushort)EtherType.QinQLegacy)
        {
            if (vlanCount == MaxVlanTags)
            {
                return DecodeError.TooManyVlanTags;
            }

            if (frame.Length - off < VlanTagLength)
            {
                return DecodeError.Truncated;
            }

            if (vlanCount == 0)
            {
                outerVlan = (ushort)(BigEndian.U16(frame, off) & 0x0FFF);
            }

            et = BigEndian.U16(frame, off + 2);
            off += VlanTagLength;
            vlanCount++;
        }

        etherType = (EtherType)et;
        ipOffset = off;
        return et is (ushort)EtherType.Ipv4 or (ushort)EtherType.Ipv6 ? DecodeError.None : DecodeError.NotIp;
    }

    private static DecodeError ReadAddressFamily(uint af, out int ipOffset, out EtherType etherType)
    {
        ipOffset = NullHeaderLength;
        switch (af)
        {
            case AfInet:
                etherType = EtherType.Ipv4;
                return DecodeError.None;
            case AfInet6Bsd:
            case AfInet6FreeBsd:
            case AfInet6Darwin:
                etherType = EtherType.Ipv6;
                return DecodeError.None;
            default:
                etherType = EtherType.None;
                return DecodeError.NotIp;
        }
    }

    /// <summary>RFC 791 §3.1 checks: version, IHL ≥ 5, IHL ≤ total length ≤ captured bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecodeError ReadIpv4(ReadOnlySpan<byte> frame, int off, out int headerLength, out int totalLength)
    {
        headerLength = 0;
        totalLength = 0;
        if (frame.Length - off < Ipv4MinHeaderLength)
        {
            return DecodeError.Truncated;
        }

        int versionIhl = BigEndian.U8(frame, off);
        if ((versionIhl >> 4) != 4)
        {
            return DecodeError.BadIpVersion;
        }

        headerLength = (versionIhl & 0x0F) << 2;
        if (headerLength < Ipv4MinHeaderLength)
        {
            return DecodeError.BadIhl;
        }

        totalLength = BigEndian.U16(frame, off + 2);
        if (totalLength < headerLength)
        {
            return DecodeError.BadTotalLength;
        }

        // Bytes past the total length are link padding (Ethernet pads to 60), not payload.
        return totalLength > frame.Length - off ? DecodeError.Truncated : DecodeError.None;
    }

    /// <summary>RFC 8200 §3 checks: version and payload length within the captured bytes; jumbograms refused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecodeError ReadIpv6(ReadOnlySpan<byte> frame, int off, out int payloadLength)
    {
        payloadLength = 0;
        if (frame.Length - off < Ipv6HeaderLength)
        {
            return DecodeError.Truncated;
        }

        if ((BigEndian.U8(frame, off) >> 4) != 6)
        {
            return DecodeError.BadIpVersion;
        }

        payloadLength = BigEndian.U16(frame, off + 4);

        // RFC 2675 §2: a zero payload length with Hop-by-Hop options announces a Jumbo Payload option.
        if (payloadLength == 0 && BigEndian.U8(frame, off + 6) == (byte)IpProtocol.HopByHopOptions)
        {
            return DecodeError.JumbogramUnsupported;
        }

        return payloadLength > frame.Length - off - Ipv6HeaderLength ? DecodeError.Truncated : DecodeError.None;
    }

    private static DecodeError DecodeIpv4(ReadOnlySpan<byte> frame, int off, ref PacketFields f)
    {
        DecodeError error = ReadIpv4(frame, off, out int headerLength, out int totalLength);

        // A header cut short by the capture (or quoted in an ICMP error) still names its addresses.
        if (error != DecodeError.None && (error == DecodeError.BadIpVersion || frame.Length - off < Ipv4MinHeaderLength))
        {
            return error;
        }

        f.IpVersion = 4;
        f.FragmentId = BigEndian.U16(frame, off + 4);
        ushort flagsOffset = BigEndian.U16(frame, off + 6);
        f.Ttl = BigEndian.U8(frame, off + 8);
        f.Protocol = (IpProtocol)BigEndian.U8(frame, off + 9);
        f.Source = IpAddr.FromV4(BigEndian.U32(frame, off + 12));
        f.Destination = IpAddr.FromV4(BigEndian.U32(frame, off + 16));
        if (error != DecodeError.None)
        {
            return error;
        }

        // RFC 791 §3.1: flags DF 0x4000, MF 0x2000; fragment offset in 8-byte units in the low 13 bits.
        int fragmentOffset = (flagsOffset & 0x1FFF) << 3;
        bool more = (flagsOffset & 0x2000) != 0;
        PacketFlags flags = (flagsOffset & 0x4000) != 0 ? PacketFlags.DontFragment : PacketFlags.None;
        int payloadOffset = off + headerLength;
        if (more || fragmentOffset != 0)
        {
            flags |= more ? PacketFlags.Fragment | PacketFlags.MoreFragments : PacketFlags.Fragment;
            f.FragmentOffset = fragmentOffset;
            f.FragmentPayloadOffset = payloadOffset;
        }

        f.Flags = flags;
        f.IpPayloadOffset = payloadOffset;
        f.IpPayloadLength = totalLength - headerLength;
        return DecodeTransport(frame, payloadOffset, totalLength - headerLength, fragmentOffset != 0, more, ref f);
    }

    private static DecodeError DecodeIpv6(ReadOnlySpan<byte> frame, int off, ref PacketFields f)
    {
        DecodeError error = ReadIpv6(frame, off, out int payloadLength);
        if (error != DecodeError.None && (error == DecodeError.BadIpVersion || frame.Length - off < Ipv6HeaderLength))
        {
            return error;
        }

        int nh = BigEndian.U8(frame, off + 6);
        f.IpVersion = 6;
        f.Ttl = BigEndian.U8(frame, off + 7);
        f.Protocol = (IpProtocol)nh;
        f.Source = IpAddr.FromV6(BigEndian.U64(frame, off + 8), BigEndian.U64(frame, off + 16));
        f.Destination = IpAddr.FromV6(BigEndian.U64(frame, off + 24), BigEndian.U64(frame, off + 32));
        if (error != DecodeError.None)
        {
            return error;
        }

        int cur = off + Ipv6HeaderLength;
        int end = cur + payloadLength;
        switch (Ipv6ExtensionChain.Walk(frame, end, ref cur, ref nh, out int fragmentHeader, out _))
        {
            case Ipv6ChainError.TooLong:
                return DecodeError.ExtensionChainTooLong;
            case Ipv6ChainError.BadHeader:
                return DecodeError.BadExtensionHeader;
        }

        f.Protocol = (IpProtocol)nh;
        f.IpPayloadOffset = cur;
        f.IpPayloadLength = end - cur;
        bool nonFirst = false;
        bool more = false;
        if (fragmentHeader >= 0)
        {
            int fragmentOffset = Ipv6ExtensionChain.FragmentOffset(frame, fragmentHeader);
            more = Ipv6ExtensionChain.MoreFragments(frame, fragmentHeader);
            nonFirst = fragmentOffset != 0;
            PacketFlags flags = PacketFlags.V6FragmentHeader;
            if (more || nonFirst)
            {
                flags |= more ? PacketFlags.Fragment | PacketFlags.MoreFragments : PacketFlags.Fragment;
            }

            f.Flags = flags;
            f.FragmentOffset = fragmentOffset;
            f.FragmentId = BigEndian.U32(frame, fragmentHeader + 4);
            f.FragmentPayloadOffset = fragmentHeader + 8;
        }

        return DecodeTransport(frame, cur, end - cur, nonFirst, more, ref f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecodeError DecodeTransport(ReadOnlySpan<byte> frame, int off, int length, bool nonFirstFragment, bool moreFragments, ref PacketFields f)
    {
        f.PayloadOffset = off;
        f.PayloadLength = length;

        // A non-first fragment starts mid-datagram: there is no transport header to read.
        if (nonFirstFragment)
        {
            return DecodeError.None;
        }

        switch (f.Protocol)
        {
            case IpProtocol.Udp:
                {
                    if (length < UdpHeaderLength)
                    {
                        return DecodeError.TransportTruncated;
                    }

                    ushort sp = BigEndian.U16(frame, off);
                    ushort dp = BigEndian.U16(frame, off + 2);
                    int udpLength = BigEndian.U16(frame, off + 4);
                    f.SourcePort = sp;
                    f.DestinationPort = dp;

                    // RFC 768: the length covers header and data. A first fragment holds only part of it.
                    int dataLength = length - UdpHeaderLength;
                    if (!moreFragments)
                    {
                        if (udpLength < UdpHeaderLength || udpLength > length)
                        {
                            return DecodeError.BadUdpLength;
                        }

                        dataLength = udpLength - UdpHeaderLength;
                    }

                    f.Flags |= PacketFlags.Transport;
                    f.PayloadOffset = off + UdpHeaderLength;
                    f.PayloadLength = dataLength;
                    f.PortClass = PortClassifier.Classify(IpProtocol.Udp, sp, dp);
                    return DecodeError.None;
                }

            case IpProtocol.Tcp:
                {
                    if (length < TcpMinHeaderLength)
                    {
                        return DecodeError.TransportTruncated;
                    }

                    ushort sp = BigEndian.U16(frame, off);
                    ushort dp = BigEndian.U16(frame, off + 2);
                    f.SourcePort = sp;
                    f.DestinationPort = dp;

                    // RFC 9293 §3.1: data offset counts 32-bit words, at least 5; options fill the rest.
                    int dataOffset = (BigEndian.U8(frame, off + 12) >> 4) << 2;
                    if (dataOffset < TcpMinHeaderLength || dataOffset > length)
                    {
                        return DecodeError.BadTcpDataOffset;
                    }

                    f.TcpSequence = BigEndian.U32(frame, off + 4);
                    f.TcpAcknowledgment = BigEndian.U32(frame, off + 8);
                    f.TcpFlags = (TcpFlags)BigEndian.U8(frame, off + 13);
                    f.TcpWindow = BigEndian.U16(frame, off + 14);
                    f.Flags |= PacketFlags.Transport;
                    f.PayloadOffset = off + dataOffset;
                    f.PayloadLength = length - dataOffset;
                    f.PortClass = PortClassifier.Classify(IpProtocol.Tcp, sp, dp);
                    return DecodeError.None;
                }

            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                {
                    if (length < IcmpHeaderLength)
                    {
                        return DecodeError.TransportTruncated;
                    }

                    byte type = BigEndian.U8(frame, off);
                    f.IcmpType = type;
                    f.IcmpCode = BigEndian.U8(frame, off + 1);
                    f.Flags |= PacketFlags.Transport;
                    f.PayloadOffset = off + IcmpHeaderLength;
                    f.PayloadLength = length - IcmpHeaderLength;
                    if (f.Protocol == IpProtocol.Icmp ? IsIcmpV4Error(type) : type < 128)
                    {
                        f.IcmpInnerOffset = off + IcmpHeaderLength;
                    }

                    return DecodeError.None;
                }

            default:
                return DecodeError.None;
        }
    }

    /// <summary>
    /// RFC 792 error messages (destination unreachable 3, source quench 4, redirect 5, time exceeded 11,
    /// parameter problem 12) quote the invoking IP header after the 8-byte ICMP header. ICMPv6 marks errors
    /// by a type below 128 (RFC 4443 §2.1).
    /// </summary>
    private static bool IsIcmpV4Error(byte type) => type is 3 or 4 or 5 or 11 or 12;

    /// <summary>The field layout of <see cref="FlowKey5"/> (a sequential struct), written in place by the short path.</summary>
    private struct FlowKeyFields
    {
        public IpAddr Source;
        public IpAddr Destination;
        public ushort SourcePort;
        public ushort DestinationPort;
        public IpProtocol Protocol;
    }
}
