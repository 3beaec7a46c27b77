using System.Text;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Files;

/// <summary>
/// pcapng reader (draft-ietf-opsawg-pcapng). Ours rather than libpcap's because libpcap reads pcapng
/// but does not expose the interface a packet came from (id, if_name) per packet, which is what tells
/// a leak on the VPN tunnel from one on the physical interface.
/// </summary>
public sealed class PcapNgFileReader : CaptureStreamReaderBase
{
    internal const uint SectionHeaderType = 0x0A0D0D0A;
    internal const uint ByteOrderMagic = 0x1A2B3C4D;
    internal const uint InterfaceDescriptionType = 0x00000001;
    internal const uint ObsoletePacketType = 0x00000002;
    internal const uint SimplePacketType = 0x00000003;
    internal const uint EnhancedPacketType = 0x00000006;

    // pcapng §3.1: type, total length, body, total length again.
    private const int BlockOverhead = 12;
    private const int MinSectionHeaderLength = 28;
    private const byte DefaultTsResolution = 6;

    // pcapng §4.2 option codes.
    private const ushort OptEndOfOpt = 0;
    private const ushort OptIfName = 2;
    private const ushort OptIfDescription = 3;
    private const ushort OptIfTsResol = 9;
    private const ushort OptIfTsOffset = 14;

    private List<CaptureInterface> _interfaces = [];
    private bool _bigEndian;

    private PcapNgFileReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> first4, int maxBlockLength)
        : base(stream, leaveOpen, first4, maxBlockLength)
    {
    }

    public override CaptureFileFormat Format => CaptureFileFormat.PcapNg;

    public override IReadOnlyList<CaptureInterface> Interfaces => _interfaces;

    /// <summary>Byte order of the current section.</summary>
    public bool IsBigEndian => _bigEndian;

    /// <summary>Number of Section Header Blocks seen so far.</summary>
    public int SectionCount { get; private set; }

    /// <summary>Blocks skipped because their type carries no packet (NRB, ISB, DSB, custom, unknown).</summary>
    public long SkippedBlocks { get; private set; }

    internal static bool IsMagic(ReadOnlySpan<byte> first4) => U32(first4, bigEndian: false) == SectionHeaderType;

    internal static PcapNgFileReader? TryCreate(Stream stream, bool leaveOpen, ReadOnlySpan<byte> first4, int maxBlockLength, out CaptureFileError error)
    {
        var reader = new PcapNgFileReader(stream, leaveOpen, first4, maxBlockLength);

        // Read the first SHB now so that a file that only looks like pcapng fails at open time.
        if (!reader.ReadBlock(out _, out _, out _) && reader.Error.IsError)
        {
            error = reader.Error;
            return null;
        }

        error = CaptureFileError.None;
        return reader;
    }

    public override bool TryReadNext(out CapturedPacket packet)
    {
        packet = default;
        while (!Stopped)
        {
            if (!ReadBlock(out uint type, out long start, out int bodyLength))
            {
                return false;
            }

            ReadOnlySpan<byte> body = Buffer.AsSpan(0, bodyLength);
            switch (type)
            {
                case EnhancedPacketType:
                    return ReadEnhancedPacket(body, start, out packet);
                case SimplePacketType:
                    return ReadSimplePacket(body, start, out packet);
                case ObsoletePacketType:
                    return ReadObsoletePacket(body, start, out packet);
                case SectionHeaderType:
                    if (!StartSection(body, start))
                    {
                        return false;
                    }

                    break;
                case InterfaceDescriptionType:
                    if (!AddInterface(body, start))
                    {
                        return false;
                    }

                    break;
                default:
                    SkippedBlocks++;
                    break;
            }
        }

        return false;
    }

    /// <summary>Reads one whole block into the buffer; the body (without type, lengths) starts at 0.</summary>
    private bool ReadBlock(out uint type, out long start, out int bodyLength)
    {
        type = 0;
        bodyLength = 0;
        start = Position;
        Span<byte> head = stackalloc byte[12];
        int n = ReadFully(head.Slice(0, 8));
        if (n < 0)
        {
            return false;
        }

        if (n == 0)
        {
            return SectionCount == 0
                ? Fail(CaptureFileErrorKind.Truncated, start, "empty file: expected a Section Header Block")
                : SetEndOfFile();
        }

        if (n < 8)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"block at offset {start}: file ends after {n} of 8 header bytes");
        }

        bool isSection = U32(head, bigEndian: false) == SectionHeaderType;
        if (SectionCount == 0 && !isSection)
        {
            return Fail(CaptureFileErrorKind.UnexpectedBlock, start, $"block at offset {start}: expected a Section Header Block first");
        }

        int prefix = 8;
        if (isSection)
        {
            // pcapng §4.1: the byte-order magic fixes the byte order of this whole section, lengths included.
            n = ReadFully(head.Slice(8, 4));
            if (n < 0)
            {
                return false;
            }

            if (n < 4)
            {
                return Fail(CaptureFileErrorKind.Truncated, start, $"section header at offset {start}: file ends before the byte-order magic");
            }

            if (U32(head.Slice(8), bigEndian: false) == ByteOrderMagic)
            {
                _bigEndian = false;
            }
            else if (U32(head.Slice(8), bigEndian: true) == ByteOrderMagic)
            {
                _bigEndian = true;
            }
            else
            {
                return Fail(CaptureFileErrorKind.BadByteOrderMagic, start, $"section header at offset {start}: byte-order magic 0x{U32(head.Slice(8), false):x8} is not 0x1a2b3c4d in either order");
            }

            prefix = 12;
        }

        type = U32(head, _bigEndian);
        uint total = U32(head.Slice(4), _bigEndian);
        uint minimum = isSection ? (uint)MinSectionHeaderLength : BlockOverhead;
        if (total < minimum)
        {
            return Fail(CaptureFileErrorKind.BadBlockLength, start, $"block at offset {start}: total length {total} is less than {minimum}");
        }

        if (total % 4 != 0)
        {
            return Fail(CaptureFileErrorKind.BadBlockLength, start, $"block at offset {start}: total length {total} is not a multiple of 4");
        }

        if (total > (uint)MaxBlockLength)
        {
            return Fail(CaptureFileErrorKind.BlockTooLarge, start, $"block at offset {start}: total length {total} exceeds the limit of {MaxBlockLength}");
        }

        int rest = (int)total - prefix;
        long remaining = Remaining;
        if (remaining >= 0 && remaining < rest)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"block at offset {start}: total length {total} but only {remaining + prefix} bytes remain");
        }

        EnsureBuffer((int)total);
        int bodyStart = 0;
        if (isSection)
        {
            // Keep the magic in the body so SHB fields are read at their documented offsets.
            head.Slice(8, 4).CopyTo(Buffer);
            bodyStart = 4;
        }

        n = ReadFully(Buffer.AsSpan(bodyStart, rest));
        if (n < 0)
        {
            return false;
        }

        if (n < rest)
        {
            return Fail(CaptureFileErrorKind.Truncated, start, $"block at offset {start}: file ends after {n + prefix} of {total} bytes");
        }

        bodyLength = (int)total - BlockOverhead;
        uint trailer = U32(Buffer.AsSpan(bodyLength), _bigEndian);
        if (trailer != total)
        {
            return Fail(CaptureFileErrorKind.BadBlockLength, start, $"block at offset {start}: trailing total length {trailer} differs from leading {total}");
        }

        if (isSection && SectionCount == 0)
        {
            return StartSection(Buffer.AsSpan(0, bodyLength), start);
        }

        return true;
    }

    private bool StartSection(ReadOnlySpan<byte> body, long start)
    {
        ushort major = U16(body.Slice(4), _bigEndian);
        if (major != 1)
        {
            return Fail(CaptureFileErrorKind.UnsupportedVersion, start, $"section header at offset {start}: version {major}.{U16(body.Slice(6), _bigEndian)}, expected 1.x");
        }

        // A new section starts a new interface numbering (pcapng §4.1); callers may still hold the old list.
        _interfaces = [];
        SectionCount++;
        return true;
    }

    private bool AddInterface(ReadOnlySpan<byte> body, long start)
    {
        if (body.Length < 8)
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"interface description at offset {start}: body of {body.Length} bytes is shorter than 8");
        }

        var linkType = (LinkType)U16(body, _bigEndian);
        uint snap = U32(body.Slice(4), _bigEndian);
        string? name = null;
        string? description = null;
        byte resolution = DefaultTsResolution;
        long offsetSeconds = 0;

        ReadOnlySpan<byte> options = body.Slice(8);
        while (options.Length >= 4)
        {
            ushort code = U16(options, _bigEndian);
            ushort length = U16(options.Slice(2), _bigEndian);
            if (code == OptEndOfOpt)
            {
                break;
            }

            int padded = (length + 3) & ~3;
            if (padded > options.Length - 4)
            {
                return Fail(CaptureFileErrorKind.MalformedBlock, start, $"interface description at offset {start}: option {code} length {length} overruns the block");
            }

            ReadOnlySpan<byte> value = options.Slice(4, length);
            switch (code)
            {
                case OptIfName:
                    name = DecodeString(value);
                    break;
                case OptIfDescription:
                    description = DecodeString(value);
                    break;
                case OptIfTsResol when length >= 1:
                    resolution = value[0];
                    break;
                case OptIfTsOffset when length >= 8:
                    offsetSeconds = I64(value, _bigEndian);
                    break;
                default:
                    break;
            }

            options = options.Slice(4 + padded);
        }

        _interfaces.Add(new CaptureInterface(_interfaces.Count, linkType, (int)Math.Min(snap, int.MaxValue), name, description, resolution, offsetSeconds));
        return true;
    }

    private static string DecodeString(ReadOnlySpan<byte> value)
    {
        // Some writers include the C string terminator in the option length.
        int nul = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? value.Slice(0, nul) : value);
    }

    private bool ReadEnhancedPacket(ReadOnlySpan<byte> body, long start, out CapturedPacket packet)
    {
        packet = default;
        if (body.Length < 20)
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"enhanced packet at offset {start}: body of {body.Length} bytes is shorter than 20");
        }

        uint id = U32(body, _bigEndian);
        if (id >= (uint)_interfaces.Count)
        {
            return Fail(CaptureFileErrorKind.UnknownInterface, start, $"enhanced packet at offset {start}: interface {id} but the section declares {_interfaces.Count}");
        }

        ulong ts = ((ulong)U32(body.Slice(4), _bigEndian) << 32) | U32(body.Slice(8), _bigEndian);
        uint captured = U32(body.Slice(12), _bigEndian);
        uint original = U32(body.Slice(16), _bigEndian);
        if (captured > (uint)(body.Length - 20))
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"enhanced packet at offset {start}: captured length {captured} exceeds the {body.Length - 20} bytes of the block");
        }

        CaptureInterface iface = _interfaces[(int)id];
        int optionsAt = 20 + (int)((captured + 3) & ~3u);
        ReadOnlySpan<byte> options = optionsAt < body.Length ? body[optionsAt..] : default;
        packet = new CapturedPacket(
            iface.ToNanoseconds(ts), (int)id, iface.Name, iface.LinkType, (int)Math.Min(original, int.MaxValue), Buffer.AsSpan(20, (int)captured), options, _bigEndian);
        PacketsRead++;
        return true;
    }

    private bool ReadObsoletePacket(ReadOnlySpan<byte> body, long start, out CapturedPacket packet)
    {
        packet = default;
        if (body.Length < 20)
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"packet block at offset {start}: body of {body.Length} bytes is shorter than 20");
        }

        ushort id = U16(body, _bigEndian);
        if (id >= _interfaces.Count)
        {
            return Fail(CaptureFileErrorKind.UnknownInterface, start, $"packet block at offset {start}: interface {id} but the section declares {_interfaces.Count}");
        }

        ulong ts = ((ulong)U32(body.Slice(4), _bigEndian) << 32) | U32(body.Slice(8), _bigEndian);
        uint captured = U32(body.Slice(12), _bigEndian);
        uint original = U32(body.Slice(16), _bigEndian);
        if (captured > (uint)(body.Length - 20))
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"packet block at offset {start}: captured length {captured} exceeds the {body.Length - 20} bytes of the block");
        }

        CaptureInterface iface = _interfaces[id];
        packet = new CapturedPacket(iface.ToNanoseconds(ts), id, iface.Name, iface.LinkType, (int)Math.Min(original, int.MaxValue), Buffer.AsSpan(20, (int)captured));
        PacketsRead++;
        return true;
    }

    private bool ReadSimplePacket(ReadOnlySpan<byte> body, long start, out CapturedPacket packet)
    {
        packet = default;
        if (_interfaces.Count == 0)
        {
            return Fail(CaptureFileErrorKind.UnexpectedBlock, start, $"simple packet at offset {start}: no interface declared in this section");
        }

        if (body.Length < 4)
        {
            return Fail(CaptureFileErrorKind.MalformedBlock, start, $"simple packet at offset {start}: body of {body.Length} bytes is shorter than 4");
        }

        // pcapng §4.4: an SPB belongs to interface 0 and its captured length is implied.
        CaptureInterface iface = _interfaces[0];
        uint original = U32(body, _bigEndian);
        long captured = Math.Min(original, body.Length - 4);
        if (iface.SnapLength > 0)
        {
            captured = Math.Min(captured, iface.SnapLength);
        }

        // An SPB carries no timestamp; 0 says "unknown" rather than inventing one.
        packet = new CapturedPacket(0, 0, iface.Name, iface.LinkType, (int)Math.Min(original, int.MaxValue), Buffer.AsSpan(4, (int)captured));
        PacketsRead++;
        return true;
    }
}
