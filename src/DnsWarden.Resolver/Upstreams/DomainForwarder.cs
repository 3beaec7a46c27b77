using DnsWarden.Resolver.Decisions;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// Conditional forwarding: a query whose name is at or below a route's suffix goes to that route's pool only (the
/// longest suffix wins: the walk goes from the whole name towards the root and stops at the first suffix that has
/// a route); every other query goes to the default pool. A routed name is never asked of the default upstreams, so
/// a corporate name does not leak to a public resolver (nor the reverse). Owns the route pools.
/// </summary>
public sealed class DomainForwarder : IDnsForwarder, IAsyncDisposable
{
    private readonly UpstreamPool? _fallback;
    private readonly Dictionary<string, UpstreamPool> _routes = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, UpstreamPool>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <param name="fallback">The default pool; null when only routed names are forwarded (others get SERVFAIL).</param>
    public DomainForwarder(UpstreamPool? fallback, IEnumerable<(string Suffix, UpstreamPool Pool)> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        _fallback = fallback;
        foreach ((string suffix, UpstreamPool pool) in routes)
        {
            _routes.Add(suffix, pool);
        }

        _lookup = _routes.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The route pools' upstreams (the default pool's are its owner's to list).</summary>
    public IEnumerable<IDnsUpstream> RouteUpstreams => _routes.Values.SelectMany(p => p.Upstreams);

    /// <summary>The route pools' upstream health.</summary>
    public IEnumerable<UpstreamHealth> RouteHealth => _routes.Values.SelectMany(p => p.Health);

    /// <summary>The pool a query for <paramref name="name"/> (dotted, no trailing dot) goes to; null: none.</summary>
    public UpstreamPool? PoolFor(ReadOnlySpan<char> name)
    {
        while (!name.IsEmpty)
        {
            if (_lookup.TryGetValue(name, out UpstreamPool? pool))
            {
                return pool;
            }

            int dot = name.IndexOf('.');
            if (dot < 0)
            {
                break;
            }

            name = name[(dot + 1)..];
        }

        return _fallback;
    }

    public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        UpstreamPool? pool = Choose(query.Span);
        if (pool is null)
        {
            return new ForwardReply(0, null, UpstreamError.Unavailable);
        }

        PoolReply reply = await pool.QueryAsync(query, response, cancellationToken).ConfigureAwait(false);
        return new ForwardReply(reply.Length, reply.Upstream?.Config.Url, reply.Error);
    }

    private UpstreamPool? Choose(ReadOnlySpan<byte> query)
    {
        var reader = new DnsMessageReader(query);
        Span<char> key = stackalloc char[NameMatcher.MaxKeyLength];
        if (!reader.TryReadHeader(out _) || !reader.TryReadQuestion(out DnsQuestion q) || !NameMatcher.TryGetKey(q.Name, key, out int length))
        {
            return _fallback;
        }

        return PoolFor(key[..length]);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (UpstreamPool pool in _routes.Values)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
        }
    }
}
