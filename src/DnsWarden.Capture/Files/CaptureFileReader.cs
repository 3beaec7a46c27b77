using System.IO.Compression;

namespace DnsWarden.Capture.Files;

/// <summary>
/// Opens a pcap or pcapng file by sniffing its first four bytes: from a path, from standard input (<c>-</c>), from a
/// pipe (<c>&lt;(zcat x)</c>, which cannot seek), and through gzip (<c>.pcap.gz</c>, found by its magic, not its
/// name), as tcpdump and Wireshark read them. For a gzip file the offsets in errors are in the decompressed capture.
/// </summary>
public static class CaptureFileReader
{
    /// <summary>Default bound on one block or record (16 MiB): far above any real packet, far below a garbage length.</summary>
    public const int DefaultMaxBlockLength = 16 * 1024 * 1024;

    private const int FileBufferSize = 64 * 1024;

    /// <summary>The path that means standard input, as for tcpdump -r.</summary>
    public const string StandardInput = "-";

    /// <summary>Opens a capture file. Throws <see cref="CaptureFileException"/> (with path and offset) if it is not a readable capture.</summary>
    public static ICaptureFileReader Open(string path, int maxBlockLength = DefaultMaxBlockLength)
    {
        Stream stream;
        try
        {
            stream = OpenFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CaptureFileException(path, new CaptureFileError(CaptureFileErrorKind.IoError, 0, ex.Message));
        }

        ICaptureFileReader? reader = TryOpen(stream, leaveOpen: false, out CaptureFileError error, maxBlockLength);
        return reader ?? throw new CaptureFileException(path, error);
    }

    /// <summary>Opens a capture from a stream. Throws <see cref="CaptureFileException"/> if it is not a readable capture.</summary>
    public static ICaptureFileReader Open(Stream stream, bool leaveOpen = false, int maxBlockLength = DefaultMaxBlockLength)
    {
        ICaptureFileReader? reader = TryOpen(stream, leaveOpen, out CaptureFileError error, maxBlockLength);
        return reader ?? throw new CaptureFileException(null, error);
    }

    /// <summary>Opens a capture file without throwing on bad contents or a missing file.</summary>
    public static bool TryOpen(string path, out ICaptureFileReader? reader, out CaptureFileError error, int maxBlockLength = DefaultMaxBlockLength)
    {
        Stream stream;
        try
        {
            stream = OpenFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reader = null;
            error = new CaptureFileError(CaptureFileErrorKind.IoError, 0, $"{path}: {ex.Message}");
            return false;
        }

        reader = TryOpen(stream, leaveOpen: false, out error, maxBlockLength);
        return reader is not null;
    }

    /// <summary>Opens a capture from a stream without throwing on bad contents; null with <paramref name="error"/> on failure.</summary>
    public static ICaptureFileReader? TryOpen(Stream stream, bool leaveOpen, out CaptureFileError error, int maxBlockLength = DefaultMaxBlockLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlockLength, 64);

        ICaptureFileReader? reader = null;
        try
        {
            Span<byte> magic = stackalloc byte[4];
            int n;
            try
            {
                n = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
            }
            catch (IOException ex)
            {
                error = new CaptureFileError(CaptureFileErrorKind.IoError, 0, "read failed: " + ex.Message);
                return null;
            }
            catch (InvalidDataException ex)
            {
                error = new CaptureFileError(CaptureFileErrorKind.IoError, 0, "the gzip data is corrupt: " + ex.Message);
                return null;
            }

            if (n < 4)
            {
                error = new CaptureFileError(CaptureFileErrorKind.Truncated, 0, $"file has {n} bytes: too short for a pcap or pcapng header");
                return null;
            }

            if (magic[0] == 0x1f && magic[1] == 0x8b)
            {
                // gzip: the capture is inside. The four bytes read go back in front of the rest of the stream.
                var gzip = new GZipStream(new PrefixedStream(magic.ToArray(), stream, leaveOpen), CompressionMode.Decompress);
                reader = TryOpen(gzip, leaveOpen: false, out error, maxBlockLength);
                return reader;
            }

            if (PcapNgFileReader.IsMagic(magic))
            {
                reader = PcapNgFileReader.TryCreate(stream, leaveOpen, magic, maxBlockLength, out error);
            }
            else if (PcapFileReader.IsMagic(magic, out _, out _))
            {
                reader = PcapFileReader.TryCreate(stream, leaveOpen, magic, maxBlockLength, out error);
            }
            else
            {
                error = new CaptureFileError(
                    CaptureFileErrorKind.UnknownFormat,
                    0,
                    $"not a capture file: first bytes {Convert.ToHexString(magic)} are neither a pcap magic (a1b2c3d4, a1b23c4d) nor a pcapng section header (0a0d0d0a)");
            }

            return reader;
        }
        finally
        {
            if (reader is null && !leaveOpen)
            {
                stream.Dispose();
            }
        }
    }

    /// <summary>Files from this size on are read ahead on a thread of their own (<see cref="ReadAheadStream"/>).</summary>
    public const long ReadAheadFromBytes = 8 * 1024 * 1024;

    private static Stream OpenFile(string path)
    {
        if (path == StandardInput)
        {
            return new BufferedStream(Console.OpenStandardInput(), FileBufferSize);
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileBufferSize, FileOptions.SequentialScan);
        try
        {
            // A pipe or a character device has no length: read as it comes.
            return file.CanSeek && file.Length >= ReadAheadFromBytes ? new ReadAheadStream(file) : file;
        }
        catch (Exception e) when (e is IOException or NotSupportedException)
        {
            return file;
        }
    }
}
