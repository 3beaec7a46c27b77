namespace DnsWarden.Leak.Report;

/// <summary>How many events took one path: the process that asked, the interface the DNS left by, the resolver.</summary>
public sealed record LeakPath(string Process, string Interface, string Destination, int Events);
