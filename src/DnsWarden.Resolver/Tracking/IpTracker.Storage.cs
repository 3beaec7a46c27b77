using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tracking;

public sealed partial class IpTracker
{
    /// <summary>
    /// Copies the live addresses, names and lists into a fresh table of <paramref name="capacity"/>
    /// slots and a compacted arena, then publishes it. Readers still holding the old table see it
    /// unchanged: writers touch only the new one from here on.
    /// </summary>
    private void Rebuild(int capacity)
    {
        Table old = _table;
        NameArena oldNames = old.Names;
        LinkPool oldLinks = _links;
        var fresh = new Table(capacity);
        var index = new NameIndex();
        var links = new LinkPool();

        int[] slotMap = new int[old.Capacity];
        for (int i = 0; i < old.Capacity; i++)
        {
            if (old.Ctrl[i] >= Table.FullBit)
            {
                int j = fresh.InsertNew(old.KeyOf(i));
                fresh.Slots[j].Expires = old.Slots[i].Expires;
                slotMap[i] = j;
            }
        }

        var nameMap = new Dictionary<int, int>(_nameIndex.Count);
        foreach (int id in _nameIndex.Ids())
        {
            int moved = fresh.Names.Add(oldNames.Text(id));
            nameMap[id] = moved;
            index.Insert(fresh.Names, moved);
        }

        for (int i = 0; i < old.Capacity; i++)
        {
            int inline = old.Slots[i].Names & Slot.NameMask;
            if (old.Ctrl[i] >= Table.FullBit && inline != 0)
            {
                fresh.Slots[slotMap[i]].Names = nameMap[inline];
            }
        }

        foreach (KeyValuePair<int, int[]> extra in old.Extras)
        {
            int j = slotMap[extra.Key];
            fresh.Extras[j] = Array.ConvertAll(extra.Value, n => nameMap[n]);
            fresh.Slots[j].Names |= Slot.ExtrasFlag;
        }

        int[] linkMap = new int[oldLinks.HighWater];
        for (int l = 0; l < oldLinks.HighWater; l++)
        {
            ref Link link = ref oldLinks.Items[l];
            if (link.Slot >= 0)
            {
                linkMap[l] = links.Allocate(slotMap[link.Slot], nameMap[link.Name]);
            }
        }

        // Each name's list again, oldest first, so the cap keeps dropping the same addresses.
        _links = links;
        foreach (KeyValuePair<int, int> name in nameMap)
        {
            int count = oldNames.CountOf(name.Key);
            int node = NextOf(old, oldLinks, oldNames.TailOf(name.Key));
            for (int k = 0; k < count; k++)
            {
                Append(fresh, name.Value, node >= 0 ? slotMap[node] : ~linkMap[~node]);
                node = NextOf(old, oldLinks, node);
            }
        }

        _nameIndex = index;
        _used = _live;
        Volatile.Write(ref _table, fresh);
    }

    /// <summary>
    /// One address: its key (IPv4 held IPv4-mapped), expiry, inline name id (top bit: more names in
    /// <see cref="Table.Extras"/>) and the next node of that name's address list. 32 bytes.
    /// </summary>
    private struct Slot
    {
        public const int ExtrasFlag = int.MinValue;
        public const int NameMask = int.MaxValue;

        public ulong Hi;
        public ulong Lo;
        public long Expires;
        public int Names;
        public int Next;
    }

    /// <summary>An extra (address, name) membership: the list node of a second or later name of an address.</summary>
    private struct Link
    {
        public int Slot;
        public int Name;
        public int Next;
    }

    /// <summary>
    /// Linear probing over a control byte per slot: 0 empty, 1 tombstone, 0x80 | 7 hash bits full, so a
    /// probe compares keys only on a tag match and a miss scans bytes, not slots. A slot is never
    /// reused for another key in the same table (a tombstone is revived only by its own key), so a
    /// reader that sees a full control byte reads a key that cannot change under it.
    /// </summary>
    private sealed class Table
    {
        public const byte Empty = 0;
        public const byte Deleted = 1;
        public const byte FullBit = 0x80;

        private readonly int _mask;

        public Table(int capacity)
        {
            Capacity = capacity;
            _mask = capacity - 1;
            Ctrl = new byte[capacity];
            Slots = new Slot[capacity];
            Names = new NameArena();
            Extras = new ConcurrentDictionary<int, int[]>(concurrencyLevel: 1, capacity: 0);
        }

        public int Capacity { get; }

        public byte[] Ctrl { get; }

        public Slot[] Slots { get; }

        /// <summary>The names this table's slots refer to; rebuilt with the table.</summary>
        public NameArena Names { get; }

        /// <summary>Slot index → the address's second and later names (rare: CDN addresses shared by names).</summary>
        public ConcurrentDictionary<int, int[]> Extras { get; }

        public static byte TagOf(IpAddr address) => (byte)(FullBit | (Hash(address) >> 25));

        public IpAddr KeyOf(int i) => IpAddr.FromV6(Slots[i].Hi, Slots[i].Lo);

        /// <summary>The live slot holding <paramref name="address"/>, or -1. Lock-free; terminates because at least 1/8 of the slots are empty.</summary>
        public int Find(IpAddr address)
        {
            uint h = Hash(address);
            byte tag = (byte)(FullBit | (h >> 25));
            int i = (int)h & _mask;
            while (true)
            {
                byte c = Volatile.Read(ref Ctrl[i]);
                if (c == Empty)
                {
                    return -1;
                }

                if (c == tag)
                {
                    ref Slot s = ref Slots[i];
                    if (s.Hi == address.High && s.Lo == address.Low)
                    {
                        return i;
                    }
                }

                i = (i + 1) & _mask;
            }
        }

        /// <summary>Writer: the live slot of the key, else its tombstone, else the empty slot that ends its probe.</summary>
        public int FindForWrite(IpAddr address, out bool live)
        {
            uint h = Hash(address);
            byte tag = (byte)(FullBit | (h >> 25));
            int i = (int)h & _mask;
            while (true)
            {
                byte c = Ctrl[i];
                if (c == Empty)
                {
                    live = false;
                    return i;
                }

                if ((c == tag || c == Deleted) && Slots[i].Hi == address.High && Slots[i].Lo == address.Low)
                {
                    live = c != Deleted;
                    return i;
                }

                i = (i + 1) & _mask;
            }
        }

        /// <summary>Rebuild only: places a key known to be absent, before the table is published.</summary>
        public int InsertNew(IpAddr address)
        {
            int i = FindForWrite(address, out _);
            Slots[i].Hi = address.High;
            Slots[i].Lo = address.Low;
            Ctrl[i] = TagOf(address);
            return i;
        }

        public bool HasName(int i, int name)
        {
            int names = Slots[i].Names;
            return (names & Slot.NameMask) == name
                || ((names & Slot.ExtrasFlag) != 0 && Extras.TryGetValue(i, out int[]? extras) && Array.IndexOf(extras, name) >= 0);
        }

        /// <summary>Inline name first, then the extras in the order they came.</summary>
        public int[] NameIdsOf(int i)
        {
            int names = Volatile.Read(ref Slots[i].Names);
            int inline = names & Slot.NameMask;
            int[] extras = (names & Slot.ExtrasFlag) != 0 && Extras.TryGetValue(i, out int[]? e) ? e : [];
            return inline == 0 ? extras : [inline, .. extras];
        }

        public string[] NamesOf(int i) => Array.ConvertAll(NameIdsOf(i), Names.GetString);

        private static uint Hash(IpAddr address) => (uint)address.GetHashCode();
    }

    /// <summary>
    /// Owner names as ASCII, appended to 64 KiB chunks (the first one grows from 1 KiB) and never
    /// overwritten, so a reader holding an id reads the same text for as long as it holds the table.
    /// An id is chunk &lt;&lt; 16 | offset, 0 meaning none. Each entry: tail node (int), address count
    /// (int), length (ushort), text; the first two are the writer's, readers read only length and text.
    /// Freed names stay as dead bytes until the table is rebuilt.
    /// </summary>
    private sealed class NameArena
    {
        private const int ChunkBits = 16;
        private const int ChunkSize = 1 << ChunkBits;
        private const int FirstChunkSize = 1024;
        private const int HeaderSize = 10;

        /// <summary>Ids must leave <see cref="Slot.ExtrasFlag"/> clear.</summary>
        private const int MaxChunks = 1 << (31 - ChunkBits);

        private byte[][] _chunks = [new byte[FirstChunkSize]];
        private int _position = 1;
        private long _liveBytes;
        private long _deadBytes;

        public bool ShouldCompact => _deadBytes > ChunkSize && _deadBytes > _liveBytes;

        /// <summary>Appends a name with no addresses yet; 0 when the arena is full (2 GiB of names).</summary>
        public int Add(ReadOnlySpan<byte> text)
        {
            int size = HeaderSize + text.Length;
            byte[][] chunks = _chunks;
            int last = chunks.Length - 1;
            byte[] chunk = chunks[last];
            if (_position + size > chunk.Length)
            {
                chunks = (byte[][])chunks.Clone();
                if (chunk.Length < ChunkSize)
                {
                    int length = chunk.Length;
                    while (length < _position + size && length < ChunkSize)
                    {
                        length *= 2;
                    }

                    Array.Resize(ref chunk, length);
                    chunks[last] = chunk;
                }

                if (_position + size > chunk.Length)
                {
                    if (chunks.Length == MaxChunks)
                    {
                        return 0;
                    }

                    chunk = new byte[ChunkSize];
                    Array.Resize(ref chunks, chunks.Length + 1);
                    chunks[^1] = chunk;
                    last++;
                    _position = 0;
                }
            }

            Span<byte> entry = chunk.AsSpan(_position, size);
            entry.Slice(0, 8).Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(entry.Slice(8), (ushort)text.Length);
            text.CopyTo(entry.Slice(HeaderSize));
            int id = (last << ChunkBits) | _position;
            _position += size;
            _liveBytes += size;

            // The text is in place before a reader can reach the chunk through the published array.
            if (!ReferenceEquals(chunks, _chunks))
            {
                Volatile.Write(ref _chunks, chunks);
            }

            return id;
        }

        public void Free(int id)
        {
            int size = HeaderSize + Text(id).Length;
            _liveBytes -= size;
            _deadBytes += size;
        }

        public ReadOnlySpan<byte> Text(int id)
        {
            byte[] chunk = Volatile.Read(ref _chunks)[id >> ChunkBits];
            int offset = id & (ChunkSize - 1);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(chunk.AsSpan(offset + 8));
            return chunk.AsSpan(offset + HeaderSize, length);
        }

        public string GetString(int id) => Encoding.ASCII.GetString(Text(id));

        public int TailOf(int id) => BinaryPrimitives.ReadInt32LittleEndian(Header(id));

        public int CountOf(int id) => BinaryPrimitives.ReadInt32LittleEndian(Header(id).Slice(4));

        public void SetTail(int id, int node) => BinaryPrimitives.WriteInt32LittleEndian(Header(id), node);

        public void SetCount(int id, int count) => BinaryPrimitives.WriteInt32LittleEndian(Header(id).Slice(4), count);

        private Span<byte> Header(int id) => _chunks[id >> ChunkBits].AsSpan(id & (ChunkSize - 1), 8);
    }

    /// <summary>Writer-only: name text → id, linear probing at most 3/4 full, backward-shift deletion (no tombstones).</summary>
    private sealed class NameIndex
    {
        private int[] _ids = new int[16];

        public int Count { get; private set; }

        public int Find(NameArena arena, ReadOnlySpan<byte> text)
        {
            int mask = _ids.Length - 1;
            for (int i = (int)Hash(text) & mask; _ids[i] != 0; i = (i + 1) & mask)
            {
                if (arena.Text(_ids[i]).SequenceEqual(text))
                {
                    return _ids[i];
                }
            }

            return 0;
        }

        public void Insert(NameArena arena, int id)
        {
            if ((Count + 1) * 4 > _ids.Length * 3)
            {
                int[] old = _ids;
                _ids = new int[old.Length * 2];
                foreach (int moved in old)
                {
                    if (moved != 0)
                    {
                        Place(arena, moved);
                    }
                }
            }

            Place(arena, id);
            Count++;
        }

        public void Remove(NameArena arena, int id)
        {
            int mask = _ids.Length - 1;
            int hole = (int)Hash(arena.Text(id)) & mask;
            while (_ids[hole] != id)
            {
                hole = (hole + 1) & mask;
            }

            // Pull back every later entry of the run whose home is not between the hole and itself.
            for (int j = (hole + 1) & mask; _ids[j] != 0; j = (j + 1) & mask)
            {
                int home = (int)Hash(arena.Text(_ids[j])) & mask;
                bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
                if (!stays)
                {
                    _ids[hole] = _ids[j];
                    hole = j;
                }
            }

            _ids[hole] = 0;
            Count--;
        }

        public IEnumerable<int> Ids()
        {
            foreach (int id in _ids)
            {
                if (id != 0)
                {
                    yield return id;
                }
            }
        }

        private static uint Hash(ReadOnlySpan<byte> text)
        {
            var h = default(HashCode);
            h.AddBytes(text);
            return (uint)h.ToHashCode();
        }

        private void Place(NameArena arena, int id)
        {
            int mask = _ids.Length - 1;
            int i = (int)Hash(arena.Text(id)) & mask;
            while (_ids[i] != 0)
            {
                i = (i + 1) & mask;
            }

            _ids[i] = id;
        }
    }

    /// <summary>Writer-only pool of <see cref="Link"/> nodes with a free list.</summary>
    private sealed class LinkPool
    {
        private int _free = -1;

        public Link[] Items { get; private set; } = [];

        public int HighWater { get; private set; }

        public int Allocate(int slot, int name)
        {
            int i = _free;
            if (i >= 0)
            {
                _free = Items[i].Next;
            }
            else
            {
                if (HighWater == Items.Length)
                {
                    Link[] items = Items;
                    Array.Resize(ref items, Math.Max(4, items.Length * 2));
                    Items = items;
                }

                i = HighWater++;
            }

            Items[i] = new Link { Slot = slot, Name = name };
            return i;
        }

        public void Free(int i)
        {
            Items[i] = new Link { Slot = -1, Next = _free };
            _free = i;
        }
    }
}
