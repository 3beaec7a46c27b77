using System.Buffers.Binary;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>A small classic pcap writer (little-endian file, microsecond or nanosecond magic).</summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly bool _nanoseconds;
    private bool _disposed;

    public PcapWriter(Stream stream, LinkType linkType, int snapLength = 262144, bool nanoseconds = true, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(snapLength);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _nanoseconds = nanoseconds;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, nanoseconds ? PcapFileReader.NanoMagic : PcapFileReader.MicroMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(h.Slice(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h.Slice(6), 4);
        BinaryPrimitives.WriteInt32LittleEndian(h.Slice(8), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(12), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(16), (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(20), (uint)linkType);
        _stream.Write(h);
    }

    public void WritePacket(long timestampNs, ReadOnlySpan<byte> data, int originalLength = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long ns = Math.Max(0, timestampNs);
        Span<byte> h = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)(ns / 1_000_000_000));
        long fraction = ns % 1_000_000_000;
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(4), (uint)(_nanoseconds ? fraction : fraction / 1000));
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(8), (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(h.Slice(12), (uint)(originalLength < 0 ? data.Length : originalLength));
        _stream.Write(h);
        _stream.Write(data);
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
}
