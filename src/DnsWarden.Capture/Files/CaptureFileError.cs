namespace DnsWarden.Capture.Files;

/// <summary>Why a capture file could not be opened or read further.</summary>
public enum CaptureFileErrorKind
{
    None = 0,

    /// <summary>The first bytes are neither a pcap magic nor a pcapng Section Header Block.</summary>
    UnknownFormat,

    /// <summary>The file ends inside a header or block.</summary>
    Truncated,

    /// <summary>A block or record length is too small, unaligned, or disagrees with its trailing copy.</summary>
    BadBlockLength,

    /// <summary>A block or record claims more bytes than the reader's bound allows.</summary>
    BlockTooLarge,

    /// <summary>The pcapng byte-order magic is missing or wrong.</summary>
    BadByteOrderMagic,

    /// <summary>A major version this reader does not understand.</summary>
    UnsupportedVersion,

    /// <summary>A block's fixed fields do not fit its length, or its captured length exceeds its space.</summary>
    MalformedBlock,

    /// <summary>A packet names an interface that no IDB in the section declared.</summary>
    UnknownInterface,

    /// <summary>A block that needs a section or interface came before one.</summary>
    UnexpectedBlock,

    /// <summary>The underlying stream failed.</summary>
    IoError,
}

/// <summary>A capture file error: what, where (byte offset of the block or record), and what was expected.</summary>
public readonly record struct CaptureFileError(CaptureFileErrorKind Kind, long Offset, string Message)
{
    public static CaptureFileError None => new(CaptureFileErrorKind.None, 0, string.Empty);

    public bool IsError => Kind != CaptureFileErrorKind.None;

    public override string ToString() => IsError ? $"{Kind} at offset {Offset}: {Message}" : "no error";
}

/// <summary>Thrown only by <see cref="CaptureFileReader.Open(string, int)"/> and friends; readers themselves never throw on bad data.</summary>
public sealed class CaptureFileException : Exception
{
    public CaptureFileException()
    {
    }

    public CaptureFileException(string message)
        : base(message)
    {
    }

    public CaptureFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CaptureFileException(string? filePath, CaptureFileError error)
        : base(filePath is null ? error.Message : $"{filePath}: {error.Message}")
    {
        FilePath = filePath;
        Error = error;
    }

    public string? FilePath { get; }

    public CaptureFileError Error { get; }

    public long Offset => Error.Offset;
}
