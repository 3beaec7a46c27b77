using DnsWarden.Leak.Enrich;
using DnsWarden.Platform.Network;

namespace DnsWarden.Leak.Status;

/// <summary>One interface of <c>leak status</c>: the link, its addresses, its route class and what DNS leaving by it would be.</summary>
/// <param name="Verdict">The verdict's word (<see cref="StatusJudge"/>): <c>safe</c>, <c>direct</c>, <c>leak-a</c>, <c>leak-b</c>, with <c>-unless</c> when an exception could still make it safe.</param>
/// <param name="VerdictText">The verdict in one sentence.</param>
public sealed record InterfaceStatus(LinkInfo Link, IReadOnlyList<AddressInfo> Addresses, RouteClassResult Route, string Verdict, string VerdictText);
