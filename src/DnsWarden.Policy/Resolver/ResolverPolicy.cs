using System.Net;

namespace DnsWarden.Policy;

/// <summary>How the resolver answers a name that reaches the forwarding step.</summary>
public enum ResolverMode
{
    /// <summary>Names the policy lets through are resolved upstream.</summary>
    Forward,

    /// <summary>Nothing is resolved upstream: every A gets the v4 sinkhole, every AAAA the v6 one (httpjail's model).</summary>
    SinkholeAll,
}

/// <summary>The answer a blocked name gets.</summary>
public enum ResolverBlockAction
{
    NxDomain,
    Refused,
    Sinkhole,
}

/// <summary>What a name on neither list gets when the allow list is not empty.</summary>
public enum ResolverDefaultAction
{
    Allow,
    Block,
}

public enum LocalRecordType
{
    A,
    AAAA,
    CNAME,
    TXT,
}

/// <summary>
/// A record the resolver answers itself. <see cref="Value"/> is the normalised presentation form: an address for
/// A/AAAA, a name without trailing dot for CNAME, the text for TXT.
/// </summary>
public sealed record LocalRecord(string Name, LocalRecordType Type, string Value, uint Ttl)
{
    /// <summary>RFC 2181 §8: a TTL is at most 2^31 − 1.</summary>
    public const uint MaxTtl = int.MaxValue;

    public const uint DefaultTtl = 300;

    /// <summary>The address of an A or AAAA record; null for the other types.</summary>
    public IPAddress? Address { get; init; }
}

/// <summary>
/// The DNS exfiltration score at which the resolver stops answering a name (null: never), and the number of base
/// domains first seen within the indicator's window that counts as a burst (null: no burst signal): during a burst a
/// base domain with too few queries to be scored on its own scores 100.
/// </summary>
public sealed record ResolverExfiltrationPolicy(int? BlockScore)
{
    /// <summary>500 new base domains a minute: browsing a busy page touches a few dozen; a flood meant to evict a tunnel thousands.</summary>
    public const int DefaultBurstBaseDomains = 500;

    public static ResolverExfiltrationPolicy Default { get; } = new((int?)null);

    public int? BurstBaseDomains { get; init; } = DefaultBurstBaseDomains;
}

/// <summary>
/// Per-query policy of the resolver (docs/RESOLVER.md, "Policy decisions"): which names are forwarded, blocked,
/// sinkholed or answered locally. Separate from <see cref="LeakPolicy"/>, which judges observed traffic.
/// </summary>
public sealed class ResolverPolicy
{
    /// <summary>
    /// Names whose NXDOMAIN switches client features off while a policy is enforced: Firefox disables its own DoH
    /// when use-application-dns.net does not resolve; Apple devices turn iCloud Private Relay off when
    /// mask.icloud.com and mask-h2.icloud.com do not. Either would otherwise carry DNS past the resolver.
    /// </summary>
    public static IReadOnlyList<string> DefaultCanaries { get; } = ["use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"];

    /// <summary>
    /// The sinkhole A of the jail and the TUN filter when the policy names none: their egress is closed, so a program
    /// that connects to it is refused and shows up in the refusal log (a routable address that goes nowhere).
    /// </summary>
    public static IPAddress DefaultSinkholeV4 { get; } = IPAddress.Parse("6.6.6.6");

    /// <summary>
    /// The sinkhole A of <c>dnsw proxy</c> when the policy names none: its clients are real hosts with open egress,
    /// and 6.6.6.6 is a routable public address, so they get the unspecified address (a connection to it stays on
    /// the client's own machine), as other blocking resolvers answer.
    /// </summary>
    public static IPAddress ProxySinkholeV4 { get; } = IPAddress.Any;

    public static IPAddress DefaultSinkholeV6 { get; } = IPAddress.IPv6Any;

    public const uint DefaultSinkholeTtl = 60;

    public static ResolverPolicy Default { get; } = new();

    public ResolverMode Mode { get; init; } = ResolverMode.Forward;

    public DomainSet Allow { get; init; } = DomainSet.Empty;

    public DomainSet Block { get; init; } = DomainSet.Empty;

    public ResolverBlockAction BlockAction { get; init; } = ResolverBlockAction.NxDomain;

    /// <summary>Applies only when <see cref="Allow"/> is not empty; a list of allowed names means "only these" unless said otherwise.</summary>
    public ResolverDefaultAction DefaultAction { get; init; } = ResolverDefaultAction.Block;

    /// <summary>The A of sinkhole answers; null when the file names none, and the engine's default applies (<see cref="DefaultSinkholeV4"/>, <see cref="ProxySinkholeV4"/>).</summary>
    public IPAddress? SinkholeV4 { get; init; }

    public IPAddress SinkholeV6 { get; init; } = DefaultSinkholeV6;

    public uint SinkholeTtl { get; init; } = DefaultSinkholeTtl;

    public IReadOnlyList<LocalRecord> LocalRecords { get; init; } = [];

    /// <summary>Exact names answered NXDOMAIN; empty when canaries are switched off.</summary>
    public IReadOnlyList<string> Canaries { get; init; } = DefaultCanaries;

    public ResolverExfiltrationPolicy Exfiltration { get; init; } = ResolverExfiltrationPolicy.Default;

    /// <summary>
    /// Names whose forwarded answers may carry private, loopback, link-local or the host's own addresses (an
    /// intranet zone, <c>*.lan</c>); every other name loses such records when rebinding protection is on.
    /// </summary>
    public DomainSet PrivateAnswers { get; init; } = DomainSet.Empty;

    /// <summary>The jail's host rules (the file's <c>http</c> section; docs/JAIL.md): empty unless written.</summary>
    public Http.HostRules Http { get; init; } = DnsWarden.Policy.Http.HostRules.None;

    /// <summary>Where the policy came from (a file path, or "default").</summary>
    public string Source { get; init; } = "default";
}
