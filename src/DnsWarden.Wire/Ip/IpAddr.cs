using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;

namespace DnsWarden.Wire.Ip;

/// <summary>
/// An IPv4 or IPv6 address as a 16-byte value with no heap allocation, for flow keys and comparisons
/// on the per-packet path. IPv4 addresses are held IPv4-mapped (::ffff:a.b.c.d) so that the two
/// families share one layout; <see cref="IsV4"/> tells them apart.
/// </summary>
public readonly struct IpAddr : IEquatable<IpAddr>, IComparable<IpAddr>
{
    private const ulong V4MappedHigh = 0UL;
    private const ulong V4MappedLowPrefix = 0x0000_FFFF_0000_0000UL;

    private readonly ulong _hi;
    private readonly ulong _lo;

    private IpAddr(ulong hi, ulong lo)
    {
        _hi = hi;
        _lo = lo;
    }

    public static IpAddr None => default;

    public bool IsV4 => _hi == V4MappedHigh && (_lo & 0xFFFF_FFFF_0000_0000UL) == V4MappedLowPrefix;

    /// <summary>The IPv4 address in host order; meaningful only when <see cref="IsV4"/>.</summary>
    public uint V4 => (uint)_lo;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr FromV4(uint hostOrder) => new(V4MappedHigh, V4MappedLowPrefix | hostOrder);

    /// <summary>Reads 4 bytes (network order) as IPv4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr FromV4(ReadOnlySpan<byte> fourBytes) => FromV4(BinaryPrimitives.ReadUInt32BigEndian(fourBytes));

    /// <summary>Reads 16 bytes (network order) as IPv6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr FromV6(ReadOnlySpan<byte> sixteenBytes) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(sixteenBytes), BinaryPrimitives.ReadUInt64BigEndian(sixteenBytes.Slice(8)));

    /// <summary>Builds an IPv6 address from its two network-order halves read as big-endian integers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr FromV6(ulong high, ulong low) => new(high, low);

    /// <summary>The first 8 bytes of the 16-byte form as a big-endian integer (0 for IPv4).</summary>
    public ulong High => _hi;

    /// <summary>The last 8 bytes of the 16-byte form as a big-endian integer (::ffff:a.b.c.d for IPv4).</summary>
    public ulong Low => _lo;

    public static IpAddr FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(b, out _);
            return FromV4(b);
        }

        address.TryWriteBytes(b, out _);
        return FromV6(b);
    }

    public static IpAddr Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static bool TryParse(ReadOnlySpan<char> text, out IpAddr value)
    {
        if (IPAddress.TryParse(text, out IPAddress? a))
        {
            value = FromIPAddress(a);
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>Writes the address in network order: 4 bytes for IPv4, 16 for IPv6.</summary>
    public bool TryWriteBytes(Span<byte> destination, out int bytesWritten)
    {
        if (IsV4)
        {
            if (destination.Length < 4)
            {
                bytesWritten = 0;
                return false;
            }

            BinaryPrimitives.WriteUInt32BigEndian(destination, V4);
            bytesWritten = 4;
            return true;
        }

        if (destination.Length < 16)
        {
            bytesWritten = 0;
            return false;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(8), _lo);
        bytesWritten = 16;
        return true;
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[16];
        TryWriteBytes(b, out int n);
        return new IPAddress(b.Slice(0, n));
    }

    public override string ToString() => ToIPAddress().ToString();

    public bool Equals(IpAddr other) => _hi == other._hi && _lo == other._lo;

    public override bool Equals(object? obj) => obj is IpAddr other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_hi, _lo);

    public int CompareTo(IpAddr other)
    {
        int c = _hi.CompareTo(other._hi);
        return c != 0 ? c : _lo.CompareTo(other._lo);
    }

    public static bool operator ==(IpAddr left, IpAddr right) => left.Equals(right);

    public static bool operator !=(IpAddr left, IpAddr right) => !left.Equals(right);

    public static bool operator <(IpAddr left, IpAddr right) => left.CompareTo(right) < 0;

    public static bool operator >(IpAddr left, IpAddr right) => left.CompareTo(right) > 0;

    public static bool operator <=(IpAddr left, IpAddr right) => left.CompareTo(right) <= 0;

    public static bool operator >=(IpAddr left, IpAddr right) => left.CompareTo(right) >= 0;
}
