using System.Net;
using System.Runtime.Versioning;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;

namespace DnsWarden.Guard;

/// <summary>
/// The engine configuration the jail's stub and the TUN filter's virtual DNS run with when no <c>--config</c> is given:
/// the proxy's defaults (<see cref="ProxyConfig"/>) but for the settings below, each a deliberate difference. A
/// <c>--config</c> file replaces these as it replaces the proxy's defaults; flags override both.
/// </summary>
public static class GuardEngine
{
    /// <summary>
    /// Tracker floor and ceiling: <see cref="AddressHold"/> (5 minutes to 1 hour) where the proxy keeps the answer's TTL,
    /// because here an address's lifetime is how long the command may connect to it (a TTL of 0 must not close it at once).
    /// </summary>
    public static ProxyConfig Defaults { get; } = new()
    {
        TrackerMinTtl = AddressHold.DefaultMinimum,
        TrackerMaxTtl = AddressHold.Maximum,
        Source = "defaults",
    };

    /// <summary>
    /// Exfiltration scoring always on (the proxy scores only when something reads it): every query line of the jail and
    /// the filter and the jail's report carry the score.
    /// </summary>
    public static ExfiltrationScorer Scorer() => new();

    /// <summary>
    /// Rebinding guard always on (the proxy's only with <c>rebind_protection</c>): an answer naming the host's own or a
    /// private address would open the enforced namespace a way to the host (<see cref="HostAddresses.Rebinding"/>).
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static RebindingGuard Rebinding(params IEnumerable<IPAddress> extra) => HostAddresses.Rebinding(extra);
}
