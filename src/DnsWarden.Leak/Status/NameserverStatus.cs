using DnsWarden.Leak.Enrich;
using DnsWarden.Platform.Network;

namespace DnsWarden.Leak.Status;

/// <summary>One nameserver of a resolv.conf in <c>leak status</c>: the route to it, the interface and route class it leaves by, and the verdict.</summary>
/// <param name="Verdict">As <see cref="InterfaceStatus.Verdict"/>, or <c>unused</c> (past glibc's limit), or <c>unreachable</c> (no usable route).</param>
public sealed record NameserverStatus(
    ResolvConfNameserver Server, RouteInfo? Route, string? Device, RouteClassResult? Class, bool SafeResolver, string Verdict, string VerdictText);
