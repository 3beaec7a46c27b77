using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// <see cref="CaptureFileReader.TryOpen(Stream, bool, out CaptureFileError, int)"/> then every packet: it must
/// end (cleanly or with an error, never both), never throw, and keep returning false once done. The input's
/// first four bytes are overwritten with this format's magic (picked by the first byte) unless they are one
/// already, so random bytes reach the block parser.
/// </summary>
internal abstract class CaptureFileFuzzer : IFuzzer
{
    // Small enough that a garbage block length costs little, large enough for every seed.
    private const int MaxBlockLength = 256 * 1024;

    public abstract string Name { get; }

    protected abstract CaptureFileFormat Format { get; }

    protected abstract ReadOnlySpan<uint> Magics { get; }

    public abstract IReadOnlyList<byte[]> GetSeeds();

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        byte[] file = bytes.ToArray();
        if (file.Length >= 4 && !HasMagic(file))
        {
            uint magic = Magics[file[0] % Magics.Length];
            file[0] = (byte)(magic >> 24);
            file[1] = (byte)(magic >> 16);
            file[2] = (byte)(magic >> 8);
            file[3] = (byte)magic;
        }

        using ICaptureFileReader? reader = CaptureFileReader.TryOpen(new MemoryStream(file), leaveOpen: false, out CaptureFileError openError, MaxBlockLength);
        if (reader is null)
        {
            FuzzAssert.True(openError.IsError, "TryOpen returned null without an error");
            return;
        }

        FuzzAssert.True(reader.Format == Format, $"opened as {reader.Format}");
        long packets = 0;
        while (reader.TryReadNext(out CapturedPacket packet))
        {
            packets++;
            FuzzAssert.True(packets <= file.Length, "more packets than bytes: the reader does not advance");
            FuzzAssert.True(packet.CapturedLength <= MaxBlockLength, $"packet of {packet.CapturedLength} bytes over the block bound");
            FuzzAssert.True(packet.InterfaceId >= 0, $"interface {packet.InterfaceId}");
            _ = packet.Timestamp;
            _ = PacketDecoder.TryDecode(packet.LinkType, packet.Data, out _);
            FuzzAssert.True(packet.Comments().Sum(c => c.Length) <= packet.Options.Length, "comments longer than the options they come from");
            FuzzAssert.True(reader.Interfaces.Count > 0, "a packet with no interface");
        }

        FuzzAssert.True(reader.PacketsRead == packets, $"PacketsRead {reader.PacketsRead}, delivered {packets}");
        FuzzAssert.True(reader.IsEndOfFile != reader.Error.IsError, $"IsEndOfFile={reader.IsEndOfFile} with error {reader.Error}");
        FuzzAssert.True(!reader.TryReadNext(out _), "a packet after the end");
        FuzzAssert.True(reader.PacketsRead == packets, "PacketsRead moved after the end");
        foreach (CaptureInterface captureInterface in reader.Interfaces)
        {
            _ = captureInterface.ToString();
            _ = captureInterface.ToNanoseconds(ulong.MaxValue);
        }
    }

    private bool HasMagic(ReadOnlySpan<byte> file)
    {
        uint first = (uint)((file[0] << 24) | (file[1] << 16) | (file[2] << 8) | file[3]);
        return Magics.Contains(first);
    }

    protected static IEnumerable<(LinkType Link, byte[] Frame)> SampleFrames()
    {
        foreach (byte[] ip in SeedCorpus.IpPackets())
        {
            yield return (LinkType.Ethernet, SeedCorpus.Frame(LinkType.Ethernet, ip));
            yield return (LinkType.LinuxSll2, SeedCorpus.Frame(LinkType.LinuxSll2, ip));
        }
    }
}

internal sealed class PcapFuzzer : CaptureFileFuzzer
{
    // Microsecond and nanosecond magics, as written in either byte order (pcap file format §4).
    private static readonly uint[] s_magics = [0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1];

    public override string Name => "Pcap";

    protected override CaptureFileFormat Format => CaptureFileFormat.Pcap;

    protected override ReadOnlySpan<uint> Magics => s_magics;

    public override IReadOnlyList<byte[]> GetSeeds()
    {
        var ethernet = SampleFrames().Where(f => f.Link == LinkType.Ethernet).Select(f => f.Frame).ToList();
        var raw = SeedCorpus.IpPackets().Take(3).ToList();
        return
        [
            SeedCorpus.Pcap(LinkType.Ethernet, ethernet, nanoseconds: true),
            SeedCorpus.Pcap(LinkType.Raw, raw, nanoseconds: false),
            SeedCorpus.Pcap(LinkType.Ethernet, [], nanoseconds: true),
        ];
    }
}

internal sealed class PcapNgFuzzer : CaptureFileFuzzer
{
    // pcapng Section Header Block type (draft-ietf-opsawg-pcapng §4.1); the same in both byte orders.
    private static readonly uint[] s_magics = [0x0A0D0D0A];

    public override string Name => "PcapNg";

    protected override CaptureFileFormat Format => CaptureFileFormat.PcapNg;

    protected override ReadOnlySpan<uint> Magics => s_magics;

    public override IReadOnlyList<byte[]> GetSeeds()
    {
        var frames = SampleFrames().ToList();
        return
        [
            SeedCorpus.PcapNg(frames, bigEndian: false),
            SeedCorpus.PcapNg(frames.Take(4), bigEndian: true),
            SeedCorpus.PcapNg([], bigEndian: false),
        ];
    }
}
