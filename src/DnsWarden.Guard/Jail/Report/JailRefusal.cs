namespace DnsWarden.Guard.Jail.Report;

/// <summary>
/// Packets the jail refused to one destination, for one reason (the egress rule's kind: <c>dot</c>, <c>quic</c>,
/// <c>unresolved</c>, <c>multicast</c>, <c>routing</c>, <c>ipoptions</c>, or <c>inbound</c> for someone trying to reach the jail).
/// </summary>
public sealed record JailRefusal(string Kind, string Protocol, string Destination, int Port, long Packets)
{
    /// <summary>Who sent a refused inbound packet; null for the jail's own attempts.</summary>
    public string? Source { get; init; }
}
