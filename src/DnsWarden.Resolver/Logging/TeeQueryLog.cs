namespace DnsWarden.Resolver.Logging;

/// <summary>Hands each entry to two query logs (the JSON file and the exporter), neither of which blocks.</summary>
public sealed class TeeQueryLog(IQueryLog first, IQueryLog second) : IQueryLog
{
    /// <summary>Null, one of them, or both behind a tee.</summary>
    public static IQueryLog? Of(IQueryLog? first, IQueryLog? second) =>
        first is null ? second : second is null ? first : new TeeQueryLog(first, second);

    public void Write(QueryLogEntry entry)
    {
        first.Write(entry);
        second.Write(entry);
    }
}
