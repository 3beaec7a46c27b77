using System.Text;
using System.Text.Json;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;

namespace DnsWarden.Leak.Tests.Report;

public sealed class LeakSummaryTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static LeakEvent Ev(
        double seconds, LeakType? type = LeakType.A, Severity severity = Severity.P1, string dst = "192.168.1.1:53", string? process = null, string transport = "udp53") => new()
        {
            Kind = type is null ? "exfiltration" : "leak",
            Timestamp = s_t0.AddSeconds(seconds),
            LeakType = type,
            Severity = severity,
            Transport = transport,
            Confidence = Confidence.High,
            Interface = "eth0",
            RouteClass = "physical",
            Destination = dst,
            Process = process is null ? null : new ProcessInfo(1, process, null, null, null, []),
            Attribution = Attribution.FromFile,
            Evidence = ["x"],
        };

    private static LeakSummary Of(params LeakEvent[] events)
    {
        var s = new LeakSummary();
        foreach (LeakEvent e in events)
        {
            s.Add(e);
        }

        return s;
    }

    [Fact]
    public void Empty_HasZeroCounts_NoTimeline()
    {
        var s = new LeakSummary();
        Assert.Equal(0, s.Events);
        Assert.All(s.ByType.Values, v => Assert.Equal(0, v));
        Assert.Equal(["A", "B", "C", "D", "exfiltration"], s.ByType.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["P0", "P1", "P2", "P3"], s.BySeverity.Keys.Order(StringComparer.Ordinal));
        Assert.Null(s.First);
        Assert.Empty(s.Timeline());
        Assert.Empty(s.Bursts());
        Assert.Equal(1, s.BucketSeconds);
    }

    [Fact]
    public void TimelineBuckets_CountEachType()
    {
        LeakSummary s = Of(Ev(0, LeakType.A), Ev(0.5, LeakType.C), Ev(0.7, LeakType.A), Ev(3, null), Ev(3.2, LeakType.D));
        IReadOnlyList<TimelineBucket> buckets = s.Timeline();
        Assert.Equal(2, buckets.Count);
        Assert.Equal(new Dictionary<string, int> { ["A"] = 2, ["C"] = 1 }, buckets[0].ByType);
        Assert.Equal(new Dictionary<string, int> { ["exfiltration"] = 1, ["D"] = 1 }, buckets[1].ByType);
        Assert.All(buckets, b => Assert.Equal(b.Events, b.ByType.Values.Sum()));
    }

    [Fact]
    public void Paths_ProcessInterfaceResolver_MostFirst_UnattributedNamedAsSuch()
    {
        LeakSummary s = Of(
            Ev(0, process: "curl", dst: "198.51.100.53:53"),
            Ev(1, process: "curl", dst: "198.51.100.53:53"),
            Ev(2, process: "firefox", dst: "203.0.113.53:443"),
            Ev(3, dst: "198.51.100.53:53"));
        Assert.Equal(
            [
                new LeakPath("curl", "eth0", "198.51.100.53:53", 2),
                new LeakPath("(no process)", "eth0", "198.51.100.53:53", 1),
                new LeakPath("firefox", "eth0", "203.0.113.53:443", 1),
            ],
            s.Paths);
        Assert.Equal(new Dictionary<string, int> { ["eth0"] = 4 }, s.ByInterface);
    }

    [Fact]
    public void Paths_AreBounded_LaterNewOnesCountedTogether()
    {
        var s = new LeakSummary();
        for (int i = 0; i < LeakSummary.MaxPaths + 50; i++)
        {
            s.Add(Ev(i, process: "p" + i));
        }

        s.Add(Ev(0, process: "p0"));
        Assert.Equal(LeakSummary.MaxPaths + 1, s.Paths.Count);
        Assert.Equal(50, Assert.Single(s.Paths, p => p.Process == LeakSummary.OtherPaths).Events);
        Assert.Equal(2, Assert.Single(s.Paths, p => p.Process == "p0").Events);
        Assert.Equal(s.Events, s.Paths.Sum(p => p.Events));
    }

    [Fact]
    public void CountsByTypeSeverityAndTransport()
    {
        LeakSummary s = Of(
            Ev(0, LeakType.A, Severity.P1),
            Ev(1, LeakType.A, Severity.P2),
            Ev(2, LeakType.B, Severity.P0),
            Ev(3, LeakType.C, Severity.P3, transport: "doh"),
            Ev(4, LeakType.D, Severity.P2),
            Ev(5, null, Severity.P1));

        Assert.Equal(6, s.Events);
        Assert.Equal(2, s.ByType["A"]);
        Assert.Equal(1, s.ByType["B"]);
        Assert.Equal(1, s.ByType["C"]);
        Assert.Equal(1, s.ByType["D"]);
        Assert.Equal(1, s.ByType["exfiltration"]);
        Assert.Equal(1, s.BySeverity["P0"]);
        Assert.Equal(2, s.BySeverity["P1"]);
        Assert.Equal(2, s.BySeverity["P2"]);
        Assert.Equal(1, s.BySeverity["P3"]);
        Assert.Equal(5, s.ByTransport["udp53"]);
        Assert.Equal(1, s.ByTransport["doh"]);
        Assert.Equal(s_t0, s.First);
        Assert.Equal(s_t0.AddSeconds(5), s.Last);
    }

    [Fact]
    public void FirstAndLast_AreTheExtremes_WhateverTheOrder()
    {
        LeakSummary s = Of(Ev(50), Ev(10), Ev(90), Ev(20));
        Assert.Equal(s_t0.AddSeconds(10), s.First);
        Assert.Equal(s_t0.AddSeconds(90), s.Last);
    }

    [Fact]
    public void TopLists_OrderByCountThenName_AndStopAtTen()
    {
        var events = new List<LeakEvent>();
        foreach ((string name, int n) in new[] { ("b", 3), ("a", 3), ("c", 5), ("d", 1) })
        {
            for (int i = 0; i < n; i++)
            {
                events.Add(Ev(i, process: name, dst: "10.0.0." + name.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":53"));
            }
        }

        for (int i = 0; i < 12; i++)
        {
            events.Add(Ev(i, dst: $"198.51.100.{i}:53"));
        }

        events.Add(Ev(0, dst: "198.51.100.11:53"));
        LeakSummary s = Of([.. events]);

        // The 13 events without a process are counted too, under their own name.
        Assert.Equal([new(LeakSummary.Unattributed, 13), new("c", 5), new("a", 3), new("b", 3), new KeyValuePair<string, int>("d", 1)], s.TopProcesses);
        Assert.Equal(13, s.UnattributedEvents);
        Assert.Equal(10, s.TopDestinations.Count);
        Assert.Equal(new KeyValuePair<string, int>("10.0.0.1:53", 12), s.TopDestinations[0]);
        Assert.Equal(new KeyValuePair<string, int>("198.51.100.11:53", 2), s.TopDestinations[1]);
        // Ties in ordinal order: '0' sorts before ':', so .10:53 comes before .1:53.
        Assert.Equal(["198.51.100.0:53", "198.51.100.10:53", "198.51.100.1:53", "198.51.100.2:53"], s.TopDestinations.Skip(2).Take(4).Select(kv => kv.Key));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(29, 1)]
    [InlineData(29.9, 1)]
    [InlineData(30, 5)]
    [InlineData(149, 5)]
    [InlineData(150, 10)]
    [InlineData(299, 10)]
    [InlineData(300, 30)]
    [InlineData(1799, 60)]
    [InlineData(1800, 300)]
    [InlineData(3 * 3600, 600)]
    [InlineData(86400, 3600)]
    [InlineData(10 * 86400, 86400)]
    [InlineData(400 * 86400, 86400)]
    public void BucketWidth_IsTheSmallestGivingUnder30Buckets(double span, int expected) =>
        Assert.Equal(expected, Of(Ev(0), Ev(span)).BucketSeconds);

    [Fact]
    public void Timeline_CountsPerBucket_FromAFlooredStart()
    {
        // 2026-11-24T12:00:03Z .. +60 s: width 5, start floored to 12:00:00.
        LeakSummary s = Of(Ev(3), Ev(4), Ev(5), Ev(63), Ev(4.5));
        Assert.Equal(5, s.BucketSeconds);
        IReadOnlyList<TimelineBucket> t = s.Timeline();
        Assert.Equal([(s_t0, 3), (s_t0.AddSeconds(5), 1), (s_t0.AddSeconds(60), 1)], t.Select(b => (b.Start, b.Events)));
    }

    [Fact]
    public void Burst_IsABucketOfAtLeast5_AndThreeTimesTheMedian()
    {
        var events = new List<LeakEvent>();
        for (int i = 0; i < 20; i++)
        {
            events.Add(Ev(i * 10));
        }

        for (int i = 0; i < 6; i++)
        {
            events.Add(Ev(51 + i, LeakType.C, dst: "9.9.9.9:853"));
        }

        LeakSummary s = Of([.. events]);
        Assert.Equal(10, s.BucketSeconds);
        BurstHint hint = Assert.Single(s.Bursts());
        Assert.Equal(s_t0.AddSeconds(50), hint.Start);
        Assert.Equal(10, hint.Seconds);
        Assert.Equal(7, hint.Events);
        Assert.Equal("7 events in 10 s, mostly Leak-C to 9.9.9.9:853 (6)", hint.Hint);
    }

    [Fact]
    public void Burst_BelowFiveEvents_IsNoHint()
    {
        var events = new List<LeakEvent>();
        for (int i = 0; i < 20; i++)
        {
            events.Add(Ev(i * 10));
        }

        events.AddRange([Ev(51), Ev(52), Ev(53)]);
        Assert.Empty(Of([.. events]).Bursts());
    }

    [Fact]
    public void Burst_UnderThreeTimesTheMedian_IsNoHint()
    {
        var events = new List<LeakEvent>();
        for (int i = 0; i < 20; i++)
        {
            events.Add(Ev(i * 10));
            events.Add(Ev((i * 10) + 1));
        }

        // Median 2; a bucket of 5 is under 6.
        events.AddRange([Ev(52), Ev(53), Ev(54)]);
        Assert.Empty(Of([.. events]).Bursts());
    }

    [Fact]
    public void SingleBucket_OfFive_IsABurst_TiesNamedInOrdinalOrder()
    {
        LeakSummary s = Of(Ev(0, dst: "b:53"), Ev(0.1, dst: "a:53"), Ev(0.2, dst: "b:53"), Ev(0.3, dst: "a:53"), Ev(0.4, LeakType.D, dst: "c:443"));
        BurstHint hint = Assert.Single(s.Bursts());
        Assert.Equal("5 events in 1 s, mostly Leak-A to a:53 (2)", hint.Hint);
        Assert.Empty(Of(Ev(0), Ev(0.1), Ev(0.2), Ev(0.3)).Bursts());
    }

    [Fact]
    public void Json_ParsesBack_WithEveryCount()
    {
        LeakSummary s = Of(Ev(0, process: "curl"), Ev(0.5, LeakType.C, Severity.P3, "1.1.1.1:443", transport: "doh"), Ev(1, null), Ev(0.6), Ev(0.7), Ev(0.8));
        var capture = new CaptureTotals(100, 40, 3, 1, 2, new Dictionary<string, long> { ["dns:Truncated"] = 2, ["frame:BadIhl"] = 1 }, [("eth0", 5, 1)]);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, LeakEventJson.WriterOptions))
        {
            s.WriteJson(w, "profile full-tunnel", "redacted", capture);
        }

        string line = Encoding.UTF8.GetString(stream.ToArray());
        Assert.False(LeakEventJson.TryParse(line, out _, out bool isSummary, out _));
        Assert.True(isSummary);

        using JsonDocument doc = JsonDocument.Parse(line);
        JsonElement r = doc.RootElement;
        Assert.Equal("summary", r.GetProperty("event").GetString());
        Assert.Equal("profile full-tunnel", r.GetProperty("policy").GetString());
        Assert.Equal("redacted", r.GetProperty("privacy").GetString());
        Assert.Equal(100, r.GetProperty("frames").GetInt64());
        Assert.Equal(2, r.GetProperty("flows_dropped").GetInt64());
        Assert.Equal(6, r.GetProperty("events").GetInt32());
        Assert.Equal(4, r.GetProperty("by_type").GetProperty("A").GetInt32());
        Assert.Equal(1, r.GetProperty("by_type").GetProperty("exfiltration").GetInt32());
        Assert.Equal(1, r.GetProperty("by_severity").GetProperty("P3").GetInt32());
        Assert.Equal(1, r.GetProperty("by_transport").GetProperty("doh").GetInt32());
        Assert.Contains(r.GetProperty("top_processes").EnumerateArray(), p => p.GetProperty("name").GetString() == "curl");
        Assert.Equal(
            r.GetProperty("unattributed").GetInt32(),
            r.GetProperty("top_processes").EnumerateArray().Single(p => p.GetProperty("name").GetString() == LeakSummary.Unattributed).GetProperty("events").GetInt32());
        Assert.Equal("192.168.1.1:53", r.GetProperty("top_destinations")[0].GetProperty("destination").GetString());
        Assert.Equal(5, r.GetProperty("top_destinations")[0].GetProperty("events").GetInt32());
        JsonElement timeline = r.GetProperty("timeline");
        Assert.Equal("2026-11-24T12:00:00.000000Z", timeline.GetProperty("first").GetString());
        Assert.Equal("2026-11-24T12:00:01.000000Z", timeline.GetProperty("last").GetString());
        Assert.Equal(1, timeline.GetProperty("bucket_seconds").GetInt32());
        Assert.Equal(2, timeline.GetProperty("buckets").GetArrayLength());
        Assert.Equal(5, timeline.GetProperty("buckets")[0].GetProperty("events").GetInt32());
        Assert.Equal(0, r.GetProperty("bursts").GetArrayLength()); // median of [1, 5] is 5: not a burst
        Assert.Equal(3, r.GetProperty("malformed_total").GetInt64());
        Assert.Equal(2, r.GetProperty("malformed").GetProperty("dns:Truncated").GetInt64());
        Assert.Equal("eth0", r.GetProperty("drops")[0].GetProperty("iface").GetString());
        Assert.Equal(5, r.GetProperty("drops")[0].GetProperty("kernel").GetInt64());
    }

    [Fact]
    public void Json_FromAReport_LeavesCaptureFiguresOut()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            new LeakSummary().WriteJson(w, policy: null, privacy: null, capture: null);
        }

        using JsonDocument doc = JsonDocument.Parse(stream.ToArray());
        JsonElement r = doc.RootElement;
        Assert.False(r.TryGetProperty("frames", out _));
        Assert.False(r.TryGetProperty("malformed", out _));
        Assert.False(r.TryGetProperty("policy", out _));
        Assert.False(r.GetProperty("timeline").TryGetProperty("first", out _));
        Assert.Equal(0, r.GetProperty("events").GetInt32());
    }
}
