namespace DnsWarden.Guard.Jail.Report;

/// <summary>Packets the jail refused to one destination, for one reason (the egress rule's kind: <c>dot</c>, <c>quic</c>, <c>unresolved</c>).</summary>
public sealed record JailRefusal(string Kind, string Protocol, string Destination, int Port, long Packets);
