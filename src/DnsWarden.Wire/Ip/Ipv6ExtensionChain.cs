using System.Runtime.CompilerServices;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Wire.Ip;

/// <summary>
/// The IPv6 extension header chain (RFC 8200 §4) between the fixed header and the upper layer: the one walk the capture
/// decoder (<see cref="PacketDecoder"/>) and the TUN view (<see cref="Packets.IpPacket"/>) both take, so a packet's
/// transport is the same to the detector and to the filter.
/// </summary>
internal static class Ipv6ExtensionChain
{
    /// <summary>Headers walked before giving up; RFC 8200 §4.1's recommended order has at most 8.</summary>
    public const int MaxHeaders = 8;

    private const int Unit = 8;

    /// <summary>
    /// Whether <paramref name="nextHeader"/> is a header the walk steps over: Hop-by-Hop, Routing, Fragment, Destination
    /// Options, AH (RFC 4302), Mobility (RFC 6275), HIP (RFC 7401) and Shim6 (RFC 5533) — the IANA "IPv6 Extension
    /// Header Types" that carry a Next Header field. ESP (opaque, RFC 4303) and No Next Header end the chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsExtension(int nextHeader) =>
        nextHeader is (int)IpProtocol.HopByHopOptions or (int)IpProtocol.Routing or (int)IpProtocol.Fragment
            or (int)IpProtocol.DestinationOptions or (int)IpProtocol.Ah or (int)IpProtocol.Mobility
            or (int)IpProtocol.Hip or (int)IpProtocol.Shim6;

    /// <summary>
    /// Walks the chain from <paramref name="cur"/> (just past the fixed header) up to <paramref name="end"/> (the payload's
    /// end). On success <paramref name="cur"/> and <paramref name="nextHeader"/> name the first header that is not an
    /// extension, or what follows a Fragment header with a non-zero offset, which is the middle of a datagram.
    /// <paramref name="fragmentHeader"/> is the offset of the last Fragment header (−1 when none);
    /// <paramref name="routingHeader"/> tells whether a Routing header was stepped over.
    /// </summary>
    public static Ipv6ChainError Walk(ReadOnlySpan<byte> packet, int end, ref int cur, ref int nextHeader, out int fragmentHeader, out bool routingHeader)
    {
        fragmentHeader = -1;
        routingHeader = false;
        int nh = nextHeader;
        int c = cur;
        for (int count = 0; IsExtension(nh); count++)
        {
            if (count == MaxHeaders)
            {
                return Ipv6ChainError.TooLong;
            }

            // RFC 8200 §4.3: Hop-by-Hop options only directly after the IPv6 header. Every header is ≥ 8 bytes
            // (RFC 8200 §4; RFC 4302 §2.2 for AH), so the next-header and length bytes are there.
            if ((nh == (int)IpProtocol.HopByHopOptions && count != 0) || end - c < Unit)
            {
                return Ipv6ChainError.BadHeader;
            }

            int next = BigEndian.U8(packet, c);
            if (nh == (int)IpProtocol.Fragment)
            {
                // RFC 8200 §4.5: fixed 8 bytes; offset (8-byte units) in the top 13 bits of bytes 2–3, M flag in bit 0.
                fragmentHeader = c;
                c += Unit;
                nh = next;
                if ((BigEndian.U16(packet, fragmentHeader + 2) & 0xFFF8) != 0)
                {
                    break;
                }

                continue;
            }

            routingHeader |= nh == (int)IpProtocol.Routing;
            int length = nh == (int)IpProtocol.Ah
                ? (BigEndian.U8(packet, c + 1) + 2) << 2 // RFC 4302 §2.2: 4-byte units, minus 2
                : (BigEndian.U8(packet, c + 1) + 1) << 3; // RFC 8200 §4.3–4.6: 8-byte units, first 8 not counted
            if (length > end - c)
            {
                return Ipv6ChainError.BadHeader;
            }

            c += length;
            nh = next;
        }

        cur = c;
        nextHeader = nh;
        return Ipv6ChainError.None;
    }

    /// <summary>The fragment offset in bytes of the Fragment header at <paramref name="fragmentHeader"/> (RFC 8200 §4.5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FragmentOffset(ReadOnlySpan<byte> packet, int fragmentHeader) => BigEndian.U16(packet, fragmentHeader + 2) & 0xFFF8;

    /// <summary>The M (more fragments) flag of the Fragment header at <paramref name="fragmentHeader"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MoreFragments(ReadOnlySpan<byte> packet, int fragmentHeader) => (BigEndian.U16(packet, fragmentHeader + 2) & 1) != 0;
}
