namespace DnsWarden.Resolver.Engine;

/// <summary>
/// A count of forwarded queries waiting on an upstream, with a ceiling: <see cref="TryEnter"/> claims a place or says
/// there is none, <see cref="Leave"/> gives it back. Lock-free; one per listener and one for the whole engine.
/// </summary>
public sealed class InFlightLimit
{
    private int _count;

    public InFlightLimit(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Places taken now.</summary>
    public int Count => Volatile.Read(ref _count);

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _count) > Limit)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        return true;
    }

    public void Leave() => Interlocked.Decrement(ref _count);
}
