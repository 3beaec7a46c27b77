using DnsWarden.Policy;

namespace DnsWarden.Indicators;

/// <summary>
/// The DNS exfiltration/tunnelling indicator: per base domain, figures over a sliding window of the queries that
/// leave the host, and a 0–100 score (docs/EXFILTRATION.md has the formula and the reasons for its weights).
/// Memory is bounded: <see cref="MaxDomains"/> base domains and <see cref="MaxSubdomainsPerDomain"/> remembered
/// subdomains each; beyond that the unique count is approximate. When the table is full the domain with the least
/// evidence goes: one idle for a whole window first, else the one with the fewest score points (counted before
/// <see cref="ExfiltrationPolicy.MinQueries"/> is reached), then the fewest queries, then the least recently seen. A
/// flood of junk base domains then pushes out junk, not a tunnel. Host-wide it counts the base
/// domains first seen in the window (<see cref="NewDomainsInWindow"/>): a burst of them is a signal of its own.
/// Not thread-safe: one detector per event stream.
/// </summary>
public sealed class ExfiltrationDetector
{
    /// <summary>Base domains tracked at once; the one with the least evidence is dropped for a new one.</summary>
    public const int MaxDomains = 4096;

    /// <summary>Subdomains remembered per base domain (as 64-bit hashes, with their last sighting).</summary>
    public const int MaxSubdomainsPerDomain = 512;

    /// <summary>The window is kept as this many buckets; its edge is exact to one bucket (1/16 of the window).</summary>
    internal const int Buckets = 16;

    // RFC 1035 §3.2.2 and RFC 6895 §3.1: NULL (10), TXT (16), ANY/"*" (255), the bulk carriers of tunnels.
    private const ushort QTypeNull = 10;
    private const ushort QTypeTxt = 16;
    private const ushort QTypeAny = 255;

    // RFC 1035 §4.1.1: RCODE 3, name error.
    private const ushort RcodeNxDomain = 3;

    // The score's contributions (docs/EXFILTRATION.md).
    internal const int PointsUnique = 25;
    internal const int PointsEntropy = 25;
    internal const int PointsLongLabel = 15;
    internal const int PointsLongName = 10;
    internal const int PointsTxtNull = 15;
    internal const int PointsNxdomain = 10;
    internal const int PointsVolume = 15;

    /// <summary>Unique subdomains, as a multiple of the policy's minimum, that count as overwhelming volume.</summary>
    internal const int VolumeFactor = 5;

    private readonly ExfiltrationPolicy _policy;
    private readonly BaseDomains _baseDomains;
    private readonly long _windowNs;
    private readonly long _bucketNs;
    // Eviction ranks: the evidence so far (the score's points without the MinQueries gate, in steps of 5: every weight
    // is a multiple of 5), then the queries in the window (capped). A tunnel's first query (a long random label, TXT)
    // already outranks a junk name; a second query outranks any junk name asked once.
    private const int QueryRanks = 16;
    private const int RankCount = ((100 / 5) + 1) * QueryRanks;

    private readonly Dictionary<string, DomainState> _domains = new(StringComparer.Ordinal);

    // Names repeat (a query, its answer, the next lookup of the same host): their base domain is looked up once.
    private readonly Dictionary<string, string> _baseOf = new(StringComparer.Ordinal);

    // One list per rank, least recently seen at the head (intrusive through DomainState).
    private readonly DomainState?[] _rankHead = new DomainState?[RankCount];
    private readonly DomainState?[] _rankTail = new DomainState?[RankCount];

    // Base domains first seen, host-wide, per slice of the window (index, count).
    private readonly (long Index, int Count)[] _newDomains = new (long, int)[Buckets];
    private long _lastNs = long.MinValue;

    public ExfiltrationDetector(ExfiltrationPolicy policy, BaseDomains baseDomains)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(baseDomains);
        if (policy.Window <= TimeSpan.Zero)
        {
            throw new ArgumentException("the exfiltration window must be positive", nameof(policy));
        }

        _policy = policy;
        _baseDomains = baseDomains;
        _windowNs = policy.Window.Ticks * TimeSpan.NanosecondsPerTick;
        _bucketNs = Math.Max(1, _windowNs / Buckets);
    }

    public int TrackedDomains => _domains.Count;

    /// <summary>
    /// Base domains first seen within the window before the latest query, over the whole host (a domain evicted and
    /// seen again counts again). Thousands a minute is no browsing pattern: it is a flood meant to push a tunnel out
    /// of the table, or data carried in the base domains themselves.
    /// </summary>
    public int NewDomainsInWindow
    {
        get
        {
            long current = _lastNs / _bucketNs;
            int total = 0;
            foreach ((long index, int count) in _newDomains)
            {
                if (index > current - Buckets && index <= current)
                {
                    total += count;
                }
            }

            return total;
        }
    }

    /// <summary>
    /// A query leaving the host. Returns the figures when the score reaches the policy's threshold for this base
    /// domain, at most once per base domain per window (again only after a full window without firing).
    /// </summary>
    public ExfiltrationFigures? AddQuery(long timestampNs, string qname, ushort qtype)
    {
        ArgumentNullException.ThrowIfNull(qname);
        string baseDomain = BaseOf(qname);
        if (baseDomain.Length == 0)
        {
            return null;
        }

        DomainState state = Touch(baseDomain, timestampNs);
        long now = Math.Max(timestampNs, state.LastNs);
        state.LastNs = now;
        _lastNs = Math.Max(_lastNs, now);

        ReadOnlySpan<char> name = qname.AsSpan().TrimEnd('.');
        ReadOnlySpan<char> sub = default;
        if (name.Length > baseDomain.Length + 1 && name[^(baseDomain.Length + 1)] == '.'
            && name.EndsWith(baseDomain, StringComparison.OrdinalIgnoreCase))
        {
            sub = name[..(name.Length - baseDomain.Length - 1)];
        }


        ref Bucket bucket = ref state.BucketAt(now, _bucketNs);
        bucket.Queries++;
        if (qtype is QTypeTxt or QTypeNull or QTypeAny)
        {
            bucket.TxtNull++;
        }

        bucket.MaxName = Math.Max(bucket.MaxName, name.Length);
        bucket.MaxLabel = Math.Max(bucket.MaxLabel, MaxLabelLength(name));

        long cutoff = now - _windowNs;
        state.Subdomains.Expire(cutoff);
        if (!sub.IsEmpty)
        {
            bucket.EntropySum += Entropy(sub);
            bucket.EntropyCount++;
            if (state.Subdomains.Touch(Hash(sub), now, out long evictedNs))
            {
                // A name still in the window had to go: count it where it was last seen, so it leaves with its bucket.
                state.BucketIfLive(evictedNs, now, _bucketNs).EvictedUnique++;
            }
        }

        WindowSums sums = Sum(state, now);
        Rerank(state, sums);
        if (state.LastFiredNs is { } fired && now - fired < _windowNs)
        {
            return null;
        }

        if (sums.Score < _policy.ScoreThreshold)
        {
            return null;
        }

        state.LastFiredNs = now;
        return ToFigures(baseDomain, sums);
    }

    /// <summary>
    /// The current score (0–100) of the base domain of <paramref name="qname"/> as of its last query or answer; 0 when
    /// the base domain is not tracked. The resolver asks this after <see cref="AddQuery"/> to decide on a block.
    /// </summary>
    public int ScoreOf(string qname)
    {
        ArgumentNullException.ThrowIfNull(qname);
        return _domains.TryGetValue(BaseOf(qname), out DomainState? state) ? state.Score : 0;
    }

    /// <summary>Queries for the base domain of <paramref name="qname"/> in the window as of its last query or answer; 0 when not tracked.</summary>
    public int QueriesOf(string qname)
    {
        ArgumentNullException.ThrowIfNull(qname);
        return _domains.TryGetValue(BaseOf(qname), out DomainState? state) ? state.Queries : 0;
    }

    /// <summary>An answer to a query for a tracked base domain; only its RCODE counts (NXDOMAIN share).</summary>
    public void AddResponse(long timestampNs, string qname, ushort rcode)
    {
        ArgumentNullException.ThrowIfNull(qname);
        string baseDomain = BaseOf(qname);
        if (!_domains.TryGetValue(baseDomain, out DomainState? state))
        {
            // Answers to queries never seen leaving are not ours to count, and must not grow the table.
            return;
        }

        long now = Math.Max(timestampNs, state.LastNs);
        state.LastNs = now;
        ref Bucket bucket = ref state.BucketAt(now, _bucketNs);
        bucket.Responses++;
        if (rcode == RcodeNxDomain)
        {
            bucket.NxDomain++;
        }

        Rerank(state, Sum(state, now));
    }

    private string BaseOf(string qname)
    {
        if (_baseOf.TryGetValue(qname, out string? known))
        {
            return known;
        }

        if (_baseOf.Count >= MaxDomains * 4)
        {
            _baseOf.Clear();
        }

        string baseDomain = _baseDomains.GetBaseDomain(qname);
        _baseOf[qname] = baseDomain;
        return baseDomain;
    }

    /// <summary>The figures of one base domain now, for reports and tests; null when it is not tracked.</summary>
    public ExfiltrationFigures? Peek(string baseDomain)
    {
        ArgumentNullException.ThrowIfNull(baseDomain);
        return _domains.TryGetValue(baseDomain, out DomainState? state) ? Figures(state, baseDomain, state.LastNs) : null;
    }

    /// <summary>Subdomain hashes held for a base domain (bounded by <see cref="MaxSubdomainsPerDomain"/>).</summary>
    internal int RememberedSubdomains(string baseDomain) =>
        _domains.TryGetValue(baseDomain, out DomainState? state) ? state.Subdomains.Count : 0;

    private ExfiltrationFigures Figures(DomainState state, string baseDomain, long now) => ToFigures(baseDomain, Sum(state, now));

    private ExfiltrationFigures ToFigures(string baseDomain, in WindowSums w) =>
        new(
            baseDomain,
            w.Score,
            w.Queries,
            w.Unique,
            Math.Round(w.MeanEntropy, 3),
            w.MaxLabel,
            w.MaxName,
            Math.Round(w.TxtNullShare, 3),
            Math.Round(w.NxdomainShare, 3),
            _policy.Window.TotalSeconds);

    private WindowSums Sum(DomainState state, long now)
    {
        long current = now / _bucketNs;
        int queries = 0, txtNull = 0, responses = 0, nx = 0, entropyCount = 0, evicted = 0, maxLabel = 0, maxName = 0;
        double entropySum = 0;
        for (int i = 0; i < Buckets; i++)
        {
            ref Bucket b = ref state.Window[i];
            if (b.Index <= current - Buckets || b.Index > current)
            {
                continue;
            }

            queries += b.Queries;
            txtNull += b.TxtNull;
            responses += b.Responses;
            nx += b.NxDomain;
            entropyCount += b.EntropyCount;
            entropySum += b.EntropySum;
            evicted += b.EvictedUnique;
            maxLabel = Math.Max(maxLabel, b.MaxLabel);
            maxName = Math.Max(maxName, b.MaxName);
        }

        int unique = state.Subdomains.Count + evicted;
        double meanEntropy = entropyCount == 0 ? 0 : entropySum / entropyCount;
        double txtShare = queries == 0 ? 0 : (double)txtNull / queries;
        double nxShare = responses == 0 ? 0 : (double)nx / responses;
        int points = Points(_policy, unique, meanEntropy, maxLabel, maxName, txtShare, nxShare);
        int score = queries < _policy.MinQueries ? 0 : points;
        return new WindowSums(score, points, queries, unique, meanEntropy, maxLabel, maxName, txtShare, nxShare);
    }

    private readonly record struct WindowSums(
        int Score,
        int Points,
        int Queries,
        int Unique,
        double MeanEntropy,
        int MaxLabel,
        int MaxName,
        double TxtNullShare,
        double NxdomainShare);

    /// <summary>The indicator's score from the window's figures (docs/EXFILTRATION.md).</summary>
    public static int Score(
        ExfiltrationPolicy policy,
        int queries,
        int uniqueSubdomains,
        double meanEntropy,
        int maxLabelLength,
        int maxNameLength,
        double txtNullShare,
        double nxdomainShare)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return queries < policy.MinQueries ? 0 : Points(policy, uniqueSubdomains, meanEntropy, maxLabelLength, maxNameLength, txtNullShare, nxdomainShare);
    }

    /// <summary>The score's points without the <see cref="ExfiltrationPolicy.MinQueries"/> gate: the evidence so far.</summary>
    private static int Points(
        ExfiltrationPolicy policy,
        int uniqueSubdomains,
        double meanEntropy,
        int maxLabelLength,
        int maxNameLength,
        double txtNullShare,
        double nxdomainShare)
    {
        bool many = uniqueSubdomains >= policy.MinUniqueSubdomains;
        bool random = meanEntropy >= policy.MinEntropy;
        int score = 0;
        score += many ? PointsUnique : 0;
        score += random ? PointsEntropy : 0;
        score += maxLabelLength >= policy.LongLabel ? PointsLongLabel : 0;
        score += maxNameLength >= policy.LongName ? PointsLongName : 0;
        score += txtNullShare >= policy.TxtNullShare ? PointsTxtNull : 0;
        score += nxdomainShare >= policy.NxdomainShare ? PointsNxdomain : 0;
        score += random && uniqueSubdomains >= VolumeFactor * (long)policy.MinUniqueSubdomains ? PointsVolume : 0;
        return Math.Min(100, score);
    }

    /// <summary>Shannon entropy in bits per character of the letters and digits of <paramref name="text"/>, case folded.</summary>
    public static double Entropy(ReadOnlySpan<char> text)
    {
        // 26 letters and 10 digits; DNS is case-insensitive (RFC 4343), so A and a are one symbol.
        Span<int> counts = stackalloc int[36];
        counts.Clear();
        int total = 0;
        foreach (char c in text)
        {
            int slot = c switch
            {
                >= 'a' and <= 'z' => c - 'a',
                >= 'A' and <= 'Z' => c - 'A',
                >= '0' and <= '9' => 26 + (c - '0'),
                _ => -1,
            };
            if (slot >= 0)
            {
                counts[slot]++;
                total++;
            }
        }

        if (total == 0)
        {
            return 0;
        }

        double h = 0;
        foreach (int n in counts)
        {
            if (n > 0)
            {
                double p = (double)n / total;
                h -= p * Math.Log2(p);
            }
        }

        return h;
    }

    private static int MaxLabelLength(ReadOnlySpan<char> name)
    {
        int max = 0;
        foreach (Range r in name.Split('.'))
        {
            max = Math.Max(max, r.End.GetOffset(name.Length) - r.Start.GetOffset(name.Length));
        }

        return max;
    }

    // FNV-1a, 64 bits, over the lower-cased characters: the set keeps hashes, not strings, to bound memory.
    private static ulong Hash(ReadOnlySpan<char> s)
    {
        const ulong Offset = 14695981039346656037;
        const ulong Prime = 1099511628211;
        ulong h = Offset;
        foreach (char c in s)
        {
            char l = c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;
            h = (h ^ (byte)l) * Prime;
            h = (h ^ (byte)(l >> 8)) * Prime;
        }

        return h;
    }

    private DomainState Touch(string baseDomain, long nowNs)
    {
        if (_domains.TryGetValue(baseDomain, out DomainState? state))
        {
            // Most recently seen within its rank.
            Unlink(state);
            Append(state);
            return state;
        }

        if (_domains.Count >= MaxDomains)
        {
            DomainState victim = LeastEvidence(nowNs);
            Unlink(victim);
            _domains.Remove(victim.Name);
        }

        state = new DomainState(baseDomain);
        _domains.Add(baseDomain, state);
        Append(state);
        CountNew(nowNs);
        return state;
    }

    /// <summary>
    /// The domain to drop for a new one: any idle for a whole window (the longest idle of them), else the least recently
    /// seen of the lowest rank. Each rank's list is ordered by last sighting, so only heads are looked at.
    /// </summary>
    private DomainState LeastEvidence(long nowNs)
    {
        DomainState? idle = null;
        DomainState? lowest = null;
        for (int rank = 0; rank < RankCount; rank++)
        {
            DomainState? head = _rankHead[rank];
            if (head is null)
            {
                continue;
            }

            lowest ??= head;
            if (nowNs - head.LastNs >= _windowNs && (idle is null || head.LastNs < idle.LastNs))
            {
                idle = head;
            }
        }

        return idle ?? lowest!;
    }

    private void CountNew(long nowNs)
    {
        long index = Math.Max(nowNs, _lastNs) / _bucketNs;
        ref (long Index, int Count) slot = ref _newDomains[(int)(((index % Buckets) + Buckets) % Buckets)];
        if (slot.Index != index)
        {
            slot = (index, 0);
        }

        slot.Count++;
    }

    /// <summary>Keeps the domain's cached score and query count, and moves it to the list of its new rank.</summary>
    private void Rerank(DomainState state, in WindowSums sums)
    {
        state.Score = sums.Score;
        state.Queries = sums.Queries;
        int rank = (sums.Points / 5 * QueryRanks) + Math.Min(sums.Queries, QueryRanks - 1);
        if (rank != state.Rank)
        {
            Unlink(state);
            state.Rank = rank;
            Append(state);
        }
    }

    private void Append(DomainState s)
    {
        s.Prev = _rankTail[s.Rank];
        s.Next = null;
        if (s.Prev is not null)
        {
            s.Prev.Next = s;
        }
        else
        {
            _rankHead[s.Rank] = s;
        }

        _rankTail[s.Rank] = s;
    }

    private void Unlink(DomainState s)
    {
        if (s.Prev is not null)
        {
            s.Prev.Next = s.Next;
        }
        else if (_rankHead[s.Rank] == s)
        {
            _rankHead[s.Rank] = s.Next;
        }

        if (s.Next is not null)
        {
            s.Next.Prev = s.Prev;
        }
        else if (_rankTail[s.Rank] == s)
        {
            _rankTail[s.Rank] = s.Prev;
        }

        s.Prev = null;
        s.Next = null;
    }

    /// <summary>Sums of one slice of the window.</summary>
    private struct Bucket
    {
        public long Index;
        public int Queries;
        public int TxtNull;
        public int Responses;
        public int NxDomain;
        public int EntropyCount;
        public double EntropySum;
        public int EvictedUnique;
        public int MaxLabel;
        public int MaxName;
    }

    private sealed class DomainState(string name)
    {
        public readonly string Name = name;
        public readonly Bucket[] Window = new Bucket[Buckets];
        public readonly SubdomainSet Subdomains = new(MaxSubdomainsPerDomain);
        public long LastNs = long.MinValue;
        public long? LastFiredNs;
        public int Score;
        public int Queries;
        public int Rank;
        public DomainState? Prev;
        public DomainState? Next;

        public ref Bucket BucketAt(long now, long bucketNs)
        {
            long index = now / bucketNs;
            ref Bucket b = ref Window[(int)(((index % Buckets) + Buckets) % Buckets)];
            if (b.Index != index)
            {
                b = default;
                b.Index = index;
            }

            return ref b;
        }

        // The bucket a past instant falls in, or the current one when that slice has already been reused.
        public ref Bucket BucketIfLive(long then, long now, long bucketNs)
        {
            long index = then / bucketNs;
            ref Bucket b = ref Window[(int)(((index % Buckets) + Buckets) % Buckets)];
            return ref b.Index == index ? ref b : ref BucketAt(now, bucketNs);
        }
    }
}

/// <summary>
/// A bounded set of subdomain hashes with their last sighting, oldest first: an LRU kept in arrays so a sighting
/// allocates nothing once the arrays have grown.
/// </summary>
internal sealed class SubdomainSet(int capacity)
{
    private readonly Dictionary<ulong, int> _index = [];
    private ulong[] _hash = new ulong[8];
    private long[] _seen = new long[8];
    private int[] _prev = new int[8];
    private int[] _next = new int[8];
    private int _head = -1;
    private int _tail = -1;
    private int _free = -1;
    private int _used;

    public int Count => _index.Count;

    public int Capacity { get; } = capacity;

    /// <summary>Drops the entries last seen before <paramref name="cutoffNs"/>.</summary>
    public void Expire(long cutoffNs)
    {
        while (_head >= 0 && _seen[_head] < cutoffNs)
        {
            Remove(_head);
        }
    }

    /// <summary>
    /// Records a sighting. True when a still-live entry had to be evicted to make room; <paramref name="evictedNs"/>
    /// is then its last sighting.
    /// </summary>
    public bool Touch(ulong hash, long nowNs, out long evictedNs)
    {
        evictedNs = 0;
        if (_index.TryGetValue(hash, out int slot))
        {
            Unlink(slot);
            _seen[slot] = nowNs;
            Append(slot);
            return false;
        }

        bool evicted = false;
        if (_index.Count >= Capacity)
        {
            evictedNs = _seen[_head];
            Remove(_head);
            evicted = true;
        }

        slot = Allocate();
        _hash[slot] = hash;
        _seen[slot] = nowNs;
        _index.Add(hash, slot);
        Append(slot);
        return evicted;
    }

    private int Allocate()
    {
        if (_free >= 0)
        {
            int s = _free;
            _free = _next[s];
            return s;
        }

        if (_used == _hash.Length)
        {
            int size = Math.Min(Capacity, _hash.Length * 2);
            Array.Resize(ref _hash, size);
            Array.Resize(ref _seen, size);
            Array.Resize(ref _prev, size);
            Array.Resize(ref _next, size);
        }

        return _used++;
    }

    private void Remove(int slot)
    {
        Unlink(slot);
        _index.Remove(_hash[slot]);
        _next[slot] = _free;
        _free = slot;
    }

    private void Unlink(int slot)
    {
        int p = _prev[slot], n = _next[slot];
        if (p >= 0)
        {
            _next[p] = n;
        }
        else
        {
            _head = n;
        }

        if (n >= 0)
        {
            _prev[n] = p;
        }
        else
        {
            _tail = p;
        }
    }

    private void Append(int slot)
    {
        _prev[slot] = _tail;
        _next[slot] = -1;
        if (_tail >= 0)
        {
            _next[_tail] = slot;
        }
        else
        {
            _head = slot;
        }

        _tail = slot;
    }
}
