using System.Buffers.Binary;
using System.Text;

namespace DnsWarden.Capture.Tests.Files;

/// <summary>Builds pcapng blocks field by field (draft-ietf-opsawg-pcapng §3-4) in either byte order.</summary>
internal sealed class Ng(bool bigEndian)
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public int Length => _bytes.Count;

    public Ng Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public Ng Shb(ushort major = 1)
    {
        var body = new Body(bigEndian);
        body.U32(0x1A2B3C4D).U16(major).U16(0).U64(ulong.MaxValue);
        return Block(0x0A0D0D0A, body);
    }

    public Ng Idb(ushort linkType, uint snap, string? name = null, byte? tsresol = null, long? tsoffset = null, string? description = null)
    {
        var body = new Body(bigEndian);
        body.U16(linkType).U16(0).U32(snap);
        if (name is not null)
        {
            body.Option(2, Encoding.UTF8.GetBytes(name));
        }

        if (description is not null)
        {
            body.Option(3, Encoding.UTF8.GetBytes(description));
        }

        if (tsresol is not null)
        {
            body.Option(9, [tsresol.Value]);
        }

        if (tsoffset is not null)
        {
            byte[] v = new byte[8];
            if (bigEndian)
            {
                BinaryPrimitives.WriteInt64BigEndian(v, tsoffset.Value);
            }
            else
            {
                BinaryPrimitives.WriteInt64LittleEndian(v, tsoffset.Value);
            }

            body.Option(14, v);
        }

        body.U16(0).U16(0);
        return Block(1, body);
    }

    public Ng Epb(uint interfaceId, ulong timestamp, byte[] data, uint? originalLength = null, uint? capturedLength = null)
    {
        var body = new Body(bigEndian);
        body.U32(interfaceId).U32((uint)(timestamp >> 32)).U32((uint)timestamp)
            .U32(capturedLength ?? (uint)data.Length).U32(originalLength ?? (uint)data.Length).Padded(data);
        return Block(6, body);
    }

    public Ng Spb(uint originalLength, byte[] data)
    {
        var body = new Body(bigEndian);
        body.U32(originalLength).Padded(data);
        return Block(3, body);
    }

    public Ng Other(uint type, byte[] body)
    {
        var b = new Body(bigEndian);
        b.Padded(body);
        return Block(type, b);
    }

    private Ng Block(uint type, Body body)
    {
        uint total = (uint)(12 + body.Bytes.Count);
        var h = new Body(bigEndian);
        h.U32(type).U32(total);
        _bytes.AddRange(h.Bytes);
        _bytes.AddRange(body.Bytes);
        h = new Body(bigEndian);
        h.U32(total);
        _bytes.AddRange(h.Bytes);
        return this;
    }

    internal sealed class Body(bool bigEndian)
    {
        public List<byte> Bytes { get; } = [];

        public Body U16(ushort v)
        {
            byte[] b = new byte[2];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt16BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            }

            Bytes.AddRange(b);
            return this;
        }

        public Body U32(uint v)
        {
            byte[] b = new byte[4];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            }

            Bytes.AddRange(b);
            return this;
        }

        public Body U64(ulong v) => U32(bigEndian ? (uint)(v >> 32) : (uint)v).U32(bigEndian ? (uint)v : (uint)(v >> 32));

        public Body Padded(byte[] data)
        {
            Bytes.AddRange(data);
            while (Bytes.Count % 4 != 0)
            {
                Bytes.Add(0);
            }

            return this;
        }

        public Body Option(ushort code, byte[] value)
        {
            U16(code).U16((ushort)value.Length);
            return Padded(value);
        }
    }
}
