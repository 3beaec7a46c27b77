using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>
/// Classic pcap reader (draft-ietf-opsawg-pcap): either byte order, microsecond (0xa1b2c3d4) or
/// nanosecond (0xa1b23c4d) timestamps. Created through <see cref="CaptureFileReader"/>.
/// </summary>
public sealed class PcapFileReader : CaptureStreamReaderBase
{
    internal const uint MicroMagic = 0xA1B2C3D4;
    internal const uint NanoMagic = 0xA1B23C4D;
    private const int FileHeaderLength = 24;
    private const int RecordHeaderLength = 16;

    private readonly bool _bigEndian;
    private readonly bool _nanoseconds;
    private readonly CaptureInterface[] _interfaces = new CaptureInterface[1];

    private PcapFileReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> magic, int maxBlockLength, bool bigEndian, bool nanoseconds)
        : base(stream, leaveOpen, magic, maxBlockLength)
    {
        _bigEndian = bigEndian;
        _nanoseconds = nanoseconds;
    }

    public override CaptureFileFormat Format => CaptureFileFormat.Pcap;

    public override IReadOnlyList<CaptureInterface> Interfaces => _interfaces;

    public bool IsBigEndian => _bigEndian;

    public bool HasNanosecondTimestamps => _nanoseconds;

    public int SnapLength => _interfaces[0].SnapLength;

    public LinkType LinkType => _interfaces[0].LinkType;

    internal static bool IsMagic(ReadOnlySpan<byte> first4, out bool bigEndian, out bool nanoseconds)
    {
        uint le = U32(first4, bigEndian: false);
        uint be = U32(first4, bigEndian: true);
        bigEndian = be is MicroMagic or NanoMagic;
        uint magic = bigEndian ? be : le;
        nanoseconds = magic == NanoMagic;
        return magic is MicroMagic or NanoMagic;
    }

    internal static PcapFileReader? TryCreate(Stream stream, bool leaveOpen, ReadOnlySpan<byte> first4, int maxBlockLength, out CaptureFileError error)
    {
        IsMagic(first4, out bool bigEndian, out bool nanoseconds);
        var reader = new PcapFileReader(stream, leaveOpen, first4, maxBlockLength, bigEndian, nanoseconds);
        if (!reader.ReadFileHeader())
        {
            error = reader.Error;
            return null;
        }

        error = CaptureFileError.None;
        return reader;
    }

    private bool ReadFileHeader()
    {
        Span<byte> h = stackalloc byte[FileHeaderLength];
        int n = ReadFully(h);
        if (n < 0)
        {
            return false;
        }

        if (n < FileHeaderLength)
        {
            return Fail(CaptureFileErrorKind.Truncated, 0, $"pcap file header: expected {FileHeaderLength} bytes, file has {n}");
        }

        ushort major = U16(h.Slice(4), _bigEndian);
        if (major != 2)
        {
            return Fail(CaptureFileErrorKind.UnsupportedVersion, 4, $"pcap file header: version {major}.{U16(h.Slice(6), _bigEndian)}, expected 2.x");
        }

        uint snap = U32(h.Slice(16), _bigEndian);

        // The low 16 bits are the LINKTYPE_ value; the upper bits carry FCS length flags we do not need.
        var linkType = (LinkType)(ushort)U32(h.Slice(20), _bigEndian);
        _interfaces[0] = new CaptureInterface(0, linkType, (int)Math.Min(snap, int.MaxValue), null, null, (byte)(_nanoseconds ? 9 : 6), 0);
        return true;
    }

    public override bool TryReadNext(out CapturedPacket packet)
    {
        packet = default;
        if (Stopped)
        {
            return false;
        }

        long start = Position;
        Span<byte> h = stackalloc byte[RecordHeaderLength];
        int n = ReadFully(h);
        if (n < 0)
        {
            return false;
        }

        if (n == 0)
        {
            return SetEndOfFile();
        }

        if (n < RecordHeaderLength)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"record at offset {start}: file ends after {n} of {RecordHeaderLength} header bytes");
        }

        uint seconds = U32(h, _bigEndian);
        uint fraction = U32(h.Slice(4), _bigEndian);
        uint captured = U32(h.Slice(8), _bigEndian);
        uint original = U32(h.Slice(12), _bigEndian);
        if (captured > (uint)MaxBlockLength)
        {
            return Fail(CaptureFileErrorKind.BlockTooLarge, start, $"record at offset {start}: captured length {captured} exceeds the limit of {MaxBlockLength}");
        }

        int len = (int)captured;
        long remaining = Remaining;
        if (remaining >= 0 && remaining < len)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"record at offset {start}: captured length {len} but only {remaining} bytes remain");
        }

        EnsureBuffer(len);
        n = ReadFully(Buffer.AsSpan(0, len));
        if (n < 0)
        {
            return false;
        }

        if (n < len)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"record at offset {start}: file ends after {n} of {len} packet bytes");
        }

        long ns = (seconds * 1_000_000_000L) + (_nanoseconds ? fraction : fraction * 1000L);
        CaptureInterface iface = _interfaces[0];
        packet = new CapturedPacket(ns, 0, null, iface.LinkType, (int)Math.Min(original, int.MaxValue), Buffer.AsSpan(0, len));
        PacketsRead++;
        return true;
    }
}
