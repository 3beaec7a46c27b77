using System.Buffers;
using DnsWarden.Capture.Live;

namespace DnsWarden.Capture.Files;

/// <summary>Receives frames in time order, with their frame number in the file.</summary>
public delegate void NumberedFrameHandler(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber);

/// <summary>
/// Puts the frames of a multi-interface capture back in time order. dumpcap writes each interface's packets a
/// buffer at a time, so a file's order interleaves interfaces in blocks: a DNS answer on one interface can follow
/// the connection that used it on another. Frames are held (copied into pooled buffers) until the newest timestamp
/// seen is <see cref="Window"/> past them, or the buffer holds <see cref="MaxFrames"/>; ties keep file order.
/// </summary>
public sealed class TimeOrderBuffer(NumberedFrameHandler handler, TimeSpan window, int maxFrames = TimeOrderBuffer.DefaultMaxFrames) : IDisposable
{
    public const int DefaultMaxFrames = 1 << 16;

    private readonly PriorityQueue<Held, (long Time, long Frame)> _queue = new();
    private readonly long _windowNs = window.Ticks * 100;
    private long _newestNs = long.MinValue;

    public TimeSpan Window => window;

    public int MaxFrames => maxFrames;

    public int Count => _queue.Count;

    /// <summary>Frames released before their window passed because the buffer was full (their order may be off).</summary>
    public long ForcedReleases { get; private set; }

    public void Add(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
        frame.CopyTo(copy);
        _queue.Enqueue(new Held(origin, copy, frame.Length, frameNumber), (origin.TimestampNs, frameNumber));
        _newestNs = Math.Max(_newestNs, origin.TimestampNs);
        while (_queue.Count > 0)
        {
            _queue.TryPeek(out _, out (long Time, long Frame) head);
            if (head.Time > _newestNs - _windowNs && _queue.Count <= maxFrames)
            {
                break;
            }

            if (head.Time > _newestNs - _windowNs)
            {
                ForcedReleases++;
            }

            Release();
        }
    }

    /// <summary>Releases everything held, in time order (end of input).</summary>
    public void Flush()
    {
        while (_queue.Count > 0)
        {
            Release();
        }
    }

    private void Release()
    {
        Held h = _queue.Dequeue();
        try
        {
            FrameOrigin origin = h.Origin;
            handler(in origin, h.Buffer.AsSpan(0, h.Length), h.FrameNumber);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(h.Buffer);
        }
    }

    public void Dispose()
    {
        while (_queue.TryDequeue(out Held h, out _))
        {
            ArrayPool<byte>.Shared.Return(h.Buffer);
        }
    }

    private readonly record struct Held(FrameOrigin Origin, byte[] Buffer, int Length, long FrameNumber);
}
