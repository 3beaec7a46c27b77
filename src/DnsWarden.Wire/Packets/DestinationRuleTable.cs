using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Packets;

/// <summary>
/// Destination address → service index, looked up per packet straight from the raw bytes. IPv4 rules are
/// matched by IPv4 packets and IPv6 rules by IPv6 packets only: an IPv6 packet to a v4-mapped address
/// (::ffff:a.b.c.d, never valid on the wire, RFC 4291 §2.5.5.2) matches nothing.
/// </summary>
/// <remarks>
/// Rule tables are small (a virtual DNS address or two, a virtual subnet's hosts), so a linear compare over
/// an array of raw keys beats hashing. Changes copy the array and publish the new one with a release write;
/// <see cref="Match"/> reads whichever array is current, so readers never lock and never see a torn rule.
/// </remarks>
public sealed class DestinationRuleTable
{
    private const int Ipv4DestinationOffset = 16;
    private const int Ipv6DestinationOffset = 24;
    private const int Ipv4MinLength = 20;
    private const int Ipv6MinLength = 40;

    private readonly Lock _gate = new();
    private V4Rule[] _v4 = [];
    private V6Rule[] _v6 = [];

    /// <summary>Rules in the table, both families.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _v4.Length + _v6.Length;
            }
        }
    }

    /// <summary>Adds a rule; false (and no change) when <paramref name="address"/> already has one.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="service"/> is negative.</exception>
    public bool Add(IpAddr address, int service)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(service);
        lock (_gate)
        {
            if (address.IsV4)
            {
                V4Rule[] rules = _v4;
                uint key = V4Key(address);
                if (IndexOf(rules, key) >= 0)
                {
                    return false;
                }

                V4Rule[] next = new V4Rule[rules.Length + 1];
                rules.CopyTo(next, 0);
                next[^1] = new V4Rule(key, service);
                Volatile.Write(ref _v4, next);
                return true;
            }
            else
            {
                V6Rule[] rules = _v6;
                (ulong high, ulong low) = V6Key(address);
                if (IndexOf(rules, high, low) >= 0)
                {
                    return false;
                }

                V6Rule[] next = new V6Rule[rules.Length + 1];
                rules.CopyTo(next, 0);
                next[^1] = new V6Rule(high, low, service);
                Volatile.Write(ref _v6, next);
                return true;
            }
        }
    }

    /// <summary>Removes the rule for <paramref name="address"/>; false when there was none.</summary>
    public bool Remove(IpAddr address)
    {
        lock (_gate)
        {
            if (address.IsV4)
            {
                V4Rule[] rules = _v4;
                int i = IndexOf(rules, V4Key(address));
                if (i < 0)
                {
                    return false;
                }

                Volatile.Write(ref _v4, Without(rules, i));
                return true;
            }
            else
            {
                V6Rule[] rules = _v6;
                (ulong high, ulong low) = V6Key(address);
                int i = IndexOf(rules, high, low);
                if (i < 0)
                {
                    return false;
                }

                Volatile.Write(ref _v6, Without(rules, i));
                return true;
            }
        }
    }

    /// <summary>The service for <paramref name="address"/> (IPv4 rules for IPv4 addresses), or -1.</summary>
    public int Lookup(IpAddr address)
    {
        if (address.IsV4)
        {
            V4Rule[] rules = Volatile.Read(ref _v4);
            int i = IndexOf(rules, V4Key(address));
            return i < 0 ? -1 : rules[i].Service;
        }

        V6Rule[] v6 = Volatile.Read(ref _v6);
        (ulong high, ulong low) = V6Key(address);
        int j = IndexOf(v6, high, low);
        return j < 0 ? -1 : v6[j].Service;
    }

    /// <summary>
    /// The service for a read packet: <see cref="Lookup(IpAddr)"/> of its destination, except that an IPv6
    /// packet to a v4-mapped address matches nothing. Always equal to <see cref="Match"/> on the same bytes.
    /// </summary>
    public int Lookup(in IpPacketInfo packet) =>
        packet.Version == 4 || (packet.Version == 6 && !packet.Destination.IsV4) ? Lookup(packet.Destination) : -1;

    /// <summary>
    /// The per-packet decision: reads only the version nibble and the destination address (IPv4 bytes 16–19,
    /// IPv6 bytes 24–39) and returns the service that claims it, or -1 when none does or the bytes are too
    /// short or not IPv4/IPv6 (run <see cref="IpPacket.TryRead(ReadOnlySpan{byte}, out IpPacketInfo, out IpPacketError)"/> to classify those).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Match(ReadOnlySpan<byte> packet)
    {
        // Keys are stored as the raw bytes read in native order, so no byte swap on this path.
        ref byte p = ref MemoryMarshal.GetReference(packet);
        if (packet.Length >= Ipv4MinLength)
        {
            int version = p >> 4;
            if (version == 4)
            {
                uint destination = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, Ipv4DestinationOffset));
                V4Rule[] rules = Volatile.Read(ref _v4);
                for (int i = 0; i < rules.Length; i++)
                {
                    if (rules[i].Key == destination)
                    {
                        return rules[i].Service;
                    }
                }
            }
            else if (version == 6 && packet.Length >= Ipv6MinLength)
            {
                return MatchV6(ref p);
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int MatchV6(ref byte p)
    {
        ulong high = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, Ipv6DestinationOffset));
        ulong low = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, Ipv6DestinationOffset + 8));
        V6Rule[] rules = Volatile.Read(ref _v6);
        for (int i = 0; i < rules.Length; i++)
        {
            if (rules[i].High == high && rules[i].Low == low)
            {
                return rules[i].Service;
            }
        }

        return -1;
    }

    private static uint V4Key(IpAddr address) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(address.V4) : address.V4;

    private static (ulong High, ulong Low) V6Key(IpAddr address) => BitConverter.IsLittleEndian
        ? (BinaryPrimitives.ReverseEndianness(address.High), BinaryPrimitives.ReverseEndianness(address.Low))
        : (address.High, address.Low);

    private static int IndexOf(V4Rule[] rules, uint key)
    {
        for (int i = 0; i < rules.Length; i++)
        {
            if (rules[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    private static int IndexOf(V6Rule[] rules, ulong high, ulong low)
    {
        for (int i = 0; i < rules.Length; i++)
        {
            if (rules[i].High == high && rules[i].Low == low)
            {
                return i;
            }
        }

        return -1;
    }

    private static T[] Without<T>(T[] rules, int index)
    {
        if (rules.Length == 1)
        {
            return [];
        }

        T[] next = new T[rules.Length - 1];
        Array.Copy(rules, 0, next, 0, index);
        Array.Copy(rules, index + 1, next, index, rules.Length - index - 1);
        return next;
    }

    private readonly record struct V4Rule(uint Key, int Service);

    private readonly record struct V6Rule(ulong High, ulong Low, int Service);
}
