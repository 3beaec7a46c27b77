using System.Buffers.Binary;
using System.Numerics;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Cache;

/// <summary>
/// A bounded, thread-safe cache of upstream DNS responses keyed by (QNAME case-insensitively, QTYPE,
/// QCLASS, DO, CD). Hits are written into the caller's buffer with the query's ID and question case and
/// every TTL lowered by the entry's age; a hit allocates nothing. Times are ticks of 100 ns
/// (<see cref="TimeSpan.TicksPerSecond"/>) on any monotonic clock the caller chooses.
/// </summary>
/// <remarks>
/// Keys are striped over <see cref="DnsCacheOptions.ShardCount"/> locks; each stripe has its own
/// chained hash table and an intrusive LRU list, so eviction is O(1) and LRU order is per stripe.
/// Stored responses are immutable owned copies, so a hit copies them after leaving the lock.
/// </remarks>
public sealed class DnsCache
{
    /// <summary>Managed cost of an entry beyond its response and key bytes (entry object, array headers, bucket slot), measured in DnsCacheTests.</summary>
    public const int EntryOverheadBytes = 160;

    /// <summary>RFC 1035 §4.1.3: TTL (4) then RDLENGTH (2) end right before RDATA.</summary>
    private const int TtlBeforeRdata = 6;

    /// <summary>Prefetch asks from the last 1/10 of a TTL on (as unbound's <c>prefetch</c>).</summary>
    private const int PrefetchDivisor = 10;

    private readonly Shard[] _shards;
    private readonly int _shardMask;
    private readonly uint _maxTtl;
    private readonly uint _maxNegativeTtl;
    private readonly uint _negativeTtlWithoutSoa;
    private readonly uint _servFailTtl;
    private readonly long _staleTicks;
    private readonly bool _prefetch;

    public DnsCache(DnsCacheOptions? options = null)
    {
        options ??= new DnsCacheOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxEntries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ShardCount, 1);
        int shards = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Min(options.ShardCount, options.MaxEntries));
        _shardMask = shards - 1;
        int entriesPerShard = Math.Max(1, options.MaxEntries / shards);
        long bytesPerShard = Math.Max(1, options.MaxBytes / shards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++)
        {
            _shards[i] = new Shard(entriesPerShard, bytesPerShard);
        }

        _maxTtl = Seconds(options.MaxTtl);
        _maxNegativeTtl = Seconds(options.MaxNegativeTtl);
        _negativeTtlWithoutSoa = Seconds(options.NegativeTtlWithoutSoa);
        _servFailTtl = Seconds(options.ServFailTtl);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.StaleWindow, TimeSpan.Zero);
        _staleTicks = options.StaleWindow.Ticks;
        _prefetch = options.Prefetch;
    }

    /// <summary>Whether expired answers are kept for <see cref="LookupStale"/> (RFC 8767).</summary>
    public bool ServesStale => _staleTicks > 0;

    public int Count
    {
        get
        {
            int n = 0;
            foreach (Shard s in _shards)
            {
                n += Volatile.Read(ref s.Count);
            }

            return n;
        }
    }

    public DnsCacheStatistics GetStatistics()
    {
        long hits = 0, misses = 0, inserts = 0, evictions = 0, expirations = 0, bytes = 0;
        int entries = 0;
        foreach (Shard s in _shards)
        {
            lock (s.Gate)
            {
                hits += s.Hits;
                misses += s.Misses;
                inserts += s.Inserts;
                evictions += s.Evictions;
                expirations += s.Expirations;
                entries += s.Count;
                bytes += s.Bytes;
            }
        }

        return new DnsCacheStatistics(hits, misses, inserts, evictions, expirations, entries, bytes);
    }

    /// <summary>
    /// Keeps <paramref name="response"/> for <paramref name="query"/> for the response's TTL: the
    /// smallest TTL of the answer and authority records (RFC 2181 §5.2), or the negative TTL of
    /// RFC 2308 §5 for NXDOMAIN and NODATA. Never keeps truncated answers (RFC 2181 §9).
    /// </summary>
    public DnsCacheStoreResult Store(ReadOnlySpan<byte> query, ReadOnlySpan<byte> response, long nowTicks)
    {
        Span<byte> key = stackalloc byte[DnsCacheKey.MaxLength];
        if (!DnsCacheKey.TryBuild(query, key, out int keyLength, out _))
        {
            return DnsCacheStoreResult.MalformedQuery;
        }

        Span<byte> responseKey = stackalloc byte[DnsCacheKey.MaxLength];
        if (!DnsCacheKey.TryBuild(response, responseKey, out int responseKeyLength, out _))
        {
            return DnsCacheStoreResult.MalformedResponse;
        }

        // The DO/CD byte may differ (an upstream without EDNS echoes no DO); name, type and class may not.
        if (!key.Slice(0, keyLength - 1).SequenceEqual(responseKey.Slice(0, responseKeyLength - 1)))
        {
            return DnsCacheStoreResult.QuestionMismatch;
        }

        DnsCacheStoreResult verdict = ComputeTtl(response, out uint ttl);
        if (verdict != DnsCacheStoreResult.Stored)
        {
            return verdict;
        }

        key = key.Slice(0, keyLength);
        long cost = response.Length + keyLength + EntryOverheadBytes;
        int hash = DnsCacheKey.Hash(key);
        Shard shard = _shards[hash & _shardMask];
        if (cost > shard.MaxBytes)
        {
            return DnsCacheStoreResult.TooLarge;
        }

        long lifetime = ttl * TimeSpan.TicksPerSecond;
        long prefetchAt = _prefetch ? nowTicks + lifetime - (lifetime / PrefetchDivisor) : long.MaxValue;
        var entry = new Entry(key.ToArray(), hash, response.ToArray(), nowTicks, nowTicks + lifetime, prefetchAt, cost);
        lock (shard.Gate)
        {
            Entry? old = shard.Find(key, hash);
            if (old is not null)
            {
                shard.Remove(old);
            }

            while (shard.Count >= shard.MaxEntries || shard.Bytes + cost > shard.MaxBytes)
            {
                Entry victim = shard.Tail!;
                shard.Remove(victim);
                if (victim.ExpiresTicks <= nowTicks)
                {
                    shard.Expirations++;
                }
                else
                {
                    shard.Evictions++;
                }
            }

            shard.Add(entry);
            shard.Inserts++;
        }

        return DnsCacheStoreResult.Stored;
    }

    /// <summary>Writes the cached answer to <paramref name="query"/> into <paramref name="destination"/>; false on a miss.</summary>
    public bool TryAnswer(ReadOnlySpan<byte> query, long nowTicks, Span<byte> destination, out int bytesWritten) =>
        Lookup(query, nowTicks, destination, out bytesWritten) == DnsCacheLookupResult.Hit;

    /// <summary>As <see cref="TryAnswer"/>, saying why there was no answer.</summary>
    public DnsCacheLookupResult Lookup(ReadOnlySpan<byte> query, long nowTicks, Span<byte> destination, out int bytesWritten) =>
        Lookup(query, nowTicks, destination, out bytesWritten, out _);

    /// <summary>
    /// As <see cref="Lookup(ReadOnlySpan{byte}, long, Span{byte}, out int)"/>; <paramref name="refreshDue"/> is true for
    /// the first hit in the last tenth of the answer's TTL when prefetch is on (<see cref="DnsCacheOptions.Prefetch"/>):
    /// the caller asks upstream again and stores the reply. Once per stored answer, so a popular name costs one
    /// upstream query per TTL, not one per asker.
    /// </summary>
    public DnsCacheLookupResult Lookup(ReadOnlySpan<byte> query, long nowTicks, Span<byte> destination, out int bytesWritten, out bool refreshDue)
    {
        bytesWritten = 0;
        refreshDue = false;
        Span<byte> key = stackalloc byte[DnsCacheKey.MaxLength];
        if (!DnsCacheKey.TryBuild(query, key, out int keyLength, out int questionNameLength))
        {
            return DnsCacheLookupResult.MalformedQuery;
        }

        key = key.Slice(0, keyLength);
        int hash = DnsCacheKey.Hash(key);
        Shard shard = _shards[hash & _shardMask];
        Entry? entry;
        lock (shard.Gate)
        {
            entry = shard.Find(key, hash);
            if (entry is null)
            {
                shard.Misses++;
                return DnsCacheLookupResult.Miss;
            }

            if (entry.ExpiresTicks <= nowTicks)
            {
                // Kept for serve-stale until its window has passed too.
                if (entry.ExpiresTicks + _staleTicks <= nowTicks)
                {
                    shard.Remove(entry);
                    shard.Expirations++;
                }

                shard.Misses++;
                return DnsCacheLookupResult.Expired;
            }

            if (entry.Response.Length > destination.Length)
            {
                shard.Misses++;
                return DnsCacheLookupResult.BufferTooSmall;
            }

            shard.Touch(entry);
            shard.Hits++;
            if (entry.PrefetchTicks <= nowTicks && !entry.Prefetching)
            {
                entry.Prefetching = true;
                refreshDue = true;
            }
        }

        Span<byte> output = Copy(entry, query, questionNameLength, destination);
        long age = Math.Max(0, nowTicks - entry.StoredTicks) / TimeSpan.TicksPerSecond;
        PatchTtls(output, (uint)Math.Min(age, uint.MaxValue));
        bytesWritten = output.Length;
        return DnsCacheLookupResult.Hit;
    }

    /// <summary>
    /// Serve-stale (RFC 8767 §4): an answer past its TTL but within the stale window, written with every TTL set to
    /// <see cref="DnsCacheOptions.StaleAnswerTtlSeconds"/>; for the engine to give when every upstream failed. Also
    /// answers with an entry that is still fresh (it expired while the upstreams were tried, or was stored since).
    /// </summary>
    public DnsCacheLookupResult LookupStale(ReadOnlySpan<byte> query, long nowTicks, Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        Span<byte> key = stackalloc byte[DnsCacheKey.MaxLength];
        if (!DnsCacheKey.TryBuild(query, key, out int keyLength, out int questionNameLength))
        {
            return DnsCacheLookupResult.MalformedQuery;
        }

        key = key.Slice(0, keyLength);
        int hash = DnsCacheKey.Hash(key);
        Shard shard = _shards[hash & _shardMask];
        Entry? entry;
        lock (shard.Gate)
        {
            entry = shard.Find(key, hash);
            if (entry is null || entry.ExpiresTicks + _staleTicks <= nowTicks)
            {
                return DnsCacheLookupResult.Miss;
            }

            if (entry.Response.Length > destination.Length)
            {
                return DnsCacheLookupResult.BufferTooSmall;
            }
        }

        Span<byte> output = Copy(entry, query, questionNameLength, destination);
        SetTtls(output, DnsCacheOptions.StaleAnswerTtlSeconds);
        bytesWritten = output.Length;
        return DnsCacheLookupResult.Hit;
    }

    /// <summary>The stored answer in <paramref name="destination"/> with the asker's ID and question case (RFC 1035 §4.1.1, 0x20 clients).</summary>
    private static Span<byte> Copy(Entry entry, ReadOnlySpan<byte> query, int questionNameLength, Span<byte> destination)
    {
        byte[] stored = entry.Response;
        stored.CopyTo(destination);
        Span<byte> output = destination.Slice(0, stored.Length);
        query.Slice(0, sizeof(ushort)).CopyTo(output);
        query.Slice(DnsHeader.Length, questionNameLength).CopyTo(output.Slice(DnsHeader.Length));
        return output;
    }

    /// <summary>Sets every TTL to <paramref name="ttl"/> but OPT's, whose TTL field is flags (RFC 6891 §6.1.3).</summary>
    private static void SetTtls(Span<byte> message, uint ttl)
    {
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type != DnsType.OPT)
            {
                BinaryPrimitives.WriteUInt32BigEndian(message.Slice(r.RdataOffset - TtlBeforeRdata), ttl);
            }
        }
    }

    /// <summary>Drops every entry expired at <paramref name="nowTicks"/> (and past the stale window); returns how many.</summary>
    public int Sweep(long nowTicks)
    {
        int removed = 0;
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                Entry? e = shard.Tail;
                while (e is not null)
                {
                    Entry? newer = e.Prev;
                    if (e.ExpiresTicks + _staleTicks <= nowTicks)
                    {
                        shard.Remove(e);
                        shard.Expirations++;
                        removed++;
                    }

                    e = newer;
                }
            }
        }

        return removed;
    }

    public void Clear()
    {
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                while (shard.Tail is not null)
                {
                    shard.Remove(shard.Tail);
                }
            }
        }
    }

    /// <summary>Lowers every TTL by <paramref name="age"/> seconds, at least to 0; OPT's TTL field is flags (RFC 6891 §6.1.3).</summary>
    private static void PatchTtls(Span<byte> message, uint age)
    {
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT)
            {
                continue;
            }

            uint ttl = r.Ttl > age ? r.Ttl - age : 0;
            BinaryPrimitives.WriteUInt32BigEndian(message.Slice(r.RdataOffset - TtlBeforeRdata), ttl);
        }
    }

    private DnsCacheStoreResult ComputeTtl(ReadOnlySpan<byte> response, out uint ttl)
    {
        ttl = 0;
        var reader = new DnsMessageReader(response);
        if (!reader.TryReadHeader(out DnsHeader header) || !header.IsResponse)
        {
            return DnsCacheStoreResult.MalformedResponse;
        }

        if (header.Truncated)
        {
            return DnsCacheStoreResult.Truncated;
        }

        DnsRcode rcode = header.Rcode;
        bool negative = rcode == DnsRcode.NxDomain || (rcode == DnsRcode.NoError && header.AnswerCount == 0);
        uint min = DnsCacheOptions.MaxRfcTtlSeconds;
        uint soaTtl = uint.MaxValue;
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Additional)
            {
                if (r.Type == DnsType.OPT && DnsOpt.TryRead(r, out DnsOpt opt, out _) && opt.ExtendedRcode != 0)
                {
                    return DnsCacheStoreResult.UncacheableRcode;
                }

                continue;
            }

            // RFC 2181 §8: a TTL with the top bit set is taken as zero.
            uint recordTtl = r.Ttl > DnsCacheOptions.MaxRfcTtlSeconds ? 0 : r.Ttl;
            if (negative && r.Section == DnsSection.Authority && r.Type == DnsType.SOA && r.TryReadSoa(out DnsSoa soa))
            {
                // RFC 2308 §5: the negative TTL is the lesser of the SOA's TTL and its MINIMUM.
                soaTtl = Math.Min(soaTtl, Math.Min(recordTtl, soa.Minimum > DnsCacheOptions.MaxRfcTtlSeconds ? 0 : soa.Minimum));
                continue;
            }

            min = Math.Min(min, recordTtl);
        }

        if (!reader.IsComplete)
        {
            return DnsCacheStoreResult.MalformedResponse;
        }

        if (rcode == DnsRcode.ServFail)
        {
            ttl = _servFailTtl;
            return ttl == 0 ? DnsCacheStoreResult.ServFailNotCached : DnsCacheStoreResult.Stored;
        }

        if (rcode != DnsRcode.NoError && rcode != DnsRcode.NxDomain)
        {
            return DnsCacheStoreResult.UncacheableRcode;
        }

        if (negative)
        {
            uint negativeTtl = soaTtl == uint.MaxValue ? _negativeTtlWithoutSoa : soaTtl;
            if (soaTtl == uint.MaxValue && negativeTtl == 0)
            {
                return DnsCacheStoreResult.NegativeWithoutSoa;
            }

            ttl = Math.Min(Math.Min(min, negativeTtl), _maxNegativeTtl);
        }
        else
        {
            ttl = Math.Min(min, _maxTtl);
        }

        return ttl == 0 ? DnsCacheStoreResult.ZeroTtl : DnsCacheStoreResult.Stored;
    }

    private static uint Seconds(TimeSpan span) =>
        span <= TimeSpan.Zero ? 0 : (uint)Math.Min((long)span.TotalSeconds, DnsCacheOptions.MaxRfcTtlSeconds);

    private sealed class Entry
    {
        public Entry(byte[] key, int hash, byte[] response, long storedTicks, long expiresTicks, long prefetchTicks, long cost)
        {
            Key = key;
            Hash = hash;
            Response = response;
            StoredTicks = storedTicks;
            ExpiresTicks = expiresTicks;
            PrefetchTicks = prefetchTicks;
            Cost = cost;
        }

        public byte[] Key { get; }

        public int Hash { get; }

        public byte[] Response { get; }

        public long StoredTicks { get; }

        public long ExpiresTicks { get; }

        /// <summary>From when a hit asks for a refresh (<see cref="long.MaxValue"/> without prefetch).</summary>
        public long PrefetchTicks { get; }

        /// <summary>A hit has asked for the refresh already (read and set under the shard's lock).</summary>
        public bool Prefetching { get; set; }

        public long Cost { get; }

        public Entry? NextInBucket { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }

    private sealed class Shard
    {
        private readonly Entry?[] _buckets;
        private readonly int _bucketShift;

        public Shard(int maxEntries, long maxBytes)
        {
            MaxEntries = maxEntries;
            MaxBytes = maxBytes;
            int buckets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, maxEntries));
            _buckets = new Entry?[buckets];
            _bucketShift = 32 - BitOperations.Log2((uint)buckets);
        }

        public Lock Gate { get; } = new();

        public int MaxEntries { get; }

        public long MaxBytes { get; }

#pragma warning disable SA1401, CA1051 // Counters updated under the gate and read with Volatile.
        public int Count;
#pragma warning restore SA1401, CA1051

        public long Bytes { get; private set; }

        public long Hits { get; set; }

        public long Misses { get; set; }

        public long Inserts { get; set; }

        public long Evictions { get; set; }

        public long Expirations { get; set; }

        /// <summary>Most recently used.</summary>
        public Entry? Head { get; private set; }

        /// <summary>Least recently used.</summary>
        public Entry? Tail { get; private set; }

        public Entry? Find(ReadOnlySpan<byte> key, int hash)
        {
            for (Entry? e = _buckets[Bucket(hash)]; e is not null; e = e.NextInBucket)
            {
                if (e.Hash == hash && key.SequenceEqual(e.Key))
                {
                    return e;
                }
            }

            return null;
        }

        public void Add(Entry e)
        {
            int b = Bucket(e.Hash);
            e.NextInBucket = _buckets[b];
            _buckets[b] = e;
            LinkFront(e);
            Count++;
            Bytes += e.Cost;
        }

        public void Remove(Entry e)
        {
            int b = Bucket(e.Hash);
            if (_buckets[b] == e)
            {
                _buckets[b] = e.NextInBucket;
            }
            else
            {
                Entry? p = _buckets[b];
                while (p is not null && p.NextInBucket != e)
                {
                    p = p.NextInBucket;
                }

                if (p is not null)
                {
                    p.NextInBucket = e.NextInBucket;
                }
            }

            e.NextInBucket = null;
            Unlink(e);
            Count--;
            Bytes -= e.Cost;
        }

        public void Touch(Entry e)
        {
            if (Head != e)
            {
                Unlink(e);
                LinkFront(e);
            }
        }

        /// <summary>High bits pick the bucket; low bits already picked the shard.</summary>
        private int Bucket(int hash) => (int)((uint)(hash * -1640531527) >> _bucketShift);

        private void LinkFront(Entry e)
        {
            e.Prev = null;
            e.Next = Head;
            if (Head is not null)
            {
                Head.Prev = e;
            }

            Head = e;
            Tail ??= e;
        }

        private void Unlink(Entry e)
        {
            if (e.Prev is not null)
            {
                e.Prev.Next = e.Next;
            }
            else
            {
                Head = e.Next;
            }

            if (e.Next is not null)
            {
                e.Next.Prev = e.Prev;
            }
            else
            {
                Tail = e.Prev;
            }

            e.Prev = null;
            e.Next = null;
        }
    }
}
