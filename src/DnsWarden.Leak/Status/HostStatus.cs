using System.Runtime.Versioning;
using DnsWarden.Leak.Enrich;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Platform.Network;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Status;

/// <summary>
/// What <c>leak status</c> reports (docs/STATUS.md): this namespace's interfaces, routes, policy rules and DNS
/// configuration, each interface and nameserver judged by <see cref="StatusJudge"/>, and the kill switch. The CLI
/// renders it; <see cref="HostStatusJson"/> writes it.
/// </summary>
public sealed class HostStatus
{
    private HostStatus(LeakPolicy policy, NetworkState state, SystemDnsConfiguration dns)
    {
        Policy = policy;
        State = state;
        Dns = dns;
    }

    public LeakPolicy Policy { get; }

    public NetworkState State { get; }

    public SystemDnsConfiguration Dns { get; }

    /// <summary>Every link, by index.</summary>
    public IReadOnlyList<InterfaceStatus> Interfaces { get; private init; } = [];

    /// <summary>The nameservers of the resolv.conf in use, in file order.</summary>
    public IReadOnlyList<NameserverStatus> Nameservers { get; private init; } = [];

    /// <summary>The nameservers of systemd-resolved's own upstream resolv.conf, when it is there.</summary>
    public IReadOnlyList<NameserverStatus> UpstreamNameservers { get; private init; } = [];

    /// <summary>Whether this namespace's firewall drops DNS off the safe path; "not read" until <see cref="JudgeKillSwitch"/>.</summary>
    public KillSwitchState KillSwitch { get; private set; } = Enrich.KillSwitch.Unreadable("not read");

    /// <summary>iptables-legacy tables present, which the kill switch judgement cannot read.</summary>
    public IReadOnlyList<string> LegacyTables { get; private set; } = [];

    /// <summary>The kill switch in one line, with the legacy tables it could not read.</summary>
    public string KillSwitchLine => KillSwitch.Describe()
        + (LegacyTables.Count == 0 ? "" : $" (iptables-legacy tables not read: {string.Join(", ", LegacyTables)})");

    /// <summary>Judges every link and nameserver of <paramref name="state"/> and <paramref name="dns"/> under <paramref name="policy"/>.</summary>
    public static HostStatus Build(LeakPolicy policy, NetworkState state, SystemDnsConfiguration dns)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(dns);
        var classifier = new RouteClassifier(policy);
        var interfaces = new List<InterfaceStatus>();
        foreach (LinkInfo link in state.Links.OrderBy(l => l.Index))
        {
            RouteClassResult route = classifier.Classify(link.Name, StatusJudge.CaptureLinkType(link));
            (string verdict, string text) = StatusJudge.Interface(policy, link.Name, route);
            interfaces.Add(new InterfaceStatus(link, [.. state.Addresses.Where(a => a.InterfaceIndex == link.Index)], route, verdict, text));
        }

        return new HostStatus(policy, state, dns)
        {
            Interfaces = interfaces,
            Nameservers = [.. (dns.ResolvConf?.Nameservers ?? []).Select(ns => StatusJudge.Nameserver(policy, classifier, state, ns))],
            UpstreamNameservers = [.. (dns.ResolvedUpstream?.Nameservers ?? []).Select(ns => StatusJudge.Nameserver(policy, classifier, state, ns))],
        };
    }

    /// <summary>Reads this namespace's ruleset and judges whether it drops DNS leaving by an interface that is neither loopback nor a tunnel.</summary>
    [SupportedOSPlatform("linux")]
    public void JudgeKillSwitch()
    {
        string[] offPath = [.. Interfaces.Where(i => i.Route.Class is not (RouteClass.Loopback or RouteClass.Tunnel)).Select(i => i.Link.Name)];
        KillSwitch = FirewallListing.TryReadRuleset(out string json, out string? error)
            ? Enrich.KillSwitch.Judge(json, offPath)
            : Enrich.KillSwitch.Unreadable(error!);
        LegacyTables = FirewallListing.LegacyTables();
    }
}
