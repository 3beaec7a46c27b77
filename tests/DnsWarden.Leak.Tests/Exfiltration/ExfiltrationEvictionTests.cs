using DnsWarden.Indicators;
using DnsWarden.Policy;
using FsCheck.Xunit;

namespace DnsWarden.Leak.Tests.Exfiltration;

/// <summary>
/// The indicator's table under a flood of junk base domains: a tunnel is kept (evicted by evidence, not recency), and
/// the flood itself shows as base domains first seen in the window.
/// </summary>
public sealed class ExfiltrationEvictionTests
{
    private const long Second = 1_000_000_000;
    private const ushort A = 1;
    private const ushort Txt = 16;

    private static ExfiltrationDetector NewDetector() => new(ExfiltrationPolicy.Default, BaseDomains.Fallback);

    /// <summary>A 52-character base32 label under tunnel.test, as iodine-like tunnels send.</summary>
    internal static string TunnelName(Random random)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var label = new char[52];
        for (int i = 0; i < label.Length; i++)
        {
            label[i] = Alphabet[random.Next(Alphabet.Length)];
        }

        return new string(label) + ".t.tunnel.test";
    }

    [Fact]
    public void A_tunnel_interleaved_with_4096_junk_base_domains_still_scores()
    {
        // The reproduction: before each tunnel query, 4,096 base domains never seen before. Least-recently-seen
        // eviction dropped the tunnel every time (its score never grew past one query); it must reach 60 as alone.
        ExfiltrationDetector d = NewDetector();
        var random = new Random(9);
        int junk = 0;
        for (int q = 1; q <= 10; q++)
        {
            for (int i = 0; i < ExfiltrationDetector.MaxDomains; i++)
            {
                _ = d.AddQuery(q * Second, $"www.junk{junk++}.test", A);
            }

            _ = d.AddQuery(q * Second, TunnelName(random), Txt);
            Assert.Equal(q, d.QueriesOf("x.tunnel.test"));
        }

        Assert.True(d.ScoreOf("x.tunnel.test") >= ExfiltrationPolicy.Default.ScoreThreshold, d.ScoreOf("x.tunnel.test").ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ExfiltrationDetector.MaxDomains, d.TrackedDomains);
    }

    [Fact]
    public void The_least_evidence_goes_first_idle_then_fewest_points_then_fewest_queries_then_oldest()
    {
        ExfiltrationDetector d = NewDetector();
        var random = new Random(3);
        _ = d.AddQuery(0, "www.idle.test", A);                      // 1 query, will be idle for a window
        _ = d.AddQuery(70 * Second, TunnelName(random), Txt);      // 1 query, but a long random label over TXT
        _ = d.AddQuery(70 * Second, "a.busy.test", A);             // 2 queries, no points
        _ = d.AddQuery(70 * Second, "b.busy.test", A);
        for (int i = 0; d.TrackedDomains < ExfiltrationDetector.MaxDomains; i++)
        {
            _ = d.AddQuery(70 * Second, $"www.one{i}.test", A);     // 1 query each, no points
        }

        _ = d.AddQuery(71 * Second, "www.new1.test", A);
        Assert.Null(d.Peek("idle.test"));                          // idle a whole window: first out
        Assert.NotNull(d.Peek("one0.test"));

        _ = d.AddQuery(71 * Second, "www.new2.test", A);
        Assert.Null(d.Peek("one0.test"));                          // then the oldest of the pointless single sightings
        Assert.NotNull(d.Peek("one1.test"));

        for (int i = 0; i < 2 * ExfiltrationDetector.MaxDomains; i++)
        {
            _ = d.AddQuery(72 * Second, $"www.flood{i}.test", A);
        }

        Assert.NotNull(d.Peek("busy.test"));                       // two queries outrank any single junk sighting
        Assert.NotNull(d.Peek("tunnel.test"));                     // and so does a tunnel's first, suspicious, query
        Assert.Equal(ExfiltrationDetector.MaxDomains, d.TrackedDomains);
    }

    [Fact]
    public void New_base_domains_are_counted_over_the_window_and_leave_with_it()
    {
        ExfiltrationDetector d = NewDetector();
        for (int i = 0; i < 600; i++)
        {
            _ = d.AddQuery(i * (Second / 100), $"www.d{i}.test", A);
        }

        _ = d.AddQuery(6 * Second, "www.d0.test", A);              // seen before: not new
        Assert.Equal(600, d.NewDomainsInWindow);
        _ = d.AddQuery(80 * Second, "www.later.test", A);
        Assert.Equal(1, d.NewDomainsInWindow);
    }

    [Property(MaxTest = 40)]
    public bool Any_amount_of_junk_between_tunnel_queries_leaves_the_tunnel_scored(byte seed, ushort[] junkBetween)
    {
        ExfiltrationDetector d = NewDetector();
        var random = new Random(seed);
        int junk = 0;
        for (int q = 0; q < 10; q++)
        {
            int count = junkBetween is { Length: > 0 } ? junkBetween[q % junkBetween.Length] % 6000 : 0;
            for (int i = 0; i < count; i++)
            {
                _ = d.AddQuery(Second, $"www.j{junk++}.test", random.Next(2) == 0 ? A : Txt);
            }

            _ = d.AddQuery(Second, TunnelName(random), Txt);
        }

        return d.ScoreOf("x.tunnel.test") >= ExfiltrationPolicy.Default.ScoreThreshold;
    }
}
