using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Rules;

/// <summary>
/// What a plaintext DNS query off the safe path is (docs/EVENTS.md, "The rules"): Leak-B for a proxy-required name,
/// nothing for an ordinary name under <c>split</c>, else Leak-A with its severity by route class. The detector judges
/// each query with it and <c>leak status</c> judges each interface and nameserver with it, so the two cannot disagree.
/// </summary>
public static class PlaintextRule
{
    /// <summary>The finding, or null when the query may go that way (an ordinary name under <c>split</c>).</summary>
    public static (LeakType Type, Severity Severity)? OffSafePath(PolicyProfile profile, RouteClass routeClass, bool proxyRequired)
    {
        if (proxyRequired)
        {
            // Seen only inside the host, the name has not reached an observer outside it yet (docs/DECISIONS.md).
            return (LeakType.B, routeClass == RouteClass.Virtual ? Severity.P2 : Severity.P0);
        }

        if (profile == PolicyProfile.Split)
        {
            return null; // split policy: ordinary names may resolve directly
        }

        Severity severity = routeClass switch
        {
            RouteClass.Physical => Severity.P1,
            RouteClass.Virtual => Severity.P3,
            _ => Severity.P2,
        };
        return (LeakType.A, severity);
    }

    /// <summary>
    /// Whether any name is proxy-required under the policy: every name but the direct ones when the split's default is
    /// <c>proxy</c>, else the names under <c>proxy_domains</c>.
    /// </summary>
    public static bool AnyProxyRequired(SplitPolicy split)
    {
        ArgumentNullException.ThrowIfNull(split);
        return split.Default == SplitDefault.Proxy || split.ProxyDomains.Count > 0;
    }
}
