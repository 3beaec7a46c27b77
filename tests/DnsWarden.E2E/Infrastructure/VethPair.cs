namespace DnsWarden.E2E;

/// <summary>A veth pair whose two ends live in two test namespaces (never in the root namespace).</summary>
public sealed record VethPair(string NamespaceA, string InterfaceA, string NamespaceB, string InterfaceB);
