using System.Net;

namespace DnsWarden.Resolver.Clients;

/// <summary>One address of the host with its prefix length, as rtnetlink lists it (the caller reads them; the resolver knows no OS).</summary>
public readonly record struct InterfaceAddress(IPAddress Address, int PrefixLength);
