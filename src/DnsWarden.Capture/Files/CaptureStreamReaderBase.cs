using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace DnsWarden.Capture.Files;

/// <summary>Stream plumbing shared by the pcap and pcapng readers: exact reads, offsets, a reusable buffer, errors.</summary>
public abstract class CaptureStreamReaderBase : ICaptureFileReader
{
    private const int InitialBufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly long _streamLength;
    private byte[] _pushback;
    private int _pushbackCount;
    private int _pushbackPos;
    private bool _disposed;

    private protected CaptureStreamReaderBase(Stream stream, bool leaveOpen, ReadOnlySpan<byte> alreadyRead, int maxBlockLength)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        MaxBlockLength = maxBlockLength;
        _pushback = alreadyRead.ToArray();
        _pushbackCount = _pushback.Length;
        Buffer = new byte[InitialBufferSize];
        try
        {
            _streamLength = stream.CanSeek ? stream.Length - stream.Position + alreadyRead.Length : -1;
        }
        catch (IOException)
        {
            _streamLength = -1;
        }
        catch (NotSupportedException)
        {
            _streamLength = -1;
        }
    }

    public abstract CaptureFileFormat Format { get; }

    public abstract IReadOnlyList<CaptureInterface> Interfaces { get; }

    public CaptureFileError Error { get; private set; } = CaptureFileError.None;

    public bool IsEndOfFile { get; private set; }

    public long PacketsRead { get; private protected set; }

    /// <summary>Upper bound on one block or record, so a garbage length cannot allocate gigabytes.</summary>
    public int MaxBlockLength { get; }

    /// <summary>Offset from the start of the file of the next byte to read.</summary>
    public long Position { get; private set; }

    private protected byte[] Buffer { get; private set; }

    private protected bool Stopped => IsEndOfFile || Error.IsError;

    public abstract bool TryReadNext(out CapturedPacket packet);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing && !_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private protected bool Fail(CaptureFileErrorKind kind, long offset, string message)
    {
        Error = new CaptureFileError(kind, offset, message);
        return false;
    }

    private protected bool SetEndOfFile()
    {
        IsEndOfFile = true;
        return false;
    }

    /// <summary>Known bytes left in the stream, or -1 when the stream cannot tell.</summary>
    private protected long Remaining => _streamLength < 0 ? -1 : _streamLength - Position;

    private protected void EnsureBuffer(int length)
    {
        if (Buffer.Length < length)
        {
            int size = Buffer.Length;
            while (size < length)
            {
                size = size >= MaxBlockLength / 2 ? MaxBlockLength : size * 2;
            }

            Buffer = new byte[Math.Max(size, length)];
        }
    }

    /// <summary>Reads up to destination.Length bytes; returns how many were read (less only at end of stream), or -1 on an I/O error.</summary>
    private protected int ReadFully(Span<byte> destination)
    {
        int total = 0;
        if (_pushbackPos < _pushbackCount)
        {
            int n = Math.Min(destination.Length, _pushbackCount - _pushbackPos);
            _pushback.AsSpan(_pushbackPos, n).CopyTo(destination);
            _pushbackPos += n;
            total = n;
            if (_pushbackPos == _pushbackCount)
            {
                _pushback = [];
                _pushbackCount = 0;
                _pushbackPos = 0;
            }
        }

        try
        {
            while (total < destination.Length)
            {
                int n = _stream.Read(destination.Slice(total));
                if (n <= 0)
                {
                    break;
                }

                total += n;
            }
        }
        catch (IOException ex)
        {
            Position += total;
            Fail(CaptureFileErrorKind.IoError, Position, "read failed: " + ex.Message);
            return -1;
        }
        catch (InvalidDataException ex)
        {
            // A corrupt gzip stream around the capture.
            Position += total;
            Fail(CaptureFileErrorKind.IoError, Position, "the gzip data is corrupt: " + ex.Message);
            return -1;
        }
        catch (ObjectDisposedException ex)
        {
            Position += total;
            Fail(CaptureFileErrorKind.IoError, Position, "read failed: " + ex.Message);
            return -1;
        }

        Position += total;
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static ushort U16(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static uint U32(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected static long I64(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadInt64BigEndian(s) : BinaryPrimitives.ReadInt64LittleEndian(s);
}
