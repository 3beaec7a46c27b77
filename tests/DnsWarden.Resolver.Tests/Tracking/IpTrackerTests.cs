using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Tracking;

[Collection(MemoryMeasurementCollection.Name)]
public sealed class IpTrackerTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long T0 = 1_000 * Second;

    private static byte[] Answer(string name, uint ttl, params string[] addresses) =>
        DnsCacheTests.AnswerA(DnsCacheTests.Query(name), ttl, addresses);

    [Fact]
    public void RecordsAddressesWithNameAndTtl()
    {
        var tracker = new IpTracker();
        tracker.Record(Answer("WWW.Example.com", 30, "198.51.100.1", "2001:db8::1"), T0);
        Assert.Equal(2, tracker.Count);
        Assert.True(tracker.Contains(IpAddr.Parse("198.51.100.1"), T0 + (29 * Second)));
        Assert.False(tracker.Contains(IpAddr.Parse("198.51.100.1"), T0 + (30 * Second)));
        Assert.True(tracker.TryGet(IpAddr.Parse("2001:db8::1"), T0, out TrackedAddress t));
        Assert.Equal(["www.example.com"], t.Names);
        Assert.Equal(T0 + (30 * Second), t.ExpiresTicks);
        Assert.False(tracker.Contains(IpAddr.Parse("198.51.100.2"), T0));
    }

    [Fact]
    public void OnlyAnswerSectionAddressesCount()
    {
        byte[] q = DnsCacheTests.Query("a.example");
        byte[] r = DnsCacheTests.Respond(q, DnsRcode.NoError, (ref DnsMessageWriter w) =>
        {
            Assert.True(w.TryWriteCname(DnsSection.Answer, "a.example", 60, "b.example"));
            Assert.True(w.TryWriteA(DnsSection.Answer, "b.example", 60, IpAddr.Parse("198.51.100.7")));
            Assert.True(w.TryWriteA(DnsSection.Additional, "ns.example", 60, IpAddr.Parse("198.51.100.8")));
        });
        var tracker = new IpTracker();
        tracker.Record(r, T0);
        Assert.Equal(1, tracker.Count);
        Assert.True(tracker.TryGet(IpAddr.Parse("198.51.100.7"), T0, out TrackedAddress t));
        Assert.Equal(["b.example"], t.Names);
    }

    [Fact]
    public void FloorCeilingAndFixed()
    {
        var floor = new IpTracker(new IpTrackerOptions { MinTtl = TimeSpan.FromSeconds(60) });
        floor.Record(Answer("f.example", 5, "198.51.100.1"), T0);
        Assert.True(floor.Contains(IpAddr.Parse("198.51.100.1"), T0 + (59 * Second)));
        Assert.False(floor.Contains(IpAddr.Parse("198.51.100.1"), T0 + (60 * Second)));

        var ceiling = new IpTracker(new IpTrackerOptions { MaxTtl = TimeSpan.FromSeconds(10) });
        ceiling.Record(Answer("c.example", 86400, "198.51.100.1"), T0);
        Assert.False(ceiling.Contains(IpAddr.Parse("198.51.100.1"), T0 + (10 * Second)));

        var fixedTtl = new IpTracker(IpTrackerOptions.Fixed());
        fixedTtl.Record(Answer("x.example", 1, "198.51.100.1"), T0);
        Assert.True(fixedTtl.Contains(IpAddr.Parse("198.51.100.1"), T0 + (299 * Second)));
        Assert.False(fixedTtl.Contains(IpAddr.Parse("198.51.100.1"), T0 + (300 * Second)));

        var zero = new IpTracker();
        zero.Record(Answer("z.example", 0, "198.51.100.1"), T0);
        Assert.Equal(0, zero.Count);
    }

    [Fact]
    public void CapPerNameDropsOldestAndRaisesEvent()
    {
        var tracker = new IpTracker(new IpTrackerOptions { MaxAddressesPerName = 2 });
        var events = new List<TrackedAddressRemovedEventArgs>();
        tracker.AddressRemoved += (_, e) => events.Add(e);
        tracker.Record(Answer("cap.example", 60, "198.51.100.1", "198.51.100.2"), T0);
        tracker.Record(Answer("other.example", 60, "198.51.100.2"), T0);
        tracker.Record(Answer("cap.example", 60, "198.51.100.3"), T0 + Second);
        Assert.False(tracker.Contains(IpAddr.Parse("198.51.100.1"), T0 + Second));
        Assert.Single(events);
        Assert.Equal(TrackedAddressRemovalReason.NameCapExceeded, events[0].Reason);
        Assert.Equal(IpAddr.Parse("198.51.100.1"), events[0].Address.Address);

        // .2 was held by two names; dropping it from cap.example leaves other.example.
        tracker.Record(Answer("cap.example", 60, "198.51.100.4"), T0 + Second);
        Assert.True(tracker.TryGet(IpAddr.Parse("198.51.100.2"), T0 + Second, out TrackedAddress t));
        Assert.Equal(["other.example"], t.Names);
        Assert.Single(events);
    }

    [Fact]
    public void SharedAddressKeepsAllNamesAndLatestExpiry()
    {
        var tracker = new IpTracker();
        tracker.Record(Answer("a.example", 10, "2001:db8::5"), T0);
        tracker.Record(Answer("b.example", 100, "2001:db8::5"), T0);
        tracker.Record(Answer("A.EXAMPLE", 20, "2001:db8::5"), T0);
        Assert.True(tracker.TryGet(IpAddr.Parse("2001:db8::5"), T0, out TrackedAddress t));
        Assert.Equal(["a.example", "b.example"], t.Names);
        Assert.Equal(T0 + (100 * Second), t.ExpiresTicks);
    }

    [Fact]
    public void SweepRemovesExpiredAndRaisesEvents()
    {
        var tracker = new IpTracker();
        var events = new List<TrackedAddressRemovedEventArgs>();
        tracker.AddressRemoved += (_, e) => events.Add(e);
        tracker.Record(Answer("s.example", 5, "198.51.100.1", "198.51.100.2"), T0);
        tracker.Record(Answer("t.example", 50, "2001:db8::9"), T0);
        Assert.Equal(0, tracker.Sweep(T0 + (4 * Second)));
        Assert.Equal(2, tracker.Sweep(T0 + (5 * Second)));
        Assert.Equal(1, tracker.Count);
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(TrackedAddressRemovalReason.Expired, e.Reason));

        // The name forgot its swept addresses: the cap counts only live ones.
        tracker.Record(Answer("s.example", 5, "198.51.100.3"), T0 + (6 * Second));
        Assert.True(tracker.Contains(IpAddr.Parse("198.51.100.3"), T0 + (6 * Second)));
    }

    [Fact]
    public void MalformedResponsesNeverThrow()
    {
        var tracker = new IpTracker();
        byte[] valid = Answer("m.example", 60, "198.51.100.1", "2001:db8::1");
        var rng = new Random(7);
        for (int i = 0; i < valid.Length; i++)
        {
            tracker.Record(valid.AsSpan(0, i), T0);
        }

        for (int i = 0; i < 3000; i++)
        {
            byte[] m = (byte[])valid.Clone();
            m[rng.Next(m.Length)] = (byte)rng.Next(256);
            tracker.Record(m, T0);
        }

        Assert.True(tracker.Count >= 0);
    }

    [Fact]
    public void ConcurrentRecordAndLookup()
    {
        var tracker = new IpTracker(new IpTrackerOptions { MaxAddressesPerName = 4 });
        byte[][] answers = Enumerable.Range(0, 64)
            .Select(i => Answer($"n{i % 8}.example", 60, $"198.51.100.{i}", $"2001:db8::{i:x}")).ToArray();
        Parallel.For(0, 6, t =>
        {
            var rng = new Random(t);
            for (int i = 0; i < 5_000; i++)
            {
                int k = rng.Next(answers.Length);
                if (t < 2)
                {
                    tracker.Record(answers[k], T0 + i);
                }
                else if (tracker.TryGet(IpAddr.Parse($"198.51.100.{k}"), T0, out TrackedAddress a))
                {
                    Assert.Equal($"n{k % 8}.example", Assert.Single(a.Names));
                }
            }
        });

        // 8 names × 4 addresses each at most.
        Assert.True(tracker.Count <= 32);
    }

    [Fact]
    public void MeasuresBytesPerEntry()
    {
        const int N = 1_000_000;
        var tracker = new IpTracker();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var buffer = new byte[4096];
        for (int i = 0; i < N / 16; i++)
        {
            var w = new DnsMessageWriter(buffer);
            Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
            string name = $"h{i}.example";
            for (int j = 0; j < 16; j++)
            {
                Assert.True(w.TryWriteA(DnsSection.Answer, name, 300, IpAddr.FromV4((uint)((i * 16) + j + 0x0A000000))));
            }

            Assert.True(w.TryFinish(out int n));
            tracker.Record(buffer.AsSpan(0, n), T0);
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perEntry = (after - before) / (double)N;
        TestContext.Current.SendDiagnosticMessage($"IpTracker: {perEntry:F0} B per address (16 per name)");
        Console.WriteLine($"IpTracker: {perEntry:F0} B per address (16 per name)");
        Assert.Equal(N, tracker.Count);
        GC.KeepAlive(tracker);
    }
}
