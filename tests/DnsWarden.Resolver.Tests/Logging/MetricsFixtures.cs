using System.Diagnostics;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Logging;

/// <summary>A fixed set of counters behind a <see cref="MetricsSnapshotSource"/>, for golden text.</summary>
internal static class MetricsFixtures
{
    public static long Ticks(long microseconds) => microseconds * Stopwatch.Frequency / 1_000_000;

    public static FakeUpstream Upstream(string url)
    {
        Assert.True(UpstreamConfig.TryParse(url, out UpstreamConfig? config, out string? error), error);
        return new FakeUpstream(config);
    }

    public static (MetricsSnapshotSource Source, ResolverMetrics Metrics) Build()
    {
        var metrics = new ResolverMetrics();
        metrics.Record(ListenerProtocol.Udp, QueryOutcome.Forwarded, 80);
        metrics.Record(ListenerProtocol.Udp, QueryOutcome.Forwarded, 1_200);
        metrics.Record(ListenerProtocol.Udp, QueryOutcome.Cached, 100);
        metrics.Record(ListenerProtocol.Tcp, QueryOutcome.BlockedExfiltration, 3_000_000);
        metrics.EnterQuery();
        metrics.EnterQuery();
        metrics.LeaveQuery();
        metrics.RecordQueryLogDropped();

        FakeUpstream a = Upstream("udp://198.51.100.53");
        a.Stats.RecordQuery();
        a.Stats.RecordQuery();
        a.Stats.RecordQuery();
        a.Stats.RecordAnswer(Ticks(900));
        a.Stats.RecordAnswer(Ticks(30_000));
        a.Stats.RecordFailure(UpstreamError.Timeout);
        a.Stats.RecordTruncatedRetry();
        FakeUpstream b = Upstream("https://dns.example@198.51.100.54/dns-query");
        b.Stats.RecordQuery();
        b.Stats.RecordFailure(UpstreamError.PinMismatch);

        var cache = new DnsCacheStatistics(Hits: 3, Misses: 1, Inserts: 2, Evictions: 0, Expirations: 1, Entries: 1, Bytes: 420);
        var source = new MetricsSnapshotSource(
            metrics,
            cache: () => cache,
            trackerCount: () => 7,
            upstreams: () => [a, b],
            isUp: u => u == a);
        return (source, metrics);
    }

    internal sealed class FakeUpstream(UpstreamConfig config) : IDnsUpstream
    {
        public UpstreamConfig Config { get; } = config;

        public UpstreamStats Stats { get; } = new();

        public ValueTask<UpstreamReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken) =>
            ValueTask.FromResult(UpstreamReply.Fail(UpstreamError.Unavailable));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
