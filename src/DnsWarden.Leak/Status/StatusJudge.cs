using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Rules;
using DnsWarden.Platform.Network;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Status;

/// <summary>
/// What the leak detector would make of DNS leaving by an interface or sent to a nameserver, in the words of
/// <c>leak status</c> (docs/STATUS.md). The safe path is the policy's (<see cref="LeakPolicy.IsSafeInterface"/>,
/// <see cref="LeakPolicy.IsSafeResolver"/>) and what is off it is <see cref="PlaintextRule"/>'s: the same two calls
/// <see cref="LeakDetector"/> makes for a query, so a status verdict and the detector cannot disagree.
/// </summary>
public static class StatusJudge
{
    private const ushort DnsPort = 53;

    /// <summary>The link type the leak detector would see on a capture of this device.</summary>
    public static LinkType CaptureLinkType(LinkInfo link)
    {
        ArgumentNullException.ThrowIfNull(link);
        return link.IsRawIp ? LinkType.Raw : LinkType.Ethernet;
    }

    /// <summary>Plaintext DNS leaving by <paramref name="name"/>: <c>safe</c>, or what it is off the safe path.</summary>
    public static (string Verdict, string Text) Interface(LeakPolicy policy, string name, RouteClassResult route)
    {
        ArgumentNullException.ThrowIfNull(policy);
        string profile = Profiles.Name(policy.Profile);
        string cls = RouteClassifier.Name(route.Class);
        if (policy.IsSafeInterface(name, route.Class))
        {
            string why = policy.SafeRouteClasses.Contains(route.Class) ? $"{cls} is a safe route class" : "it is a safe interface";
            return ("safe", $"DNS on {name} stays on the safe path under {profile}: {why}");
        }

        return OffSafePath(policy, $"DNS on {name}", $"{cls} ({route.Reason}) is not a safe route class or safe interface", route.Class, exceptions: true);
    }

    /// <summary>A resolv.conf nameserver: the route the kernel would take to it, and the verdict on DNS sent that way.</summary>
    public static NameserverStatus Nameserver(LeakPolicy policy, RouteClassifier classifier, NetworkState state, ResolvConfNameserver ns)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(ns);
        RouteInfo? route = RouteLookup.Lookup(state.Routes, ns.Address);
        int index = route is null ? 0 : route.OutputInterfaceIndex != 0 ? route.OutputInterfaceIndex : route.NextHops.FirstOrDefault()?.InterfaceIndex ?? 0;
        string? device = index == 0 ? null : state.NameOf(index);
        LinkInfo? link = index == 0 ? null : state.LinkByIndex(index);
        RouteClassResult? cls = device is null ? null : classifier.Classify(device, link is null ? LinkType.Ethernet : CaptureLinkType(link));
        bool safeResolver = policy.IsSafeResolver(ns.Address, DnsPort);
        string who = ns.ToString();
        if (ns.Ignored)
        {
            return new(ns, route, device, cls, safeResolver, "unused", $"{who} is never asked: glibc uses only the first {ResolvConf.MaxNameservers} nameservers");
        }

        if (safeResolver)
        {
            return new(ns, route, device, cls, safeResolver, "safe", $"{who} is a safe resolver");
        }

        if (route is null || device is null)
        {
            string type = route is null ? "no route" : RouteInfo.TypeName(route.Type) + " route";
            return new(ns, route, device, cls, safeResolver, "unreachable", $"{who}: {type} in the local/main tables");
        }

        string className = RouteClassifier.Name(cls!.Value.Class);
        if (policy.IsSafeInterface(device, cls.Value.Class))
        {
            return new(ns, route, device, cls, safeResolver, "safe", $"{who} is reached via {device} ({className}): safe path");
        }

        (string verdict, string text) = OffSafePath(policy, "queries to it", reason: null, cls.Value.Class, exceptions: false);
        return new(ns, route, device, cls, safeResolver, verdict, $"{who} is reached via {device} ({className}): {text}");
    }

    /// <summary>
    /// What plaintext DNS that leaves by an unsafe path would be, by the detector's own rule (<see cref="PlaintextRule"/>):
    /// Leak-A, or under <c>split</c> nothing for ordinary names and Leak-B for the proxy-required ones.
    /// </summary>
    private static (string Verdict, string Text) OffSafePath(LeakPolicy policy, string subject, string? reason, RouteClass routeClass, bool exceptions)
    {
        string profile = Profiles.Name(policy.Profile);
        string verdict;
        string text;
        if (PlaintextRule.OffSafePath(policy.Profile, routeClass, proxyRequired: false) is not null)
        {
            verdict = "leak-a";
            text = $"{subject} would be Leak-A under {profile}" + (reason is null ? "" : ": " + reason);
        }
        else if (PlaintextRule.AnyProxyRequired(policy.Split))
        {
            string names = policy.Split.Default == SplitDefault.Proxy
                ? "every name not in direct_domains"
                : "names under " + string.Join(", ", policy.Split.ProxyDomains.Rules);
            verdict = "leak-b";
            text = $"{subject} {(reason is null ? "go" : "is")} direct under {profile}: ordinary names may resolve there, but {names} would be Leak-B" + (reason is null ? "" : $" ({reason})");
        }
        else
        {
            return ("direct", $"{subject} {(reason is null ? "go" : "is")} direct under {profile}: no name is proxy-required, so ordinary names may resolve there");
        }

        var unless = new List<string>();
        if (exceptions && policy.SafeResolvers.Count > 0)
        {
            unless.Add("sent to a safe resolver (" + string.Join(", ", policy.SafeResolvers) + ")");
        }

        if (policy.AllowedProcesses.Count > 0)
        {
            unless.Add("sent by an allowed process (" + string.Join(", ", policy.AllowedProcesses) + ")");
        }

        return unless.Count == 0 ? (verdict, text) : (verdict + "-unless", text + ", unless " + string.Join(" or ", unless));
    }
}
