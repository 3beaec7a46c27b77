using System.Buffers.Binary;
using System.Text;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>
/// A small pcapng writer: one Section Header Block, Interface Description Blocks with if_name and
/// if_tsresol, and Enhanced Packet Blocks with optional comments. Writes in either byte order (tests use both).
/// </summary>
public sealed class PcapNgWriter : IDisposable
{
    private const int EpbFixedLength = 12 + 20;

    /// <summary>pcapng §3.5: opt_comment, valid in every block.</summary>
    private const ushort OptComment = 1;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly bool _bigEndian;
    private readonly List<byte> _resolutions = [];
    private byte[] _scratch = new byte[4096];
    private bool _disposed;

    public PcapNgWriter(Stream stream, bool leaveOpen = false, bool bigEndian = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _bigEndian = bigEndian;
        WriteSectionHeader();
    }

    public int InterfaceCount => _resolutions.Count;

    /// <summary>
    /// Writes an IDB and returns its interface id. <paramref name="timestampResolution"/> is the raw
    /// if_tsresol byte: 9 for nanoseconds (default), 6 for microseconds, 0x80|n for 2^-n.
    /// </summary>
    public int AddInterface(LinkType linkType, string? name = null, int snapLength = 0, byte timestampResolution = 9, string? description = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(snapLength);
        int nameLen = name is null ? 0 : Encoding.UTF8.GetByteCount(name);
        int descLen = description is null ? 0 : Encoding.UTF8.GetByteCount(description);
        if (nameLen > ushort.MaxValue || descLen > ushort.MaxValue)
        {
            throw new ArgumentException("interface name or description longer than 65535 bytes");
        }

        int options = 0;
        if (name is not null)
        {
            options += 4 + Pad4(nameLen);
        }

        if (description is not null)
        {
            options += 4 + Pad4(descLen);
        }

        options += 4 + 4; // if_tsresol (1 byte, padded)
        options += 4;     // opt_endofopt
        int total = 12 + 8 + options;
        Span<byte> b = Scratch(total);
        int p = 0;
        p = PutU32(b, p, PcapNgFileReader.InterfaceDescriptionType);
        p = PutU32(b, p, (uint)total);
        p = PutU16(b, p, (ushort)linkType);
        p = PutU16(b, p, 0);
        p = PutU32(b, p, (uint)snapLength);
        if (name is not null)
        {
            p = PutStringOption(b, p, 2, name, nameLen);
        }

        if (description is not null)
        {
            p = PutStringOption(b, p, 3, description, descLen);
        }

        p = PutU16(b, p, 9);
        p = PutU16(b, p, 1);
        b[p] = timestampResolution;
        b.Slice(p + 1, 3).Clear();
        p += 4;
        p = PutU32(b, p, 0);
        PutU32(b, p, (uint)total);
        _stream.Write(b);
        _resolutions.Add(timestampResolution);
        return _resolutions.Count - 1;
    }

    /// <summary>
    /// Writes an EPB. The timestamp (UTC ns since epoch) is converted to the interface's resolution. Each of
    /// <paramref name="comments"/> becomes an opt_comment (pcapng §3.5; Wireshark shows it as <c>frame.comment</c>).
    /// </summary>
    public void WritePacket(int interfaceId, long timestampNs, ReadOnlySpan<byte> data, int originalLength = -1, IReadOnlyList<string>? comments = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)interfaceId >= (uint)_resolutions.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(interfaceId), interfaceId, "no such interface; call AddInterface first");
        }

        int options = 0;
        if (comments is { Count: > 0 })
        {
            foreach (string comment in comments)
            {
                int length = Encoding.UTF8.GetByteCount(comment);
                if (length > ushort.MaxValue)
                {
                    throw new ArgumentException("a packet comment is longer than 65535 bytes", nameof(comments));
                }

                options += 4 + Pad4(length);
            }

            options += 4; // opt_endofopt
        }

        int total = EpbFixedLength + Pad4(data.Length) + options;
        Span<byte> b = Scratch(total);
        ulong units = ToUnits(timestampNs, _resolutions[interfaceId]);
        int p = 0;
        p = PutU32(b, p, PcapNgFileReader.EnhancedPacketType);
        p = PutU32(b, p, (uint)total);
        p = PutU32(b, p, (uint)interfaceId);
        p = PutU32(b, p, (uint)(units >> 32));
        p = PutU32(b, p, (uint)units);
        p = PutU32(b, p, (uint)data.Length);
        p = PutU32(b, p, (uint)(originalLength < 0 ? data.Length : originalLength));
        data.CopyTo(b.Slice(p));
        b.Slice(p + data.Length, Pad4(data.Length) - data.Length).Clear();
        p += Pad4(data.Length);
        if (options > 0)
        {
            foreach (string comment in comments!)
            {
                p = PutStringOption(b, p, OptComment, comment, Encoding.UTF8.GetByteCount(comment));
            }

            p = PutU32(b, p, 0);
        }

        PutU32(b, p, (uint)total);
        _stream.Write(b);
    }

    public void Flush() => _stream.Flush();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stream.Flush();
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    internal static ulong ToUnits(long timestampNs, byte resolution)
    {
        ulong ns = (ulong)Math.Max(0, timestampNs);
        int n = resolution & 0x7F;
        if ((resolution & 0x80) != 0)
        {
            return (ulong)(((UInt128)ns << n) / 1_000_000_000UL);
        }

        ulong scale = 1;
        for (int i = 0; i < Math.Abs(9 - n); i++)
        {
            scale *= 10;
        }

        return n <= 9 ? ns / scale : ns * scale;
    }

    private void WriteSectionHeader()
    {
        Span<byte> b = stackalloc byte[28];
        int p = 0;
        p = PutU32(b, p, PcapNgFileReader.SectionHeaderType);
        p = PutU32(b, p, 28);
        p = PutU32(b, p, PcapNgFileReader.ByteOrderMagic);
        p = PutU16(b, p, 1);
        p = PutU16(b, p, 0);

        // Section length -1: not specified (pcapng §4.1).
        p = PutU32(b, p, uint.MaxValue);
        p = PutU32(b, p, uint.MaxValue);
        PutU32(b, p, 28);
        _stream.Write(b);
    }

    private int PutStringOption(Span<byte> b, int p, ushort code, string value, int byteLength)
    {
        p = PutU16(b, p, code);
        p = PutU16(b, p, (ushort)byteLength);
        Encoding.UTF8.GetBytes(value, b.Slice(p));
        b.Slice(p + byteLength, Pad4(byteLength) - byteLength).Clear();
        return p + Pad4(byteLength);
    }

    private Span<byte> Scratch(int length)
    {
        if (_scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
        }

        return _scratch.AsSpan(0, length);
    }

    private static int Pad4(int n) => (n + 3) & ~3;

    private int PutU16(Span<byte> b, int p, ushort v)
    {
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b.Slice(p), v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b.Slice(p), v);
        }

        return p + 2;
    }

    private int PutU32(Span<byte> b, int p, uint v)
    {
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b.Slice(p), v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.Slice(p), v);
        }

        return p + 4;
    }
}
