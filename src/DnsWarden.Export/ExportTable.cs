namespace DnsWarden.Export;

/// <summary>The three tables dnsw writes (docs/clickhouse/*.sql).</summary>
public enum ExportTable : byte
{
    /// <summary><c>leak_events</c>: what <c>leak watch</c> found.</summary>
    LeakEvents,

    /// <summary><c>dns_queries</c>: what the proxy, the jail's stub and the TUN filter's virtual DNS served.</summary>
    DnsQueries,

    /// <summary><c>guard_decisions</c>: packets the jail and the TUN filter refused.</summary>
    GuardDecisions,
}
