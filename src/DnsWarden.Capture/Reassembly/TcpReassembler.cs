using System.Buffers;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Reassembly;

/// <summary>Bounds and timeouts for <see cref="TcpReassembler"/>.</summary>
public sealed record TcpReassemblerOptions
{
    /// <summary>Stream directions tracked at once; the least recently active is evicted beyond this.</summary>
    public int MaxFlows { get; init; } = 65536;

    /// <summary>Out-of-order bytes held for one direction before the hole is skipped and reported as a gap.</summary>
    public int MaxBufferedBytesPerFlow { get; init; } = 256 * 1024;

    /// <summary>Out-of-order bytes held over all directions.</summary>
    public long MaxBufferedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>A direction with no segment for this long (packet time) is closed; closed ones are forgotten.</summary>
    public long IdleTimeoutNs { get; init; } = 120L * 1_000_000_000;
}

/// <summary>
/// Puts TCP segments of each stream direction back in order and hands the contiguous bytes to an
/// <see cref="ITcpStreamConsumer"/>. Sequence numbers are compared modulo 2^32 (RFC 9293 §3.4), so
/// streams that wrap are fine. Without a SYN the first segment seen sets the base (mid-stream pickup).
/// Time is the caller's packet time, so replaying a file gives the same result every run.
/// </summary>
public sealed class TcpReassembler
{
    private readonly TcpReassemblerOptions _options;
    private readonly ITcpStreamConsumer _consumer;
    private readonly Dictionary<FlowKey5, Direction> _flows = [];

    // Least recently active first: the head is the next to time out and the first to evict.
    private readonly LinkedList<Direction> _lru = new();

    public TcpReassembler(ITcpStreamConsumer consumer, TcpReassemblerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        _consumer = consumer;
        _options = options ?? new TcpReassemblerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxFlows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBufferedBytesPerFlow, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxBufferedBytes, 0);
    }

    /// <summary>Directions currently tracked (open, or closed and lingering to swallow retransmissions).</summary>
    public int FlowCount => _flows.Count;

    public long Segments { get; private set; }

    public long FlowsCreated { get; private set; }

    public long MidStreamPickups { get; private set; }

    /// <summary>Segments whose bytes had all been delivered already.</summary>
    public long Retransmissions { get; private set; }

    /// <summary>Bytes received again that overlapped bytes already delivered (first delivered wins).</summary>
    public long OverlapBytes { get; private set; }

    public long OutOfOrderSegments { get; private set; }

    public long Gaps { get; private set; }

    public long GapBytes { get; private set; }

    public long ClosedByFin { get; private set; }

    public long ClosedByRst { get; private set; }

    public long TimedOut { get; private set; }

    public long Evicted { get; private set; }

    public long BufferedBytes { get; private set; }

    /// <summary>Feeds one segment. <paramref name="sequenceNumber"/> is the header's raw sequence number.</summary>
    public void AddSegment(in FlowKey5 flow, uint sequenceNumber, TcpFlags flags, ReadOnlySpan<byte> payload, long timestampNs)
    {
        Segments++;
        ExpireIdle(timestampNs);

        if ((flags & TcpFlags.Rst) != 0)
        {
            // RFC 9293 §3.10.7: a reset ends the connection, so both directions end.
            CloseIfOpen(flow, TcpCloseReason.Rst, timestampNs);
            CloseIfOpen(flow.Reversed, TcpCloseReason.Rst, timestampNs);
            return;
        }

        bool syn = (flags & TcpFlags.Syn) != 0;
        bool fin = (flags & TcpFlags.Fin) != 0;
        _flows.TryGetValue(flow, out Direction? d);
        if (d is null)
        {
            if (payload.IsEmpty && !syn)
            {
                // A bare ACK or FIN says nothing about a stream we never saw.
                return;
            }

            d = Create(flow, timestampNs);
        }
        else if (d.Closed)
        {
            Touch(d, timestampNs);
            if (!syn)
            {
                // Retransmissions after FIN/RST must not be delivered twice.
                return;
            }

            d.Reset();
        }
        else
        {
            Touch(d, timestampNs);
        }

        uint dataSeq = sequenceNumber;
        if (syn)
        {
            // The SYN occupies one sequence number (RFC 9293 §3.4); its data, if any (TFO), follows it.
            dataSeq = sequenceNumber + 1;
            if (!d.HasBase)
            {
                d.HasBase = true;
                d.NextSeq = dataSeq;
            }
        }
        else if (!d.HasBase)
        {
            d.HasBase = true;
            d.MidStream = true;
            d.NextSeq = sequenceNumber;
            MidStreamPickups++;
        }

        if (!payload.IsEmpty)
        {
            Process(d, dataSeq, payload, timestampNs);
        }

        if (fin && !d.Closed)
        {
            d.HasFin = true;
            d.FinSeq = dataSeq + (uint)payload.Length;
        }

        if (d.HasFin && !d.Closed && (int)(d.FinSeq - d.NextSeq) <= 0)
        {
            ClosedByFin++;
            Close(d, TcpCloseReason.Fin, timestampNs);
        }
    }

    /// <summary>Closes directions idle for at least the idle timeout before <paramref name="nowNs"/>.</summary>
    public void ExpireIdle(long nowNs)
    {
        while (_lru.First is { } head && nowNs - head.Value.LastSeenNs >= _options.IdleTimeoutNs)
        {
            Direction d = head.Value;
            if (!d.Closed)
            {
                TimedOut++;
                Close(d, TcpCloseReason.IdleTimeout, nowNs);
            }

            Forget(d);
        }
    }

    /// <summary>Closes every open direction (reason <see cref="TcpCloseReason.Flushed"/>) and forgets all state.</summary>
    public void CloseAll(long timestampNs)
    {
        while (_lru.First is { } head)
        {
            if (!head.Value.Closed)
            {
                Close(head.Value, TcpCloseReason.Flushed, timestampNs);
            }

            Forget(head.Value);
        }
    }

    private Direction Create(in FlowKey5 flow, long timestampNs)
    {
        while (_flows.Count >= _options.MaxFlows && _lru.First is { } head)
        {
            if (!head.Value.Closed)
            {
                Evicted++;
                Close(head.Value, TcpCloseReason.Evicted, timestampNs);
            }

            Forget(head.Value);
        }

        var d = new Direction(flow) { LastSeenNs = timestampNs };
        d.Node = _lru.AddLast(d);
        _flows.Add(flow, d);
        FlowsCreated++;
        return d;
    }

    private void Touch(Direction d, long timestampNs)
    {
        d.LastSeenNs = Math.Max(d.LastSeenNs, timestampNs);
        if (d.Node!.Next is not null)
        {
            _lru.Remove(d.Node);
            _lru.AddLast(d.Node);
        }
    }

    private void Process(Direction d, uint seq, ReadOnlySpan<byte> payload, long timestampNs)
    {
        int rel = (int)(seq - d.NextSeq);
        if (rel <= 0)
        {
            if ((long)rel + payload.Length <= 0)
            {
                Retransmissions++;
                OverlapBytes += payload.Length;
                return;
            }

            OverlapBytes += -rel;
            ReadOnlySpan<byte> fresh = payload.Slice(-rel);
            d.NextSeq += (uint)fresh.Length;
            _consumer.OnData(d.Key, fresh, timestampNs);
            Drain(d, timestampNs);
            return;
        }

        OutOfOrderSegments++;
        if (!Insert(d, seq, payload))
        {
            Retransmissions++;
            return;
        }

        // Over a bound: give up on the oldest hole, report it, and deliver what follows it.
        while (d.Pending.Count > 0
            && (d.BufferedBytes > _options.MaxBufferedBytesPerFlow || BufferedBytes > _options.MaxBufferedBytes))
        {
            uint missing = d.Pending[0].Seq - d.NextSeq;
            Gaps++;
            GapBytes += missing;
            d.NextSeq = d.Pending[0].Seq;
            _consumer.OnGap(d.Key, missing, timestampNs);
            Drain(d, timestampNs);
        }
    }

    private bool Insert(Direction d, uint seq, ReadOnlySpan<byte> payload)
    {
        int rel = (int)(seq - d.NextSeq);
        int i = d.Pending.Count;
        while (i > 0 && (int)(d.Pending[i - 1].Seq - d.NextSeq) > rel)
        {
            i--;
        }

        if (i > 0 && d.Pending[i - 1].Seq == seq && d.Pending[i - 1].Length >= payload.Length)
        {
            return false;
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(payload.Length);
        payload.CopyTo(copy);
        d.Pending.Insert(i, new Segment(seq, copy, payload.Length));
        d.BufferedBytes += payload.Length;
        BufferedBytes += payload.Length;
        return true;
    }

    private void Drain(Direction d, long timestampNs)
    {
        while (d.Pending.Count > 0)
        {
            Segment s = d.Pending[0];
            int rel = (int)(s.Seq - d.NextSeq);
            if (rel > 0)
            {
                return;
            }

            d.Pending.RemoveAt(0);
            d.BufferedBytes -= s.Length;
            BufferedBytes -= s.Length;
            try
            {
                if ((long)rel + s.Length > 0)
                {
                    OverlapBytes += -rel;
                    ReadOnlySpan<byte> fresh = s.Data.AsSpan(-rel, s.Length + rel);
                    d.NextSeq += (uint)fresh.Length;
                    _consumer.OnData(d.Key, fresh, timestampNs);
                }
                else
                {
                    Retransmissions++;
                    OverlapBytes += s.Length;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(s.Data);
            }
        }
    }

    private void CloseIfOpen(in FlowKey5 flow, TcpCloseReason reason, long timestampNs)
    {
        if (_flows.TryGetValue(flow, out Direction? d) && !d.Closed)
        {
            ClosedByRst++;
            Touch(d, timestampNs);
            Close(d, reason, timestampNs);
        }
    }

    private void Close(Direction d, TcpCloseReason reason, long timestampNs)
    {
        ReleasePending(d);
        d.Closed = true;
        _consumer.OnClosed(d.Key, reason, timestampNs);
    }

    private void Forget(Direction d)
    {
        ReleasePending(d);
        _lru.Remove(d.Node!);
        _flows.Remove(d.Key);
    }

    private void ReleasePending(Direction d)
    {
        foreach (Segment s in d.Pending)
        {
            ArrayPool<byte>.Shared.Return(s.Data);
        }

        BufferedBytes -= d.BufferedBytes;
        d.BufferedBytes = 0;
        d.Pending.Clear();
    }

    private readonly record struct Segment(uint Seq, byte[] Data, int Length);

    private sealed class Direction(FlowKey5 key)
    {
        public FlowKey5 Key { get; } = key;

        public LinkedListNode<Direction>? Node { get; set; }

        public long LastSeenNs { get; set; }

        public bool HasBase { get; set; }

        public bool MidStream { get; set; }

        public uint NextSeq { get; set; }

        public bool HasFin { get; set; }

        public uint FinSeq { get; set; }

        public bool Closed { get; set; }

        /// <summary>Out-of-order segments, sorted by sequence relative to <see cref="NextSeq"/>.</summary>
        public List<Segment> Pending { get; } = [];

        public int BufferedBytes { get; set; }

        public void Reset()
        {
            HasBase = false;
            MidStream = false;
            HasFin = false;
            Closed = false;
            NextSeq = 0;
        }
    }
}
