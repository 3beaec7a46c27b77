using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Tracking;

/// <summary>Behaviour that must survive the table being rebuilt (growth, shrink after sweep, name compaction).</summary>
public sealed class IpTrackerRebuildTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long T0 = 1_000 * Second;

    private static byte[] Answer(string name, uint ttl, params string[] addresses) =>
        Cache.DnsCacheTests.AnswerA(Cache.DnsCacheTests.Query(name), ttl, addresses);

    private static void Fill(IpTracker tracker, int count, uint ttl, long now)
    {
        for (int i = 0; i < count; i++)
        {
            tracker.Record(Answer($"fill{i}.example", ttl, IpAddr.FromV4(0x0A000000u + (uint)i).ToString()), now);
        }
    }

    [Fact]
    public void CapOrderAndSharedNamesSurviveGrowth()
    {
        var tracker = new IpTracker(new IpTrackerOptions { MaxAddressesPerName = 3 });
        var events = new List<TrackedAddressRemovedEventArgs>();
        tracker.AddressRemoved += (_, e) => events.Add(e);
        tracker.Record(Answer("cap.example", 600, "198.51.100.1", "198.51.100.2", "198.51.100.3"), T0);
        tracker.Record(Answer("a.example", 600, "2001:db8::5"), T0);
        tracker.Record(Answer("b.example", 600, "2001:db8::5"), T0);
        Fill(tracker, 20_000, 600, T0);
        tracker.Record(Answer("cap.example", 600, "198.51.100.4"), T0);
        Assert.Equal(IpAddr.Parse("198.51.100.1"), Assert.Single(events).Address.Address);
        Assert.False(tracker.Contains(IpAddr.Parse("198.51.100.1"), T0));
        Assert.True(tracker.Contains(IpAddr.Parse("198.51.100.2"), T0));
        Assert.True(tracker.TryGet(IpAddr.Parse("2001:db8::5"), T0, out TrackedAddress t));
        Assert.Equal(["a.example", "b.example"], t.Names);
        Assert.Equal(20_000 + 4, tracker.Count);
    }

    [Fact]
    public void SweepShrinksAndNamesComeBack()
    {
        var tracker = new IpTracker();
        Fill(tracker, 20_000, 10, T0);
        tracker.Record(Answer("keep.example", 100, "198.51.100.9"), T0);
        Assert.Equal(20_000, tracker.Sweep(T0 + (10 * Second)));
        Assert.Equal(1, tracker.Count);
        Assert.True(tracker.TryGet(IpAddr.Parse("198.51.100.9"), T0, out TrackedAddress kept));
        Assert.Equal(["keep.example"], kept.Names);

        Fill(tracker, 100, 10, T0 + (20 * Second));
        Assert.True(tracker.TryGet(IpAddr.FromV4(0x0A000000u + 42), T0 + (20 * Second), out TrackedAddress again));
        Assert.Equal(["fill42.example"], again.Names);
        Assert.Equal(101, tracker.Count);
    }

    [Fact]
    public void ReAnswerExtendsButNeverShortens()
    {
        var tracker = new IpTracker();
        tracker.Record(Answer("e.example", 100, "198.51.100.1"), T0);
        tracker.Record(Answer("e.example", 10, "198.51.100.1"), T0 + Second);
        Assert.True(tracker.TryGet(IpAddr.Parse("198.51.100.1"), T0, out TrackedAddress t));
        Assert.Equal(T0 + (100 * Second), t.ExpiresTicks);
        tracker.Record(Answer("e.example", 200, "198.51.100.1"), T0 + Second);
        Assert.True(tracker.TryGet(IpAddr.Parse("198.51.100.1"), T0, out t));
        Assert.Equal(T0 + (201 * Second), t.ExpiresTicks);
    }

    [Fact]
    public void ContainsAllocatesNothing()
    {
        var tracker = new IpTracker();
        Fill(tracker, 1000, 600, T0);
        IpAddr hit = IpAddr.FromV4(0x0A000000u + 7);
        IpAddr miss = IpAddr.Parse("2001:db8::dead");
        tracker.Contains(hit, T0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool all = true;
        for (int i = 0; i < 1000; i++)
        {
            all &= tracker.Contains(hit, T0) && !tracker.Contains(miss, T0);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(all);
    }
}
