using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Wire.Frames;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>
/// One query seen along a host-internal path (a container's veth, its bridge, the uplink, NATed on the way) is one
/// event, at its most exposed hop, with its path; the merger's invariants hold for any order of sightings.
/// </summary>
public sealed class QueryPathTests
{
    private const string Container = "10.77.1.2";
    private const string Nat = "10.77.2.1";
    private const string Resolver = "10.77.2.53";

    private static byte[] Sighting(string src, ushort sport, ushort id, string name = "web.example.test") =>
        Harness.Udp(src, Resolver, sport, 53, Harness.Query(name, id));

    [Fact]
    public void VethBridgeUplink_NatedOnTheWay_IsOneEvent_AtTheUplink_WithThePath()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("veth1", Sighting(Container, 40000, 0x4242));
        h.Feed("br0", Sighting(Container, 40000, 0x4242));
        long exit = h.Feed("eth0", Sighting(Nat, 61000, 0x4242));

        // Written when the path leaves the host, not at the end of the input.
        LeakEvent e = Assert.Single(h.Events);
        h.Complete();
        Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P1, "udp53", Confidence.High, "eth0", "physical", Resolver + ":53", "web.example.test", "q" + exit, exit);
        Assert.Equal(Nat + ":61000", e.Source);
        Assert.Equal(["veth1", "br0", "eth0"], e.Path);
        Assert.Equal(["virtual", "virtual", "physical"], e.PathRouteClasses);
        Assert.Contains(e.Evidence, s => s.Contains("veth1 (virtual) > br0 (virtual) > eth0 (physical)", StringComparison.Ordinal));
        Assert.Equal(3, h.Pipeline.Rules.DnsQueries);
    }

    [Fact]
    public void SeenOnlyInsideTheHost_IsP3_WhenItsWindowHasPassed()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("veth1", Sighting(Container, 40000, 7));
        long last = h.Feed("br0", Sighting(Container, 40000, 7));
        Assert.Empty(h.Events);

        // Packet time moves on (any frame): the path is closed and judged.
        h.Wait(TimeSpan.FromSeconds(1));
        h.Feed("eth0", Harness.Udp(Nat, "203.0.113.9", 5000, 9, [1]));
        LeakEvent e = Assert.Single(h.Events);
        Expect.Leak(e, LeakType.A, Severity.P3, "udp53", Confidence.High, "br0", "virtual", Resolver + ":53", "web.example.test", "q" + last, last);
        Assert.Equal(["veth1", "br0"], e.Path);
        Assert.Contains(e.Evidence, s => s.Contains("seen only on host-internal interfaces", StringComparison.Ordinal));
    }

    [Fact]
    public void LeavingByTheSafeTunnel_IsNoLeak_WhateverTheHopsBefore()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("veth1", Sighting(Container, 40000, 9));
        h.Feed("docker0", Sighting(Container, 40000, 9));
        h.Feed("wg0", Sighting("10.8.0.2", 40000, 9), LinkType.Raw);
        h.Complete();
        Assert.Empty(h.Events);
    }

    [Fact]
    public void ARetransmission_OnTheSameInterface_IsAQueryOfItsOwn()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("eth0", Sighting(Nat, 61000, 5));
        h.Feed("eth0", Sighting(Nat, 61000, 5));
        h.Complete();
        Assert.Equal(2, h.Events.Count);
        Assert.All(h.Events, e => Assert.Null(e.Path));
    }

    [Fact]
    public void TheSameQuestion_WithAnotherId_OrAfterTheWindow_IsAnotherQuery()
    {
        var h = new Harness(Expect.FullTunnel);
        h.Feed("veth1", Sighting(Container, 40000, 1));
        h.Feed("eth0", Sighting(Nat, 61000, 2));
        h.Wait(TimeSpan.FromSeconds(1));
        h.Feed("veth1", Sighting(Container, 40001, 3));
        h.Wait(TimeSpan.FromSeconds(1));
        h.Feed("eth0", Sighting(Nat, 61001, 3));
        h.Complete();

        Assert.Equal(4, h.Events.Count);
        Assert.Equal(2, h.Events.Count(e => e.Severity == Severity.P3));
    }

    [Fact]
    public void AVirtualSighting_HandedOverAfterTheUplinks_IsFoldedIn_NotReportedAgain()
    {
        // Live capture runs a thread per interface: the uplink's packet may be processed before the veth's.
        // (Paths are merged once a virtual interface has been seen: a host without one pays nothing for them.)
        var h = new Harness(Expect.FullTunnel);
        h.Feed("veth2", Sighting(Container, 40000, 10, "first.example.test"));
        h.Feed("eth0", Sighting(Nat, 61000, 11));
        h.Feed("veth1", Sighting(Container, 40000, 11));
        h.Complete();
        Assert.Single(h.Events, e => e.QName == "web.example.test");
        Assert.Equal(1, h.Pipeline.PathSightingsAbsorbed);
    }

    [Fact]
    public void AProxyRequiredName_SeenOnlyInside_IsLeakB_P2()
    {
        var h = new Harness(Expect.WithProxyDomains(Expect.Split, "secret.test"));
        h.Feed("veth1", Harness.Udp(Container, Resolver, 40000, 53, Harness.Query("a.secret.test", 3)));
        h.Complete();
        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal(LeakType.B, e.LeakType);
        Assert.Equal(Severity.P2, e.Severity);
    }

    public enum Hop
    {
        Veth,
        Bridge,
        Uplink,
    }

    /// <summary>
    /// Any interleaving of sightings of a few queries, in packet-time order: every sighting ends in exactly one path or
    /// is folded into one that left; a path never crosses an interface twice, spans at most the window, holds at most
    /// one way out and has it last.
    /// </summary>
    [Property(MaxTest = 500)]
    public Property Merger_EverySightingEndsInOnePath_PathsAreWellFormed()
    {
        Gen<(byte Key, Hop Hop, byte Gap)> sighting =
            from key in Gen.Choose(0, 3)
            from hop in Gen.Elements(Hop.Veth, Hop.Bridge, Hop.Uplink)
            from gap in Gen.Choose(0, 40)
            select ((byte)key, hop, (byte)gap);
        return Prop.ForAll(Gen.ListOf(sighting).Select(l => l.ToArray()).ToArbitrary(), sightings =>
        {
            const long Window = 100;
            var merger = new QueryPathMerger<byte, int>(Window);
            var done = new List<IReadOnlyList<PathSighting<int>>>();
            long ns = 0;
            for (int i = 0; i < sightings.Length; i++)
            {
                (byte key, Hop hop, byte gap) = sightings[i];
                ns += gap;
                merger.Add(key, new PathSighting<int>(hop.ToString(), hop != Hop.Uplink, ns, i), done);
            }

            merger.Flush(done);
            int[] seen = [.. done.SelectMany(p => p.Select(s => s.Hop))];
            return (seen.Length + merger.Absorbed == sightings.Length).Label("every sighting accounted for")
                .And(seen.Distinct().Count() == seen.Length).Label("no sighting in two paths")
                .And(done.All(p => p.Select(s => s.Interface).Distinct().Count() == p.Count)).Label("no interface twice")
                .And(done.All(p => p[^1].Ns - p[0].Ns <= Window)).Label("within the window")
                .And(done.All(p => p.Take(p.Count - 1).All(s => s.Virtual))).Label("the way out only last")
                .And(done.All(p => p.All(s => sightings[s.Hop].Key == sightings[p[0].Hop].Key))).Label("one key per path")
                .And(merger.OpenPaths == 0).Label("nothing left open");
        });
    }

    /// <summary>The same query crossing veth, bridge and uplink, mixed with other queries, is always one three-hop path.</summary>
    [Property(MaxTest = 300)]
    public Property Merger_ACleanCrossing_IsOnePath_WhateverIsInterleaved(ushort seed)
    {
        var random = new Random(seed);
        var merger = new QueryPathMerger<int, string>(1000);
        var done = new List<IReadOnlyList<PathSighting<string>>>();
        long ns = 0;
        foreach (string hop in new[] { "veth1", "br0", "eth0" })
        {
            for (int n = random.Next(4); n > 0; n--)
            {
                int other = random.Next(1, 50);
                merger.Add(other, new PathSighting<string>("veth" + other, true, ns += random.Next(5), "other"), done);
            }

            merger.Add(0, new PathSighting<string>(hop, hop != "eth0", ns += random.Next(5), hop), done);
        }

        merger.Flush(done);
        IReadOnlyList<PathSighting<string>> crossing = done.Single(p => p.Any(s => s.Hop != "other"));
        return crossing.Select(s => s.Interface).SequenceEqual(["veth1", "br0", "eth0"]).ToProperty();
    }
}
