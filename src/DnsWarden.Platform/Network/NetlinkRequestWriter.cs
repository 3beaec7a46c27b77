using System.Text;

namespace DnsWarden.Platform.Network;

/// <summary>
/// Builds one netlink request in a caller's buffer: <c>struct nlmsghdr</c>, a fixed family header, then attributes,
/// each 4-byte aligned (NLMSG_ALIGN, NLA_ALIGN in include/uapi/linux/netlink.h). Padding is zeroed. Running out of
/// room throws: requests are built from names and addresses the caller checked, so it is a programming error.
/// </summary>
internal ref struct NetlinkRequestWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public NetlinkRequestWriter(Span<byte> buffer, ushort type, ushort flags, uint sequence)
    {
        _buffer = buffer;
        Reserve(RtnetlinkParser.MessageHeaderLength);
        NetlinkPrimitives.WriteU16(_buffer[4..], type);
        NetlinkPrimitives.WriteU16(_buffer[6..], flags);
        NetlinkPrimitives.WriteU32(_buffer[8..], sequence);
    }

    public readonly int Length => _length;

    /// <summary>Appends <paramref name="length"/> zeroed bytes (padded) and returns them for the caller to fill.</summary>
    public Span<byte> AppendFixed(int length)
    {
        int start = _length;
        Reserve(length);
        return _buffer.Slice(start, length);
    }

    public void AddBytes(ushort type, scoped ReadOnlySpan<byte> value)
    {
        int start = _length;
        Reserve(NetlinkAttributeReader.HeaderLength + value.Length);
        NetlinkPrimitives.WriteU16(_buffer[start..], (ushort)(NetlinkAttributeReader.HeaderLength + value.Length));
        NetlinkPrimitives.WriteU16(_buffer[(start + 2)..], type);
        value.CopyTo(_buffer[(start + NetlinkAttributeReader.HeaderLength)..]);
    }

    public void AddU32(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        NetlinkPrimitives.WriteU32(bytes, value);
        AddBytes(type, bytes);
    }

    /// <summary>A NUL-terminated string attribute (IFLA_IFNAME, IFLA_INFO_KIND).</summary>
    public void AddString(ushort type, string value)
    {
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(value.Length) + 1];
        int n = Encoding.UTF8.GetBytes(value, bytes);
        bytes[n] = 0;
        AddBytes(type, bytes[..(n + 1)]);
    }

    /// <summary>Opens a nested attribute; its length is written by <see cref="EndNested"/> with the returned offset.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        Reserve(NetlinkAttributeReader.HeaderLength);
        NetlinkPrimitives.WriteU16(_buffer[(start + 2)..], type);
        return start;
    }

    public readonly void EndNested(int start) => NetlinkPrimitives.WriteU16(_buffer[start..], (ushort)(_length - start));

    /// <summary>Writes the total length into the header and returns the finished message.</summary>
    public readonly ReadOnlySpan<byte> Finish()
    {
        NetlinkPrimitives.WriteU32(_buffer, (uint)_length);
        return _buffer[.._length];
    }

    private void Reserve(int length)
    {
        int aligned = NetlinkPrimitives.Align(length);
        if (_length + aligned > _buffer.Length)
        {
            throw new InvalidOperationException("netlink request does not fit its buffer");
        }

        _buffer.Slice(_length, aligned).Clear();
        _length += aligned;
    }
}
