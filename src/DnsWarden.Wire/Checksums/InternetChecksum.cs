using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Checksums;

/// <summary>
/// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of the data
/// taken as big-endian 16-bit words. Values here are plain numbers to write with a big-endian store.
/// </summary>
/// <remarks>
/// The sum is byte-order independent (RFC 1071 §2(B)), so it is accumulated over native-order 32-bit words
/// in a 64-bit register, which cannot overflow below 2^32 words, folded, and swapped once at the end.
/// A partial sum from <see cref="Sum"/> can seed the next call as long as every earlier chunk had an even
/// length (RFC 1071 §2(C)).
/// </remarks>
public static class InternetChecksum
{
    private const int VectorThreshold = 64;

    /// <summary>One's complement sum of <paramref name="data"/> added to <paramref name="initial"/>, not complemented.</summary>
    public static ushort Sum(ReadOnlySpan<byte> data, ushort initial = 0)
    {
        ushort folded = Fold(NativeSum(data));
        if (BitConverter.IsLittleEndian)
        {
            folded = BinaryPrimitives.ReverseEndianness(folded);
        }

        return Add(folded, initial);
    }

    /// <summary>One's complement addition of two partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Add(ushort a, ushort b)
    {
        uint s = (uint)a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    /// <summary>The checksum of <paramref name="data"/> (with the checksum field zero), seeded with a partial sum.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ushort initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>True when data that includes its checksum field sums to all ones (RFC 1071 §1).</summary>
    public static bool IsValid(ReadOnlySpan<byte> data, ushort initial = 0) => Sum(data, initial) == 0xFFFF;

    /// <summary>
    /// The partial sum of the transport pseudo-header: RFC 768 / RFC 9293 §3.1 for IPv4 (addresses, zero,
    /// protocol, 16-bit length), RFC 8200 §8.1 for IPv6 (addresses, 32-bit length, zeros, next header).
    /// Both addresses must be IPv4 for the IPv4 form.
    /// </summary>
    public static ushort PseudoHeaderSum(IpAddr source, IpAddr destination, IpProtocol protocol, int upperLayerLength)
    {
        ulong acc = (uint)protocol + (ulong)(uint)upperLayerLength;
        if (source.IsV4 && destination.IsV4)
        {
            acc += (ulong)source.V4 + destination.V4;
        }
        else
        {
            acc += (source.High >> 32) + (uint)source.High + (source.Low >> 32) + (uint)source.Low
                 + (destination.High >> 32) + (uint)destination.High + (destination.Low >> 32) + (uint)destination.Low;
        }

        return Fold(acc);
    }

    /// <summary>
    /// The UDP, TCP or ICMPv6 checksum of <paramref name="segment"/> (header and data), whatever its checksum
    /// field holds. A UDP result of zero is returned as 0xFFFF, since zero on the wire means "none" (RFC 768).
    /// </summary>
    public static ushort ComputeTransport(IpAddr source, IpAddr destination, IpProtocol protocol, ReadOnlySpan<byte> segment)
    {
        int field = ChecksumFieldOffset(protocol);
        ushort sum = PseudoSumFor(source, destination, protocol, segment.Length);
        if (field >= 0 && segment.Length >= field + 2)
        {
            sum = Sum(segment.Slice(0, field), sum);
            sum = Sum(segment.Slice(field + 2), sum);
        }
        else
        {
            sum = Sum(segment, sum);
        }

        ushort checksum = (ushort)~sum;
        return protocol == IpProtocol.Udp && checksum == 0 ? (ushort)0xFFFF : checksum;
    }

    /// <summary>True when <paramref name="segment"/>, checksum field included, verifies against its pseudo-header.</summary>
    public static bool VerifyTransport(IpAddr source, IpAddr destination, IpProtocol protocol, ReadOnlySpan<byte> segment) =>
        IsValid(segment, PseudoSumFor(source, destination, protocol, segment.Length));

    /// <summary>The IPv4 header checksum (RFC 791 §3.1), skipping the checksum field at bytes 10–11.</summary>
    public static bool TryComputeIpv4Header(ReadOnlySpan<byte> header, out ushort checksum)
    {
        if (header.Length < 20)
        {
            checksum = 0;
            return false;
        }

        checksum = (ushort)~Sum(header.Slice(12), Sum(header.Slice(0, 10)));
        return true;
    }

    /// <summary>Verifies an IPv4 header (exactly IHL × 4 bytes, field included).</summary>
    public static bool VerifyIpv4Header(ReadOnlySpan<byte> header) => header.Length >= 20 && IsValid(header);

    /// <summary>The ICMPv4 checksum over the whole message (RFC 792), skipping the field at bytes 2–3.</summary>
    public static bool TryComputeIcmpV4(ReadOnlySpan<byte> message, out ushort checksum)
    {
        if (message.Length < 4)
        {
            checksum = 0;
            return false;
        }

        checksum = (ushort)~Sum(message.Slice(4), Sum(message.Slice(0, 2)));
        return true;
    }

    private static ushort PseudoSumFor(IpAddr source, IpAddr destination, IpProtocol protocol, int length) =>
        protocol == IpProtocol.Icmp ? (ushort)0 : PseudoHeaderSum(source, destination, protocol, length);

    private static int ChecksumFieldOffset(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Udp => 6,
        IpProtocol.Tcp => 16,
        IpProtocol.IcmpV6 or IpProtocol.Icmp => 2,
        _ => -1,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Fold(ulong acc)
    {
        acc = (acc >> 32) + (acc & 0xFFFF_FFFF);
        acc = (acc >> 32) + (acc & 0xFFFF_FFFF);
        uint s = (uint)acc;
        s = (s >> 16) + (s & 0xFFFF);
        s = (s >> 16) + (s & 0xFFFF);
        return (ushort)s;
    }

    private static ulong NativeSum(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        ulong acc = 0;
        if (Vector128.IsHardwareAccelerated && length >= VectorThreshold)
        {
            // Widen 32-bit lanes into 64-bit accumulators: no carries to track for any span length.
            Vector128<ulong> lo = Vector128<ulong>.Zero;
            Vector128<ulong> hi = Vector128<ulong>.Zero;
            for (; i <= length - 16; i += 16)
            {
                (Vector128<ulong> a, Vector128<ulong> b) = Vector128.Widen(Vector128.LoadUnsafe(ref start, (nuint)i).AsUInt32());
                lo += a;
                hi += b;
            }

            Vector128<ulong> both = lo + hi;
            acc = both.GetElement(0) + both.GetElement(1);
        }

        for (; i <= length - 8; i += 8)
        {
            ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            acc += (v >> 32) + (uint)v;
        }

        if (i <= length - 4)
        {
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            i += 4;
        }

        if (i <= length - 2)
        {
            acc += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            i += 2;
        }

        if (i < length)
        {
            // A trailing odd byte is the high half of a zero-padded big-endian word.
            byte last = Unsafe.Add(ref start, i);
            acc += BitConverter.IsLittleEndian ? last : (uint)last << 8;
        }

        return acc;
    }
}
