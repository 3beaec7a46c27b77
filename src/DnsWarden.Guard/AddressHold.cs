using DnsWarden.Policy;
using DnsWarden.Resolver.Tracking;

namespace DnsWarden.Guard;

/// <summary>
/// How long an address a DNS answer handed out stays open to new connections, in the jail (its nftables sets'
/// timeouts) and the TUN filter (its <see cref="IpTracker"/>) alike: the answer's TTL, raised to a floor and cut to
/// a ceiling. docs/DECISIONS.md, "The TTL floor".
/// </summary>
public static class AddressHold
{
    /// <summary>
    /// The floor unless <c>--min-ttl</c> says otherwise: a client connects a little after it resolves and keeps using
    /// an answer well past a TTL of 0 or a few seconds (CDNs, dnsmasq's <c>address=</c>); five minutes is also the
    /// seeds' fixed lifetime.
    /// </summary>
    public static readonly TimeSpan DefaultMinimum = TimeSpan.FromMinutes(5);

    /// <summary>The ceiling: a day-long TTL still expires within the hour. <c>--min-ttl</c> cannot go above it.</summary>
    public static readonly TimeSpan Maximum = TimeSpan.FromHours(1);

    /// <summary>How long an address with <paramref name="ttlSeconds"/> is held under <paramref name="minimum"/>.</summary>
    public static TimeSpan Of(uint ttlSeconds, TimeSpan minimum) =>
        TimeSpan.FromSeconds(Math.Clamp(ttlSeconds, (long)minimum.TotalSeconds, (long)Maximum.TotalSeconds));

    /// <summary>The tracker that holds addresses as <see cref="Of"/> says.</summary>
    public static IpTrackerOptions Tracker(TimeSpan minimum) => new() { MinTtl = minimum, MaxTtl = Maximum };

    /// <summary><c>--min-ttl</c>: a duration as policy files write them (<c>0</c>, <c>30s</c>, <c>5m</c>) from 0 to <see cref="Maximum"/>.</summary>
    public static bool TryParseMinimum(string text, out TimeSpan minimum, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        if (PolicyDuration.TryParse(text, out minimum) && minimum <= Maximum)
        {
            return true;
        }

        error = $"expected a duration from 0 to {PolicyDuration.Format(Maximum)} such as 30s or 5m, got '{text}'";
        return false;
    }
}
