using DnsWarden.Export;
using DnsWarden.Guard;
using DnsWarden.Guard.Jail;
using DnsWarden.Guard.Tun;

namespace DnsWarden.Cli.Export;

/// <summary>Refused packets of the jail (NFLOG) and of the TUN filter as rows of <c>guard_decisions</c>, from their models.</summary>
internal static class DecisionRows
{
    public static DecisionRow FromJail(BlockedAttempt a) => new()
    {
        Timestamp = a.Timestamp,
        Source = "jail",
        Kind = a.Kind,
        Protocol = a.Protocol,
        Destination = a.Destination,
        Port = (ushort)a.Port,
    };

    public static DecisionRow FromTun(RefusedPacket p, DateTimeOffset when) => new()
    {
        Timestamp = when,
        Source = "tun",
        Kind = TunRefusals.KindName(p.Kind),
        Protocol = RefusalText.ProtocolName(p.Protocol),
        Destination = p.Destination.ToString(),
        Port = p.Port,
    };
}
