using System.Buffers.Binary;

namespace DnsWarden.Platform.Network;

/// <summary>Why an rtnetlink message or attribute could not be read.</summary>
public enum RtnetlinkError
{
    None,

    /// <summary>Fewer bytes than the header or fixed part needs.</summary>
    Truncated,

    /// <summary>A length field smaller than its header or running past the buffer.</summary>
    BadLength,

    /// <summary>An attribute of a known type with the wrong size (an address of 5 bytes, a 2-byte u32).</summary>
    BadAttribute,

    /// <summary>The kernel answered NLMSG_ERROR with a non-zero errno.</summary>
    KernelError,

    /// <summary>A message type this reader does not expect here.</summary>
    UnexpectedType,
}

/// <summary>One netlink attribute (<c>struct nlattr</c>): its type without the NESTED/BYTEORDER bits and its payload.</summary>
public readonly ref struct NetlinkAttribute(ushort type, bool nested, ReadOnlySpan<byte> payload)
{
    public ushort Type { get; } = type;

    public bool Nested { get; } = nested;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// Walks a run of netlink attributes. Each is <c>{u16 len; u16 type}</c> then the payload, padded to 4 bytes
/// (NLA_ALIGNTO, include/uapi/linux/netlink.h). A length below the header or past the end stops the walk with
/// <see cref="Error"/> set; padding missing after the last attribute is tolerated, as the kernel does.
/// </summary>
public ref struct NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
{
    public const int HeaderLength = 4;
    private const ushort NestedFlag = 0x8000;
    private const ushort ByteOrderFlag = 0x4000;

    private ReadOnlySpan<byte> _rest = attributes;

    public RtnetlinkError Error { get; private set; }

    public bool TryRead(out NetlinkAttribute attribute)
    {
        attribute = default;
        if (_rest.IsEmpty || Error != RtnetlinkError.None)
        {
            return false;
        }

        if (_rest.Length < HeaderLength)
        {
            Error = RtnetlinkError.Truncated;
            return false;
        }

        ushort length = NetlinkPrimitives.ReadU16(_rest);
        ushort rawType = NetlinkPrimitives.ReadU16(_rest[2..]);
        if (length < HeaderLength || length > _rest.Length)
        {
            Error = RtnetlinkError.BadLength;
            return false;
        }

        attribute = new NetlinkAttribute((ushort)(rawType & ~(NestedFlag | ByteOrderFlag)), (rawType & NestedFlag) != 0, _rest[HeaderLength..length]);
        int advance = NetlinkPrimitives.Align(length);
        _rest = advance >= _rest.Length ? [] : _rest[advance..];
        return true;
    }
}

/// <summary>Netlink numbers are in host byte order (netlink(7)); addresses inside attributes are network order.</summary>
internal static class NetlinkPrimitives
{
    public static int Align(int length) => (length + 3) & ~3;

    public static ushort ReadU16(ReadOnlySpan<byte> s) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s);

    public static uint ReadU32(ReadOnlySpan<byte> s) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);

    public static void WriteU16(Span<byte> s, ushort v)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(s, v);
        }
    }

    public static void WriteU32(Span<byte> s, uint v)
    {
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(s, v);
        }
    }

    public static bool TryReadU32(ReadOnlySpan<byte> payload, out uint value)
    {
        if (payload.Length != 4)
        {
            value = 0;
            return false;
        }

        value = ReadU32(payload);
        return true;
    }

    /// <summary>A NUL-terminated string attribute (IFLA_IFNAME, IFLA_INFO_KIND); the NUL is optional on input.</summary>
    public static string ReadString(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(nul >= 0 ? payload[..nul] : payload);
    }
}
