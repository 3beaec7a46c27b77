using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tests.Upstreams;

namespace DnsWarden.Resolver.Tests.Logging;

/// <summary>
/// The query log under a flood: repeats folded into one line with a count, a byte budget with a log_suppressed line
/// for what it left out, and the defaults holding a flood to a few megabytes a minute. Time is a manual clock.
/// </summary>
public sealed class QueryLogLimitsTests
{
    private static readonly DateTimeOffset s_start = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static QueryLogEntry Entry(int i, string client = "10.1.2.3:40112", string name = "a.example.com", string type = "A", QueryOutcome outcome = QueryOutcome.Sinkholed, double seconds = 0) =>
        QueryLogJsonTests.FullEntry(i) with
        {
            Timestamp = s_start.AddSeconds(seconds),
            Client = client,
            QName = name,
            QType = type,
            Outcome = outcome,
        };

    private static JsonElement[] Lines(MemoryStream target) =>
        [.. Encoding.UTF8.GetString(target.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    [Fact]
    public async Task RepeatsWithinTheWindowBecomeOneLineWithACount()
    {
        var target = new MemoryStream();
        var time = new ManualTime();
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, new ResolverMetrics(), leaveOpen: true, time: time);

        // 500 repeats within 0.9 s, from one client on many source ports; then one 2 s later.
        for (int i = 0; i < 500; i++)
        {
            log.Write(Entry(i, client: $"10.1.2.3:{40000 + i}", seconds: i * 0.0018));
        }

        log.Write(Entry(500, seconds: 2));
        await log.DisposeAsync();

        JsonElement[] lines = Lines(target);
        Assert.Equal(3, lines.Length);
        Assert.False(lines[0].TryGetProperty("count", out _));
        Assert.Equal(499, lines[1].GetProperty("count").GetInt32());
        Assert.Equal(1_503 + 499, lines[1].GetProperty("elapsed_us").GetInt64()); // the last of the series
        Assert.False(lines[2].TryGetProperty("count", out _));
        Assert.Equal(3, log.Written);
    }

    [Fact]
    public async Task AnotherClientNameTypeOrVerdictIsAnotherSeries()
    {
        var target = new MemoryStream();
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, new ResolverMetrics(), leaveOpen: true, time: new ManualTime());
        for (int round = 0; round < 3; round++)
        {
            log.Write(Entry(0));
            log.Write(Entry(1, client: "10.1.2.4:40112"));
            log.Write(Entry(2, client: "[fd00::4]:40112"));
            log.Write(Entry(3, name: "b.example.com"));
            log.Write(Entry(4, type: "AAAA"));
            log.Write(Entry(5, outcome: QueryOutcome.Blocked));
        }

        await log.DisposeAsync();
        JsonElement[] lines = Lines(target);
        Assert.Equal(12, lines.Length);
        Assert.Equal(6, lines.Count(l => l.TryGetProperty("count", out JsonElement c) && c.GetInt32() == 2));
    }

    [Fact]
    public async Task BeyondTheBudgetLinesAreLeftOutAndCountedInALogSuppressedLine()
    {
        var target = new MemoryStream();
        var metrics = new ResolverMetrics();
        var limits = new QueryLogLimits { BytesPerMinute = 16 * 1024, AggregationWindow = TimeSpan.Zero };
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, metrics, leaveOpen: true, limits: limits, time: new ManualTime());
        for (int i = 0; i < 1000; i++)
        {
            log.Write(Entry(i, name: $"n{i}.example.com"));
        }

        await log.DisposeAsync();
        JsonElement[] lines = Lines(target);
        JsonElement report = lines[^1];
        Assert.Equal("log_suppressed", report.GetProperty("event").GetString());
        int queryLines = lines.Length - 1;
        Assert.True(target.Length <= limits.BurstBytes + 200, $"{target.Length} bytes");
        Assert.Equal(1000 - queryLines, report.GetProperty("suppressed").GetInt64());
        Assert.Equal(1000 - queryLines, log.Suppressed);
        Assert.Equal(1000 - queryLines, metrics.QueryLogDropped);
        Assert.Equal("n0.example.com", lines[0].GetProperty("qname").GetString()); // the first lines, not the last, get through
    }

    [Fact]
    public async Task WhileSuppressingTheCountIsReportedPeriodicallyNotOnlyAtTheEnd()
    {
        var target = new MemoryStream();
        var time = new ManualTime();
        var limits = new QueryLogLimits { BytesPerMinute = 16 * 1024, AggregationWindow = TimeSpan.Zero };
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, new ResolverMetrics(), leaveOpen: true, limits: limits, time: time);
        for (int i = 0; i < 200; i++)
        {
            log.Write(Entry(i, name: $"n{i}.example.com"));
        }

        while (log.Written + log.Suppressed < 200)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        long suppressed = log.Suppressed;
        Assert.True(suppressed > 0);
        time.Advance(limits.SuppressionReportInterval + TimeSpan.FromSeconds(1));
        long before = log.Written;
        log.Write(Entry(200, name: "late.example.com"));
        while (log.Written < before + 2)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        string text = Encoding.UTF8.GetString(target.ToArray());
        Assert.Contains($"\"event\":\"log_suppressed\",\"suppressed\":{suppressed}", text, StringComparison.Ordinal);
        Assert.Contains("late.example.com", text, StringComparison.Ordinal); // the budget refilled meanwhile
        await log.DisposeAsync();
    }

    [Fact]
    public async Task TheDefaultsHoldAMinuteOfFloodToAFewMegabytes()
    {
        var target = new MemoryStream();
        var time = new ManualTime();
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, new ResolverMetrics(), leaveOpen: true, time: time);

        // 100,000 distinct names spread over one minute of the log's clock, as fast as the queue takes them.
        for (int i = 0; i < 100_000; i++)
        {
            log.Write(Entry(i, name: $"flood{i}.example.com", seconds: i * 0.0006));
            if (i % 10_000 == 9_999)
            {
                while (log.Written + log.Suppressed < i + 1)
                {
                    await Task.Delay(1, TestContext.Current.CancellationToken);
                }

                time.Advance(TimeSpan.FromSeconds(6));
            }
        }

        await log.DisposeAsync();
        long cap = QueryLogLimits.Default.BurstBytes + QueryLogLimits.Default.BytesPerMinute + 4096;
        Assert.True(target.Length <= cap, $"{target.Length} bytes > {cap}");
        Assert.True(log.Suppressed > 50_000, $"{log.Suppressed} suppressed");
        Assert.Contains("\"event\":\"log_suppressed\"", Encoding.UTF8.GetString(target.ToArray()), StringComparison.Ordinal);
    }
}
