using DnsWarden.Capture.Live;

namespace DnsWarden.Capture.Files;

/// <summary>Receives frames in time order, with their frame number in the file.</summary>
public delegate void NumberedFrameHandler(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber);

/// <summary>
/// Puts the frames of a multi-interface capture back in time order. dumpcap writes each interface's packets a
/// buffer at a time, so a file's order interleaves interfaces in blocks: a DNS answer on one interface can follow
/// the connection that used it on another. Each interface's own frames are in order; this merges them. A frame is
/// released when every interface has a frame waiting (the earliest head is then safe), or when the newest
/// timestamp is <see cref="Window"/> past it, or when <see cref="MaxFrames"/> are held. Ties keep file order.
/// The interfaces are those the file declares (pass their ids) plus any seen later; an interface that stays
/// silent makes the buffer wait for the window. Frames are copied into buffers recycled here, so a long file
/// allocates nothing per frame once warm.
/// </summary>
public sealed class TimeOrderBuffer : IDisposable
{
    public const int DefaultMaxFrames = 1 << 16;

    /// <summary>Recycled buffers have this size; a larger frame gets its own array.</summary>
    private const int SlotSize = 2048;

    private readonly Dictionary<int, Queue<Held>> _byInterface = [];
    private readonly List<Queue<Held>> _queues = [];
    private readonly Stack<byte[]> _free = new();
    private readonly NumberedFrameHandler _handler;
    private readonly long _windowNs;
    private long _newestNs = long.MinValue;
    private int _count;

    /// <param name="interfaceIds">The interfaces the capture declares (pcapng IDBs): frames wait until each has one.</param>
    public TimeOrderBuffer(NumberedFrameHandler handler, TimeSpan window, int maxFrames = DefaultMaxFrames, IEnumerable<int>? interfaceIds = null)
    {
        _handler = handler;
        Window = window;
        MaxFrames = maxFrames;
        _windowNs = window.Ticks * 100;
        foreach (int id in interfaceIds ?? [])
        {
            QueueFor(id);
        }
    }

    public TimeSpan Window { get; }

    public int MaxFrames { get; }

    public int Count => _count;

    /// <summary>Frames released before their window passed because the buffer was full (their order may be off).</summary>
    public long ForcedReleases { get; private set; }

    public void Add(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber)
    {
        Queue<Held> queue = QueueFor(origin.InterfaceId);
        byte[] copy = frame.Length <= SlotSize ? (_free.TryPop(out byte[]? slot) ? slot : new byte[SlotSize]) : frame.ToArray();
        frame.CopyTo(copy);
        queue.Enqueue(new Held(origin, copy, frame.Length, frameNumber));
        _count++;
        _newestNs = Math.Max(_newestNs, origin.TimestampNs);
        while (_count > 0)
        {
            Queue<Held> earliest = Earliest(out bool allWaiting);
            long head = earliest.Peek().Origin.TimestampNs;
            if (allWaiting || head <= _newestNs - _windowNs)
            {
                Release(earliest);
            }
            else if (_count > MaxFrames)
            {
                ForcedReleases++;
                Release(earliest);
            }
            else
            {
                break;
            }
        }
    }

    /// <summary>Releases everything held, in time order (end of input).</summary>
    public void Flush()
    {
        while (_count > 0)
        {
            Release(Earliest(out _));
        }
    }

    public void Dispose()
    {
        foreach (Queue<Held> q in _queues)
        {
            q.Clear();
        }

        _count = 0;
        _free.Clear();
    }

    private Queue<Held> QueueFor(int interfaceId)
    {
        if (!_byInterface.TryGetValue(interfaceId, out Queue<Held>? queue))
        {
            queue = new Queue<Held>();
            _byInterface[interfaceId] = queue;
            _queues.Add(queue);
        }

        return queue;
    }

    /// <summary>The non-empty queue whose head is earliest (file order breaks ties); whether every queue has a frame.</summary>
    private Queue<Held> Earliest(out bool allWaiting)
    {
        Queue<Held>? best = null;
        allWaiting = true;
        foreach (Queue<Held> q in _queues)
        {
            if (q.Count == 0)
            {
                allWaiting = false;
                continue;
            }

            if (best is null)
            {
                best = q;
                continue;
            }

            Held a = q.Peek(), b = best.Peek();
            if (a.Origin.TimestampNs < b.Origin.TimestampNs || (a.Origin.TimestampNs == b.Origin.TimestampNs && a.FrameNumber < b.FrameNumber))
            {
                best = q;
            }
        }

        return best!;
    }

    private void Release(Queue<Held> queue)
    {
        Held h = queue.Dequeue();
        _count--;
        try
        {
            FrameOrigin origin = h.Origin;
            _handler(in origin, h.Buffer.AsSpan(0, h.Length), h.FrameNumber);
        }
        finally
        {
            if (h.Buffer.Length == SlotSize)
            {
                _free.Push(h.Buffer);
            }
        }
    }

    private readonly record struct Held(FrameOrigin Origin, byte[] Buffer, int Length, long FrameNumber);
}
