using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// <see cref="PacketDecoder"/>: the first byte picks the link type, the rest is the frame. TryDecode,
/// TryClassify and TryGetDestination must agree, and every offset TryDecode reports must lie in the frame.
/// </summary>
internal sealed class FramesFuzzer : IFuzzer
{
    private static readonly LinkType[] s_links = Enum.GetValues<LinkType>();

    public string Name => "Frames";

    public static LinkType PickLink(byte b) => s_links[b % s_links.Length];

    public static byte LinkByte(LinkType link) => (byte)Array.IndexOf(s_links, link);

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        Check(PickLink(bytes[0]), bytes.Slice(1));
    }

    public IReadOnlyList<byte[]> GetSeeds()
    {
        var seeds = new List<byte[]>();
        foreach (byte[] ip in SeedCorpus.IpPackets())
        {
            foreach (LinkType link in s_links)
            {
                bool v4 = (ip[0] >> 4) == 4;
                if ((link == LinkType.Ipv4 && !v4) || (link == LinkType.Ipv6 && v4))
                {
                    continue;
                }

                seeds.Add([LinkByte(link), .. SeedCorpus.Frame(link, ip)]);
            }
        }

        // Found by this fuzzer: a native IPv6 header (link Ipv6) whose destination is v4-mapped ::ffff:2.253.0.0.
        seeds.Add(Convert.FromHexString("06600002fd0000050000000000030000000000301140fd000000000000000000000000ffff02fd000000000000000003000000"));
        return seeds;
    }

    private static void Check(LinkType link, ReadOnlySpan<byte> frame)
    {
        bool decoded = PacketDecoder.TryDecode(link, frame, out DecodedPacket p);
        bool classified = PacketDecoder.TryClassify(link, frame, out FlowKey5 key, out PortClass portClass, out DecodeError classifyError);
        bool hasDestination = PacketDecoder.TryGetDestination(link, frame, out IpAddr destination);
        _ = p.ToString();

        FuzzAssert.True(decoded == (p.Error == DecodeError.None), $"TryDecode returned {decoded} with Error {p.Error}");
        FuzzAssert.True(
            decoded == classified,
            $"{link}: TryDecode={decoded} ({p.Error}) but TryClassify={classified} ({classifyError})");
        if (!decoded)
        {
            return;
        }

        FuzzAssert.True(p.LinkType == link, "LinkType not echoed");
        FuzzAssert.True(key == p.FlowKey, $"{link}: TryClassify key {key} != TryDecode key {p.FlowKey}");
        FuzzAssert.True(portClass == p.PortClass, $"{link}: TryClassify {portClass} != TryDecode {p.PortClass}");
        FuzzAssert.True(hasDestination, $"{link}: TryDecode succeeded but TryGetDestination failed");
        FuzzAssert.True(destination == p.Destination, $"{link}: TryGetDestination {destination} != {p.Destination}");
        FuzzAssert.True(p.IpVersion is 4 or 6, $"IpVersion {p.IpVersion}");
        // Only one way: IpAddr keeps IPv4 as ::ffff:a.b.c.d, so an IPv6 packet to a v4-mapped address reads as IsV4.
        FuzzAssert.True(p.IpVersion != 4 || (p.Source.IsV4 && p.Destination.IsV4), "IPv4 packet with a non-IPv4 address");
        FuzzAssert.True(p.VlanCount <= PacketDecoder.MaxVlanTags, $"VlanCount {p.VlanCount}");

        int n = frame.Length;
        FuzzAssert.InRange(p.IpHeaderOffset, p.IpPayloadOffset - p.IpHeaderOffset, n, "IP header");
        FuzzAssert.InRange(p.IpPayloadOffset, p.IpPayloadLength, n, "IP payload");
        FuzzAssert.True(p.IpPacket(frame).Length == p.IpPayloadOffset + p.IpPayloadLength - p.IpHeaderOffset, "IpPacket length");
        FuzzAssert.InRange(p.PayloadOffset, p.PayloadLength, n, "transport payload");
        _ = p.Payload(frame);
        if (p.HasTransportHeader)
        {
            FuzzAssert.True(p.PayloadOffset >= p.IpPayloadOffset, "transport payload before the IP payload");
            FuzzAssert.True(
                p.PayloadOffset + p.PayloadLength <= p.IpPayloadOffset + p.IpPayloadLength,
                "transport payload runs past the IP payload");
        }

        if (p.IcmpInnerOffset >= 0)
        {
            FuzzAssert.InRange(p.IcmpInnerOffset, 0, n, "ICMP inner offset");
        }

        if (p.FragmentPayloadOffset >= 0)
        {
            // RFC 6946: an IPv6 atomic fragment (offset 0, M clear) has a Fragment header but is not a fragment.
            FuzzAssert.True(p.IsFragment || p.HasIpv6FragmentHeader, "FragmentPayloadOffset set on a non-fragment");
            FuzzAssert.InRange(p.FragmentPayloadOffset, p.IpPayloadOffset + p.IpPayloadLength - p.FragmentPayloadOffset, n, "fragment payload");
        }

        if (p.IsFragment && p.FragmentOffset != 0)
        {
            FuzzAssert.True(!p.HasTransportHeader, "a non-first fragment claims a transport header");
        }

        _ = p.VerifyIpv4HeaderChecksum(frame);
        _ = p.VerifyTransportChecksum(frame);
    }
}
