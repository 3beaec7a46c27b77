namespace DnsWarden.Leak.Rules;

/// <summary>One sighting of a query on one interface.</summary>
/// <param name="Virtual">The interface is host-internal (route class <c>virtual</c>): the query may still be on its way out.</param>
public readonly record struct PathSighting<THop>(string Interface, bool Virtual, long Ns, THop Hop);

/// <summary>
/// Gathers the sightings of one query along a host-internal path — a container's veth, its bridge, then the uplink,
/// NATed on the way — into one path, so that the query is judged once. Sightings belong to one path when they have
/// the same key (the DNS ID and the question: NAT rewrites addresses and ports, not the message), come within
/// <see cref="WindowNs"/> of the first, and are on interfaces the path has not crossed yet (a client's retransmission
/// on the same interface is a query of its own). A path ends at its first sighting on an interface that is not
/// virtual (the way out of the host), or when its window has passed (it never left, or its exit was not captured).
/// A virtual sighting that comes after its path has already left (capture threads per interface may hand the uplink's
/// packet over first) is absorbed into that path, not reported again. Single-threaded, on packet time, bounded.
/// </summary>
public sealed class QueryPathMerger<TKey, THop>
    where TKey : notnull
{
    private const int MaxOpen = 65536;

    private readonly Dictionary<TKey, List<PathSighting<THop>>> _open = [];
    private readonly Queue<(TKey Key, List<PathSighting<THop>> Path)> _byAge = new();
    private readonly Dictionary<TKey, (string Interface, long Ns)> _exits = [];
    private readonly Queue<(TKey Key, long Ns)> _exitsByAge = new();

    public QueryPathMerger(long windowNs) => WindowNs = windowNs;

    public long WindowNs { get; }

    /// <summary>Paths still open (waiting for a later hop).</summary>
    public int OpenPaths => _open.Count;

    /// <summary>Virtual sightings that came after their path had left the host, and were folded into it.</summary>
    public long Absorbed { get; private set; }

    /// <summary>Whether a sighting would join a path already seen (so the query is not new: not counted twice anywhere).</summary>
    public bool IsLaterSighting(TKey key, string iface, long ns) =>
        (_open.TryGetValue(key, out List<PathSighting<THop>>? path) && ns - path[0].Ns <= WindowNs && !Crossed(path, iface))
        || (_exits.TryGetValue(key, out (string Interface, long Ns) exit) && ns - exit.Ns <= WindowNs && exit.Interface != iface);

    /// <summary>Adds a sighting; every path it completes (or pushes out) is added to <paramref name="done"/>.</summary>
    public void Add(TKey key, PathSighting<THop> sighting, List<IReadOnlyList<PathSighting<THop>>> done)
    {
        Expire(sighting.Ns, done);
        if (_open.TryGetValue(key, out List<PathSighting<THop>>? path)
            && (sighting.Ns - path[0].Ns > WindowNs || Crossed(path, sighting.Interface)))
        {
            _open.Remove(key);
            done.Add(path);
            path = null;
        }

        if (sighting.Virtual)
        {
            if (path is null && _exits.TryGetValue(key, out (string Interface, long Ns) exit)
                && sighting.Ns - exit.Ns <= WindowNs && exit.Interface != sighting.Interface)
            {
                Absorbed++;
                return;
            }

            if (path is null)
            {
                if (_open.Count >= MaxOpen)
                {
                    Flush(done);
                }

                path = [sighting];
                _open[key] = path;
                _byAge.Enqueue((key, path));
            }
            else
            {
                path.Add(sighting);
            }

            return;
        }

        // The way out of the host: the path is complete.
        if (path is null)
        {
            done.Add([sighting]);
        }
        else
        {
            path.Add(sighting);
            _open.Remove(key);
            done.Add(path);
        }

        if (_exits.Count >= MaxOpen)
        {
            _exits.Clear();
            _exitsByAge.Clear();
        }

        _exits[key] = (sighting.Interface, sighting.Ns);
        _exitsByAge.Enqueue((key, sighting.Ns));
    }

    /// <summary>Ends the paths whose window has passed by <paramref name="ns"/> (packet time).</summary>
    public void Expire(long ns, List<IReadOnlyList<PathSighting<THop>>> done)
    {
        while (_byAge.TryPeek(out (TKey Key, List<PathSighting<THop>> Path) head))
        {
            bool current = _open.TryGetValue(head.Key, out List<PathSighting<THop>>? open) && ReferenceEquals(open, head.Path);
            if (current && ns - head.Path[0].Ns <= WindowNs)
            {
                break;
            }

            _byAge.Dequeue();
            if (current)
            {
                _open.Remove(head.Key);
                done.Add(head.Path);
            }
        }

        while (_exitsByAge.TryPeek(out (TKey Key, long Ns) exit) && ns - exit.Ns > WindowNs)
        {
            _exitsByAge.Dequeue();
            if (_exits.TryGetValue(exit.Key, out (string Interface, long Ns) kept) && kept.Ns == exit.Ns)
            {
                _exits.Remove(exit.Key);
            }
        }
    }

    /// <summary>Ends every open path (end of input), oldest first.</summary>
    public void Flush(List<IReadOnlyList<PathSighting<THop>>> done)
    {
        while (_byAge.TryDequeue(out (TKey Key, List<PathSighting<THop>> Path) head))
        {
            if (_open.TryGetValue(head.Key, out List<PathSighting<THop>>? open) && ReferenceEquals(open, head.Path))
            {
                _open.Remove(head.Key);
                done.Add(head.Path);
            }
        }
    }

    private static bool Crossed(List<PathSighting<THop>> path, string iface)
    {
        foreach (PathSighting<THop> s in path)
        {
            if (string.Equals(s.Interface, iface, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
