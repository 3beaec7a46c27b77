namespace DnsWarden.Capture.Files;

public enum CaptureFileFormat
{
    /// <summary>Classic libpcap format (one link type, no interface names).</summary>
    Pcap,

    /// <summary>pcapng (draft-ietf-opsawg-pcapng): sections, several named interfaces.</summary>
    PcapNg,
}

/// <summary>
/// A forward-only reader of packets from a capture file. It never throws on bad file contents:
/// <see cref="TryReadNext"/> returns false, and <see cref="IsEndOfFile"/> / <see cref="Error"/> tell a
/// clean end from a malformed or truncated file. Every packet before the bad block is delivered.
/// </summary>
public interface ICaptureFileReader : IDisposable
{
    public CaptureFileFormat Format { get; }

    /// <summary>The interfaces of the current section (pcapng) or the single implicit one (pcap).</summary>
    public IReadOnlyList<CaptureInterface> Interfaces { get; }

    /// <summary>Set once reading stopped on bad input; <see cref="CaptureFileErrorKind.None"/> otherwise.</summary>
    public CaptureFileError Error { get; }

    /// <summary>True once the file ended cleanly on a block/record boundary.</summary>
    public bool IsEndOfFile { get; }

    public long PacketsRead { get; }

    /// <summary>
    /// Reads the next packet. The packet's data is valid until the next call. Returns false at the end
    /// of the file or on the first error; later calls keep returning false.
    /// </summary>
    public bool TryReadNext(out CapturedPacket packet);
}
