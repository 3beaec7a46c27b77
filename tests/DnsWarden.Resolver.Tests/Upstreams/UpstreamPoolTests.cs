using System.Diagnostics;
using DnsWarden.Policy;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>Strategy and health with in-memory upstreams (deterministic, no network).</summary>
public sealed class UpstreamPoolTests
{
    private static readonly TimeSpan Attempt = TimeSpan.FromSeconds(2);
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    private async Task<PoolReply> AskAsync(UpstreamPool pool, byte[]? response = null) =>
        await pool.QueryAsync(TestDns.Query("pool.test", id: 0x7777), response ?? new byte[512], _ct);

    [Fact]
    public async Task RaceReturnsTheFasterAndCancelsTheOther()
    {
        var slow = new FakeUpstream("udp://10.0.0.1") { Delay = TimeSpan.FromSeconds(5) };
        var fast = new FakeUpstream("udp://10.0.0.2") { Delay = TimeSpan.FromMilliseconds(20) };
        await using var pool = new UpstreamPool([slow, fast], UpstreamStrategy.Race, Attempt);
        var response = new byte[512];
        var clock = Stopwatch.StartNew();

        PoolReply reply = await AskAsync(pool, response);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Same(fast, reply.Upstream);
        Assert.Equal(0x7777, TestDns.Id(response));
        Assert.Equal(["10.3.3.3"], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        Assert.Equal(1, slow.Cancellations);

        // The loser was cancelled, not failed: its health is untouched.
        Assert.Equal(0, pool.Health[0].ConsecutiveFailures);
    }

    [Fact]
    public async Task RaceFailsOverToTheRestWhenBothFail()
    {
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.ConnectionRefused };
        var b = new FakeUpstream("udp://10.0.0.2") { Error = UpstreamError.TlsFailure };
        var c = new FakeUpstream("udp://10.0.0.3");
        await using var pool = new UpstreamPool([a, b, c], UpstreamStrategy.Race, Attempt);

        PoolReply reply = await AskAsync(pool);

        Assert.Same(c, reply.Upstream);
        Assert.Equal([1, 1, 1], new[] { a.Calls, b.Calls, c.Calls });
        Assert.Equal([1, 1, 0], pool.Health.Select(h => h.ConsecutiveFailures));
    }

    [Fact]
    public async Task AllFailingIsAFailureReplyNotAnException()
    {
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.ConnectionRefused };
        var b = new FakeUpstream("udp://10.0.0.2") { Error = UpstreamError.Timeout };
        await using var pool = new UpstreamPool([a, b], UpstreamStrategy.Failover, Attempt);

        PoolReply reply = await AskAsync(pool);

        Assert.False(reply.Ok);
        Assert.Null(reply.Upstream);
        Assert.Equal(UpstreamError.Timeout, reply.Error);
        Assert.Equal(0, reply.Length);
    }

    [Fact]
    public async Task AttemptTimeoutMovesOnToTheNext()
    {
        var hung = new FakeUpstream("udp://10.0.0.1") { Delay = TimeSpan.FromSeconds(30) };
        var good = new FakeUpstream("udp://10.0.0.2");
        await using var pool = new UpstreamPool([hung, good], UpstreamStrategy.Failover, TimeSpan.FromMilliseconds(200));

        PoolReply reply = await AskAsync(pool);

        Assert.Same(good, reply.Upstream);
        Assert.Equal(1, pool.Health[0].ConsecutiveFailures);
    }

    [Fact]
    public async Task DownUpstreamsAreSkippedForADoublingBackoff()
    {
        var time = new ManualTime();
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.ConnectionRefused };
        var b = new FakeUpstream("udp://10.0.0.2") { Error = UpstreamError.ConnectionRefused };
        await using var pool = new UpstreamPool([a, b], UpstreamStrategy.Failover, Attempt, time);

        for (int i = 0; i < UpstreamPool.FailuresBeforeDown; i++)
        {
            Assert.False((await AskAsync(pool)).Ok);
        }

        Assert.All(pool.Health, h => Assert.False(h.Up));

        // Everything down: all are tried anyway rather than giving up untried.
        Assert.Equal(UpstreamError.ConnectionRefused, (await AskAsync(pool)).Error);
        Assert.Equal((4, 4), (a.Calls, b.Calls));

        // After the first back-off (1 s) both are probed again; a fails its probe, so its back-off doubles to 2 s.
        time.Advance(TimeSpan.FromSeconds(1.1));
        b.Error = UpstreamError.None;
        Assert.Same(b, (await AskAsync(pool)).Upstream);
        Assert.Equal((5, 5), (a.Calls, b.Calls));
        Assert.False(pool.Health[0].Up);
        Assert.True(pool.Health[1].Up);
        Assert.Equal(0, pool.Health[1].ConsecutiveFailures);

        time.Advance(TimeSpan.FromSeconds(1.1));
        a.Error = UpstreamError.None;
        b.Error = UpstreamError.Timeout;
        Assert.Equal(UpstreamError.Timeout, (await AskAsync(pool)).Error);
        Assert.Equal(5, a.Calls);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pool.Health[0].Up);
        Assert.Same(a, (await AskAsync(pool)).Upstream);
        Assert.Equal(0, pool.Health[0].ConsecutiveFailures);
    }

    [Fact]
    public async Task BackoffStopsAtThirtySeconds()
    {
        var time = new ManualTime();
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.NetworkError };
        await using var pool = new UpstreamPool([a], UpstreamStrategy.Failover, Attempt, time);
        for (int i = 0; i < UpstreamPool.FailuresBeforeDown; i++)
        {
            await AskAsync(pool);
        }

        // Each failed probe after a back-off doubles it: 2, 4, 8, 16, 30, 30, ...
        for (int probe = 0; probe < 8; probe++)
        {
            time.Advance(UpstreamPool.MaxBackoff);
            Assert.True(pool.Health[0].Up);
            await AskAsync(pool);
            Assert.False(pool.Health[0].Up);
        }

        time.Advance(UpstreamPool.MaxBackoff - TimeSpan.FromSeconds(1));
        Assert.False(pool.Health[0].Up);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(pool.Health[0].Up);
    }

    [Fact]
    public async Task RefusedIsPassedOnButIsNotASuccess()
    {
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.NetworkError };
        await using var pool = new UpstreamPool([a], UpstreamStrategy.Failover, Attempt);
        await AskAsync(pool);
        await AskAsync(pool);
        Assert.Equal(2, pool.Health[0].ConsecutiveFailures);

        a.Error = UpstreamError.None;
        a.Rcode = DnsRcode.Refused;
        var response = new byte[512];
        PoolReply refused = await AskAsync(pool, response);

        Assert.True(refused.Ok);
        Assert.Same(a, refused.Upstream);
        Assert.Equal(DnsRcode.Refused, TestDns.Rcode(response));
        Assert.Equal(2, pool.Health[0].ConsecutiveFailures);
        Assert.Equal(0, pool.Health[0].EwmaMilliseconds);

        a.Rcode = DnsRcode.ServFail;
        Assert.True((await AskAsync(pool)).Ok);
        Assert.Equal(2, pool.Health[0].ConsecutiveFailures);

        a.Rcode = DnsRcode.NoError;
        Assert.True((await AskAsync(pool)).Ok);
        Assert.Equal(0, pool.Health[0].ConsecutiveFailures);
    }

    [Fact]
    public async Task MeasuredUpstreamsGoBeforeUnmeasuredOnesAndFastBeforeSlow()
    {
        var a = new FakeUpstream("udp://10.0.0.1") { Error = UpstreamError.NetworkError };
        var b = new FakeUpstream("udp://10.0.0.2");
        await using var pool = new UpstreamPool([a, b], UpstreamStrategy.Failover, Attempt);

        Assert.Same(b, (await AskAsync(pool)).Upstream);
        a.Error = UpstreamError.None;

        // a is up again (one failure is not down) but b has a latency and a has none: b stays first.
        Assert.Same(b, (await AskAsync(pool)).Upstream);
        Assert.Equal(1, a.Calls);
        Assert.True(pool.Health[1].EwmaMilliseconds > 0);
        Assert.Equal(["udp://10.0.0.1", "udp://10.0.0.2"], pool.Health.Select(h => h.Url));
    }

    [Fact]
    public async Task CallerCancellationIsAReplyNotAnException()
    {
        var hung = new FakeUpstream("udp://10.0.0.1") { Delay = TimeSpan.FromSeconds(30) };
        await using var pool = new UpstreamPool([hung], UpstreamStrategy.Race, TimeSpan.FromSeconds(30));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        PoolReply reply = await pool.QueryAsync(TestDns.Query("pool.test"), new byte[512], cancel.Token);

        Assert.Equal(UpstreamError.Canceled, reply.Error);
        Assert.Equal(0, pool.Health[0].ConsecutiveFailures);
    }
}
