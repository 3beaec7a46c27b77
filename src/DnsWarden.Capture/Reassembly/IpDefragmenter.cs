using System.Buffers;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Capture.Reassembly;

/// <summary>What happened to one fragment handed to <see cref="IpDefragmenter.Add"/>.</summary>
public enum DefragStatus
{
    /// <summary>Offset 0 and no more fragments: not a fragment at all; the caller keeps its payload.</summary>
    NotFragmented,

    /// <summary>Stored; the datagram still has holes.</summary>
    Incomplete,

    /// <summary>The datagram is whole; see the returned <see cref="ReassembledDatagram"/>.</summary>
    Complete,

    /// <summary>An exact copy of a fragment already held; dropped (RFC 8200 §4.5 allows this for IPv6).</summary>
    Duplicate,

    /// <summary>The fragment made no sense (bad alignment, past 65535, conflicting end); its datagram was dropped.</summary>
    Malformed,

    /// <summary>IPv6 fragments overlapped, so the whole datagram was discarded (RFC 5722).</summary>
    OverlapDiscarded,
}

/// <summary>Bounds and timeouts for <see cref="IpDefragmenter"/>.</summary>
public sealed record IpDefragmenterOptions
{
    /// <summary>Largest datagram rebuilt: the IP total length field is 16 bits (RFC 791 §3.1, RFC 8200 §4.5).</summary>
    public int MaxDatagramSize { get; init; } = 65535;

    public int MaxDatagrams { get; init; } = 1024;

    /// <summary>Bytes of reassembly buffers held at once, over all datagrams.</summary>
    public long MaxTotalBytes { get; init; } = 8L * 1024 * 1024;

    public int MaxFragmentsPerDatagram { get; init; } = 1024;

    /// <summary>IPv4 reassembly timeout (Linux ipfrag_time default; RFC 791 leaves it to the implementation).</summary>
    public long TimeoutV4Ns { get; init; } = 30L * 1_000_000_000;

    /// <summary>IPv6 reassembly timeout: 60 seconds (RFC 8200 §4.5).</summary>
    public long TimeoutV6Ns { get; init; } = 60L * 1_000_000_000;
}

/// <summary>
/// A rebuilt transport payload in a pooled buffer. The receiver owns it and must call
/// <see cref="Return"/> (or Dispose) exactly once; copies of this struct share the buffer.
/// </summary>
public struct ReassembledDatagram : IDisposable
{
    private byte[]? _buffer;

    internal ReassembledDatagram(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; private set; }

    public readonly ReadOnlySpan<byte> Payload => _buffer is null ? default : _buffer.AsSpan(0, Length);

    public readonly ReadOnlyMemory<byte> Memory => _buffer is null ? default : _buffer.AsMemory(0, Length);

    public readonly bool IsEmpty => _buffer is null;

    public void Return()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            Length = 0;
        }
    }

    public void Dispose() => Return();
}

/// <summary>
/// Rebuilds fragmented IPv4 and IPv6 datagrams from the fields a decoder gives, bounded in memory and
/// timed by packet timestamps (not the wall clock) so that replaying a file is deterministic.
/// Keyed by (source, destination, protocol, identification, IP version); the version is taken from the
/// addresses (IPv4 addresses are IPv4-mapped in <see cref="IpAddr"/>).
/// </summary>
public sealed class IpDefragmenter
{
    private const int MinBufferSize = 2048;

    private readonly IpDefragmenterOptions _options;
    private readonly Dictionary<FragmentKey, Datagram> _datagrams = [];

    // Creation order per version: the head is both the oldest (eviction) and the first to time out.
    private readonly LinkedList<Datagram> _v4Order = new();
    private readonly LinkedList<Datagram> _v6Order = new();

    public IpDefragmenter(IpDefragmenterOptions? options = null)
    {
        _options = options ?? new IpDefragmenterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDatagrams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDatagramSize, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxTotalBytes, _options.MaxDatagramSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxFragmentsPerDatagram, 2);
    }

    public long Completed { get; private set; }

    public long TimedOut { get; private set; }

    public long Evicted { get; private set; }

    /// <summary>Fragments that overlapped data already held (IPv4: first-seen bytes kept; IPv6: datagram discarded).</summary>
    public long Overlaps { get; private set; }

    public long Duplicates { get; private set; }

    public long Malformed { get; private set; }

    public int PendingDatagrams => _datagrams.Count;

    public long PendingBytes { get; private set; }

    /// <summary>
    /// Adds one fragment. On <see cref="DefragStatus.Complete"/>, <paramref name="datagram"/> holds the
    /// transport payload and must be returned by the caller; otherwise it is empty.
    /// </summary>
    public DefragStatus Add(
        IpAddr src,
        IpAddr dst,
        byte protocol,
        uint id,
        int fragmentOffsetBytes,
        bool moreFragments,
        ReadOnlySpan<byte> fragmentPayload,
        long timestampNs,
        out ReassembledDatagram datagram)
    {
        datagram = default;
        ExpireOlderThan(timestampNs);
        if (fragmentOffsetBytes == 0 && !moreFragments)
        {
            return DefragStatus.NotFragmented;
        }

        bool isV6 = !src.IsV4;
        var key = new FragmentKey(src, dst, protocol, id, isV6);
        int start = fragmentOffsetBytes;
        long endLong = (long)fragmentOffsetBytes + fragmentPayload.Length;

        // RFC 791 §3.1 / RFC 8200 §4.5: offsets are in 8-octet units and every fragment but the last
        // carries a multiple of 8 bytes; the whole cannot exceed the 16-bit length.
        bool malformed = start < 0 || (start & 7) != 0 || endLong > _options.MaxDatagramSize
            || (moreFragments && (fragmentPayload.IsEmpty || (fragmentPayload.Length & 7) != 0));
        _datagrams.TryGetValue(key, out Datagram? d);
        if (malformed)
        {
            return RejectMalformed(d);
        }

        int end = (int)endLong;
        if (d is null)
        {
            if (_datagrams.Count >= _options.MaxDatagrams)
            {
                EvictOldest(null);
            }

            d = new Datagram(key, timestampNs);
            d.Node = (isV6 ? _v6Order : _v4Order).AddLast(d);
            _datagrams.Add(key, d);
        }

        if (!moreFragments)
        {
            if ((d.TotalLength >= 0 && d.TotalLength != end) || d.MaxEnd > end)
            {
                return RejectMalformed(d);
            }

            d.TotalLength = end;
        }
        else if (d.TotalLength >= 0 && end > d.TotalLength)
        {
            return RejectMalformed(d);
        }

        // Classify against fragments already held.
        bool overlaps = false;
        foreach ((int s, int e) in d.Fragments)
        {
            if (s == start && e == end)
            {
                Duplicates++;
                return DefragStatus.Duplicate;
            }

            if (s < end && start < e)
            {
                overlaps = true;
            }
        }

        if (overlaps)
        {
            Overlaps++;
            if (isV6)
            {
                // RFC 5722 §4: overlapping IPv6 fragments discard the whole datagram, silently.
                Remove(d);
                return DefragStatus.OverlapDiscarded;
            }
        }

        if (d.Fragments.Count >= _options.MaxFragmentsPerDatagram)
        {
            return RejectMalformed(d);
        }

        if (!EnsureCapacity(d, Math.Max(end, d.TotalLength)))
        {
            return DefragStatus.Incomplete;
        }

        CopyUncovered(d, start, end, fragmentPayload);
        InsertSorted(d.Fragments, (start, end));
        d.MaxEnd = Math.Max(d.MaxEnd, end);

        if (d.TotalLength >= 0 && d.Covered == d.TotalLength)
        {
            byte[] buffer = d.Buffer!;
            d.Buffer = null;
            PendingBytes -= buffer.Length;
            Remove(d);
            Completed++;
            datagram = new ReassembledDatagram(buffer, d.TotalLength);
            return DefragStatus.Complete;
        }

        return DefragStatus.Incomplete;
    }

    /// <summary>Drops every datagram first seen more than its timeout before <paramref name="nowNs"/>.</summary>
    public int ExpireOlderThan(long nowNs)
    {
        int expired = Expire(_v4Order, nowNs, _options.TimeoutV4Ns) + Expire(_v6Order, nowNs, _options.TimeoutV6Ns);
        TimedOut += expired;
        return expired;
    }

    /// <summary>Drops all pending datagrams and returns their buffers.</summary>
    public void Clear()
    {
        while (_v4Order.First is not null)
        {
            Remove(_v4Order.First.Value);
        }

        while (_v6Order.First is not null)
        {
            Remove(_v6Order.First.Value);
        }
    }

    private int Expire(LinkedList<Datagram> order, long nowNs, long timeoutNs)
    {
        int n = 0;
        while (order.First is { } head && nowNs - head.Value.FirstSeenNs >= timeoutNs)
        {
            Remove(head.Value);
            n++;
        }

        return n;
    }

    private DefragStatus RejectMalformed(Datagram? d)
    {
        Malformed++;
        if (d is not null)
        {
            Remove(d);
        }

        return DefragStatus.Malformed;
    }

    private bool EnsureCapacity(Datagram d, int needed)
    {
        int current = d.Buffer?.Length ?? 0;
        if (current >= needed)
        {
            return true;
        }

        int size = Math.Min(_options.MaxDatagramSize, Math.Max(Math.Max(needed, MinBufferSize), current * 2));
        byte[] grown = ArrayPool<byte>.Shared.Rent(size);

        // Account for what the pool really handed out, which may be rounded up.
        while (PendingBytes - current + grown.Length > _options.MaxTotalBytes)
        {
            if (!EvictOldest(d))
            {
                ArrayPool<byte>.Shared.Return(grown);
                Evicted++;
                Remove(d);
                return false;
            }
        }

        if (d.Buffer is not null)
        {
            d.Buffer.AsSpan(0, Math.Min(current, d.MaxEnd)).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(d.Buffer);
        }

        d.Buffer = grown;
        PendingBytes += grown.Length - current;
        return true;
    }

    private static void CopyUncovered(Datagram d, int start, int end, ReadOnlySpan<byte> payload)
    {
        // First-seen data wins for IPv4 overlaps: write only the bytes no earlier fragment covered.
        int cursor = start;
        foreach ((int s, int e) in d.Fragments)
        {
            if (e <= cursor)
            {
                continue;
            }

            if (s >= end)
            {
                break;
            }

            if (s > cursor)
            {
                int upTo = Math.Min(s, end);
                payload.Slice(cursor - start, upTo - cursor).CopyTo(d.Buffer.AsSpan(cursor));
                d.Covered += upTo - cursor;
            }

            cursor = Math.Max(cursor, e);
            if (cursor >= end)
            {
                return;
            }
        }

        if (cursor < end)
        {
            payload.Slice(cursor - start, end - cursor).CopyTo(d.Buffer.AsSpan(cursor));
            d.Covered += end - cursor;
        }
    }

    private static void InsertSorted(List<(int Start, int End)> list, (int Start, int End) item)
    {
        int i = list.Count;
        while (i > 0 && list[i - 1].Start > item.Start)
        {
            i--;
        }

        list.Insert(i, item);
    }

    private bool EvictOldest(Datagram? keep)
    {
        Datagram? victim = null;
        foreach (LinkedList<Datagram> order in (ReadOnlySpan<LinkedList<Datagram>>)[_v4Order, _v6Order])
        {
            LinkedListNode<Datagram>? node = order.First;
            if (node is not null && node.Value == keep)
            {
                node = node.Next;
            }

            if (node is not null && (victim is null || node.Value.FirstSeenNs < victim.FirstSeenNs))
            {
                victim = node.Value;
            }
        }

        if (victim is null)
        {
            return false;
        }

        Evicted++;
        Remove(victim);
        return true;
    }

    private void Remove(Datagram d)
    {
        if (d.Node?.List is { } list)
        {
            list.Remove(d.Node);
        }

        _datagrams.Remove(d.Key);
        if (d.Buffer is not null)
        {
            PendingBytes -= d.Buffer.Length;
            ArrayPool<byte>.Shared.Return(d.Buffer);
            d.Buffer = null;
        }
    }

    private readonly record struct FragmentKey(IpAddr Src, IpAddr Dst, byte Protocol, uint Id, bool IsV6);

    private sealed class Datagram(FragmentKey key, long firstSeenNs)
    {
        public FragmentKey Key { get; } = key;

        public long FirstSeenNs { get; } = firstSeenNs;

        public LinkedListNode<Datagram>? Node { get; set; }

        public byte[]? Buffer { get; set; }

        /// <summary>Fragments as received, sorted by start (IPv4 overlaps may leave them overlapping).</summary>
        public List<(int Start, int End)> Fragments { get; } = [];

        public int TotalLength { get; set; } = -1;

        public int MaxEnd { get; set; }

        public int Covered { get; set; }
    }
}
