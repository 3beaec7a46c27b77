namespace DnsWarden.Guard.Jail.Report;

/// <summary>How often one name (as the privacy mode writes it) got one verdict from the jail's stub.</summary>
/// <param name="Name">The query name after the privacy mode; null under <c>minimal</c>.</param>
/// <param name="Verdict">The query log's verdict (<c>forwarded</c>, <c>sinkholed</c>, <c>blocked</c>…).</param>
public sealed record JailNameCount(string? Name, string Verdict, long Queries);
