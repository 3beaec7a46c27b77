using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Tests.Ip;

/// <summary>Test-only: splits a transport segment into IPv4 fragments (RFC 791 §3.2), shared with the capture and leak tests.</summary>
internal static class Ipv4Fragments
{
    /// <summary>Fragments of at most <paramref name="size"/> payload bytes (a multiple of 8), in order.</summary>
    public static List<byte[]> Split(IpAddr src, IpAddr dst, IpProtocol protocol, byte[] segment, ushort id, int size)
    {
        var fragments = new List<byte[]>();
        for (int offset = 0; offset < segment.Length; offset += size)
        {
            int length = Math.Min(size, segment.Length - offset);
            var options = new IpHeaderOptions { Identification = id, FragmentOffset = offset, MoreFragments = offset + length < segment.Length };
            byte[] packet = new byte[20 + length];
            if (!IpHeaderWriter.TryWriteIpv4Header(packet, src, dst, protocol, length, options, out int header))
            {
                throw new InvalidOperationException("IPv4 header did not fit");
            }

            segment.AsSpan(offset, length).CopyTo(packet.AsSpan(header));
            fragments.Add(packet);
        }

        return fragments;
    }
}
