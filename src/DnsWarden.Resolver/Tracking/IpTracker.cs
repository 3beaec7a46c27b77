using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tracking;

/// <summary>
/// The addresses the resolver handed out, so a filter can allow a connection only to an address an
/// answer named. <see cref="Record"/> must run before the answer is released to the client. Times
/// are ticks of 100 ns on the caller's monotonic clock.
/// </summary>
/// <remarks>
/// Storage (see docs/RESOLVER.md, "IP tracker"): one open-addressing table of 32-byte slots (16-byte
/// key, expiry ticks, inline name id, next link of that name's address list) with a control byte per
/// slot, and owner names interned as ASCII in an append-only arena of 64 KiB chunks. Readers
/// (<see cref="Contains"/>, <see cref="TryGet"/>) take no lock: everything they read hangs off one
/// <see cref="Table"/> published with a volatile write, a slot's key is written once before its
/// control byte publishes it and never changes in that table, and name text is never overwritten.
/// Writers serialise on one lock. An address seen under several names keeps the latest expiry of
/// them all. <see cref="AddressRemoved"/> is raised after the lock is released.
/// </remarks>
public sealed partial class IpTracker
{
    private const int MinCapacity = 16;

    /// <summary>Stack buffer for one formatted owner name (RFC 1035 §5.1 escapes: up to 4 chars per octet).</summary>
    private const int NameBufferLength = DnsName.MaxFormattedLength;

    private readonly Lock _gate = new();
    private readonly long _minTtlTicks;
    private readonly long _maxTtlTicks;
    private readonly long _fixedTtlTicks;
    private readonly int _maxPerName;

    private Table _table;
    private NameIndex _nameIndex;
    private LinkPool _links;
    private int _live;
    private int _used;

    public IpTracker(IpTrackerOptions? options = null)
    {
        options ??= new IpTrackerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAddressesPerName, 1);
        _minTtlTicks = Math.Max(0, options.MinTtl.Ticks);
        _maxTtlTicks = options.MaxTtl is TimeSpan max ? Math.Max(0, max.Ticks) : long.MaxValue;
        _fixedTtlTicks = options.FixedTtl is TimeSpan f ? Math.Max(0, f.Ticks) : -1;
        _maxPerName = options.MaxAddressesPerName;
        _table = new Table(MinCapacity);
        _nameIndex = new NameIndex();
        _links = new LinkPool();
    }

    /// <summary>Raised when an address expires (on <see cref="Sweep"/>) or is dropped; handlers should be quick.</summary>
    public event EventHandler<TrackedAddressRemovedEventArgs>? AddressRemoved;

    /// <summary>Addresses held, expired ones not yet swept included.</summary>
    public int Count => Volatile.Read(ref _live);

    /// <summary>Records every A and AAAA address of the answer section with its owner name and TTL.</summary>
    public void Record(ReadOnlySpan<byte> response, long nowTicks)
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        Span<byte> text = stackalloc byte[NameBufferLength];
        var reader = new DnsMessageReader(response);
        lock (_gate)
        {
            while (reader.TryReadRecord(out DnsRecord r))
            {
                if (r.Section != DnsSection.Answer)
                {
                    break;
                }

                if (r.Class != DnsClass.IN || !r.TryReadAddress(out IpAddr address))
                {
                    continue;
                }

                long ttl = TtlTicks(r.Ttl);
                if (ttl <= 0 || !r.Name.TryFormatUtf8(text, out int length))
                {
                    continue;
                }

                // Room first: a rebuild renumbers names, so it must not fall between Intern and Add.
                EnsureRoomForOne();
                int name = Intern(Normalise(text.Slice(0, length)));
                if (name != 0)
                {
                    Add(address, name, SaturatingAdd(nowTicks, ttl), ref removed);
                }
            }
        }

        Raise(removed);
    }

    /// <summary>True when <paramref name="address"/> was answered and has not expired; lock-free, no allocation.</summary>
    public bool Contains(IpAddr address, long nowTicks)
    {
        Table t = Volatile.Read(ref _table);
        int i = t.Find(address);
        return i >= 0 && nowTicks < Volatile.Read(ref t.Slots[i].Expires);
    }

    /// <summary>As <see cref="Contains"/>, with the owner names and expiry; lock-free, allocates the name list.</summary>
    public bool TryGet(IpAddr address, long nowTicks, out TrackedAddress tracked)
    {
        Table t = Volatile.Read(ref _table);
        int i = t.Find(address);
        if (i >= 0)
        {
            long expires = Volatile.Read(ref t.Slots[i].Expires);
            if (nowTicks < expires)
            {
                string[] names = t.NamesOf(i);
                if (names.Length > 0)
                {
                    tracked = new TrackedAddress(address, names, expires);
                    return true;
                }
            }
        }

        tracked = default;
        return false;
    }

    /// <summary>Removes every address expired at <paramref name="nowTicks"/>, raising <see cref="AddressRemoved"/>; returns how many.</summary>
    public int Sweep(long nowTicks)
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        lock (_gate)
        {
            Table t = _table;
            for (int i = 0; i < t.Capacity; i++)
            {
                if (t.Ctrl[i] >= Table.FullBit && t.Slots[i].Expires <= nowTicks)
                {
                    RemoveAddress(i, TrackedAddressRemovalReason.Expired, ref removed);
                }
            }

            // Give memory back after a large expiry, and drop the tombstones and dead name text.
            int wanted = CapacityFor(_live);
            if (wanted < t.Capacity / 2 || _used - _live > t.Capacity / 4 || t.Names.ShouldCompact)
            {
                Rebuild(wanted);
            }
        }

        Raise(removed);
        return removed?.Count ?? 0;
    }

    public void Clear()
    {
        List<TrackedAddressRemovedEventArgs>? removed = null;
        lock (_gate)
        {
            Table t = _table;
            for (int i = 0; i < t.Capacity; i++)
            {
                if (t.Ctrl[i] >= Table.FullBit)
                {
                    (removed ??= []).Add(new TrackedAddressRemovedEventArgs(
                        new TrackedAddress(t.KeyOf(i), t.NamesOf(i), t.Slots[i].Expires), TrackedAddressRemovalReason.Cleared));
                }
            }

            _nameIndex = new NameIndex();
            _links = new LinkPool();
            _live = 0;
            _used = 0;
            Volatile.Write(ref _table, new Table(MinCapacity));
        }

        Raise(removed);
    }

    /// <summary>Lower-case ASCII and no trailing dot, so one name has one key (RFC 4343 §2: case-insensitive).</summary>
    private static ReadOnlySpan<byte> Normalise(Span<byte> name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            if (name[i] is >= (byte)'A' and <= (byte)'Z')
            {
                name[i] = (byte)(name[i] | 0x20);
            }
        }

        return name.Length > 1 && name[^1] == '.' ? name.Slice(0, name.Length - 1) : name;
    }

    private static long SaturatingAdd(long now, long ttl) => now > long.MaxValue - ttl ? long.MaxValue : now + ttl;

    /// <summary>A power of two with the live addresses at most half full, so probes stay short after a rebuild.</summary>
    private static int CapacityFor(int live)
    {
        int capacity = MinCapacity;
        while ((long)(live + 1) * 2 > capacity)
        {
            capacity <<= 1;
        }

        return capacity;
    }

    private long TtlTicks(uint ttlSeconds)
    {
        if (_fixedTtlTicks >= 0)
        {
            return _fixedTtlTicks;
        }

        // RFC 2181 §8: a TTL with the top bit set is taken as zero.
        long ticks = ttlSeconds > int.MaxValue ? 0 : ttlSeconds * TimeSpan.TicksPerSecond;
        return Math.Min(Math.Max(ticks, _minTtlTicks), _maxTtlTicks);
    }

    /// <summary>Keeps used slots (live and tombstones) at most 7/8 of the table, so every probe meets an empty slot.</summary>
    private void EnsureRoomForOne()
    {
        Table t = _table;
        if ((long)(_used + 1) * 8 > (long)t.Capacity * 7)
        {
            Rebuild(CapacityFor(_live + 1));
        }
        else if (t.Names.ShouldCompact)
        {
            Rebuild(t.Capacity);
        }
    }

    private int Intern(ReadOnlySpan<byte> text)
    {
        NameArena arena = _table.Names;
        int id = _nameIndex.Find(arena, text);
        if (id == 0)
        {
            id = arena.Add(text);
            if (id != 0)
            {
                _nameIndex.Insert(arena, id);
            }
        }

        return id;
    }

    private void Add(IpAddr address, int name, long expires, ref List<TrackedAddressRemovedEventArgs>? removed)
    {
        Table t = _table;
        int i = t.FindForWrite(address, out bool live);
        ref Slot slot = ref t.Slots[i];
        int node;
        if (live)
        {
            if (t.HasName(i, name))
            {
                if (expires > slot.Expires)
                {
                    Volatile.Write(ref slot.Expires, expires);
                }

                return;
            }

            node = AddMembership(t, i, name);
            if (expires > slot.Expires)
            {
                Volatile.Write(ref slot.Expires, expires);
            }
        }
        else
        {
            // A new slot, or this key's own tombstone revived: the key bytes a reader may see never change.
            if (t.Ctrl[i] == Table.Empty)
            {
                slot.Hi = address.High;
                slot.Lo = address.Low;
                _used++;
            }

            slot.Expires = expires;
            slot.Names = name;
            Volatile.Write(ref t.Ctrl[i], Table.TagOf(address));
            Volatile.Write(ref _live, _live + 1);
            node = i;
        }

        Append(t, name, node);
        if (t.Names.CountOf(name) > _maxPerName)
        {
            DropOldest(name, ref removed);
        }
    }

    /// <summary>Adds <paramref name="name"/> to live slot <paramref name="i"/>: inline when free, else as an extra; returns the list node.</summary>
    private int AddMembership(Table t, int i, int name)
    {
        ref Slot slot = ref t.Slots[i];
        if ((slot.Names & Slot.NameMask) == 0)
        {
            Volatile.Write(ref slot.Names, slot.Names | name);
            return i;
        }

        int link = _links.Allocate(i, name);
        t.Extras[i] = t.Extras.TryGetValue(i, out int[]? old) ? [.. old, name] : [name];
        Volatile.Write(ref slot.Names, slot.Names | Slot.ExtrasFlag);
        return ~link;
    }

    private static ref int NextOf(Table t, LinkPool links, int node) => ref node >= 0 ? ref t.Slots[node].Next : ref links.Items[~node].Next;

    private ref int NextOf(Table t, int node) => ref NextOf(t, _links, node);

    private int SlotOfNode(int node) => node >= 0 ? node : _links.Items[~node].Slot;

    /// <summary>Appends to the name's circular list (tail's next is the oldest).</summary>
    private void Append(Table t, int name, int node)
    {
        NameArena arena = t.Names;
        int count = arena.CountOf(name);
        if (count == 0)
        {
            NextOf(t, node) = node;
        }
        else
        {
            int tail = arena.TailOf(name);
            NextOf(t, node) = NextOf(t, tail);
            NextOf(t, tail) = node;
        }

        arena.SetTail(name, node);
        arena.SetCount(name, count + 1);
    }

    /// <summary>Unlinks the node for slot <paramref name="slot"/> from the name's list; returns it. At most one walk of the list.</summary>
    private int Unlink(NameArena arena, int name, int slot)
    {
        Table t = _table;
        int count = arena.CountOf(name);
        int tail = arena.TailOf(name);
        int prev = tail;
        for (int k = 0; k < count; k++)
        {
            int node = NextOf(t, prev);
            if (SlotOfNode(node) == slot)
            {
                if (count == 1)
                {
                    arena.SetTail(name, 0);
                }
                else
                {
                    NextOf(t, prev) = NextOf(t, node);
                    if (node == tail)
                    {
                        arena.SetTail(name, prev);
                    }
                }

                arena.SetCount(name, count - 1);
                return node;
            }

            prev = node;
        }

        throw new InvalidOperationException("IpTracker: a name's list lost one of its addresses.");
    }

    /// <summary>Removes slot <paramref name="i"/>'s membership of <paramref name="name"/>; frees the name when it has no address left.</summary>
    private void RemoveMembership(int i, int name)
    {
        Table t = _table;
        NameArena arena = t.Names;
        int node = Unlink(arena, name, i);
        ref Slot slot = ref t.Slots[i];
        if (node >= 0)
        {
            Volatile.Write(ref slot.Names, slot.Names & Slot.ExtrasFlag);
        }
        else
        {
            _links.Free(~node);
            int[] old = t.Extras[i];
            if (old.Length == 1)
            {
                Volatile.Write(ref slot.Names, slot.Names & Slot.NameMask);
                t.Extras.TryRemove(i, out _);
            }
            else
            {
                t.Extras[i] = Array.FindAll(old, n => n != name);
            }
        }

        if (arena.CountOf(name) == 0)
        {
            _nameIndex.Remove(arena, name);
            arena.Free(name);
        }
    }

    private void DropOldest(int name, ref List<TrackedAddressRemovedEventArgs>? removed)
    {
        Table t = _table;
        NameArena arena = t.Names;
        int i = SlotOfNode(NextOf(t, arena.TailOf(name)));
        if (t.NameIdsOf(i).Length == 1)
        {
            // Its last name: the address goes.
            (removed ??= []).Add(new TrackedAddressRemovedEventArgs(
                new TrackedAddress(t.KeyOf(i), [arena.GetString(name)], t.Slots[i].Expires), TrackedAddressRemovalReason.NameCapExceeded));
            RemoveAddress(i, reason: null, ref removed);
        }
        else
        {
            RemoveMembership(i, name);
        }
    }

    /// <summary>Tombstones slot <paramref name="i"/> and unlinks it from all its names; an event when <paramref name="reason"/> is set.</summary>
    private void RemoveAddress(int i, TrackedAddressRemovalReason? reason, ref List<TrackedAddressRemovedEventArgs>? removed)
    {
        Table t = _table;
        ref Slot slot = ref t.Slots[i];
        int[] names = t.NameIdsOf(i);
        if (reason is TrackedAddressRemovalReason why)
        {
            (removed ??= []).Add(new TrackedAddressRemovedEventArgs(
                new TrackedAddress(t.KeyOf(i), t.NamesOf(i), slot.Expires), why));
        }

        // Readers must stop finding the address before its name ids can be freed and reused.
        Volatile.Write(ref t.Ctrl[i], Table.Deleted);
        Volatile.Write(ref _live, _live - 1);
        foreach (int name in names)
        {
            RemoveMembership(i, name);
        }

        slot.Names = 0;
    }

    private void Raise(List<TrackedAddressRemovedEventArgs>? removed)
    {
        EventHandler<TrackedAddressRemovedEventArgs>? handler = AddressRemoved;
        if (removed is null || handler is null)
        {
            return;
        }

        foreach (TrackedAddressRemovedEventArgs e in removed)
        {
            handler(this, e);
        }
    }
}
