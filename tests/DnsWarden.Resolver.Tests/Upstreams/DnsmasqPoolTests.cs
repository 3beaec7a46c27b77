using DnsWarden.Policy;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>The pool over real upstreams: dnsmasq and closed loopback ports.</summary>
[Collection(UpstreamServersCollection.Name)]
public sealed class DnsmasqPoolTests(UpstreamServers servers)
{
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task FailoverFromAClosedPortToDnsmasq()
    {
        await servers.EnsureDnsmasqAsync();
        IDnsUpstream closed = UpstreamFactory.Create(TestDns.Config($"tcp://127.0.0.1:{FreePort.Get()}"), TestDns.Timeout);
        IDnsUpstream dnsmasq = UpstreamFactory.Create(TestDns.Config($"udp://127.0.0.1:{servers.DnsmasqPort}"), TestDns.Timeout);
        await using var pool = new UpstreamPool([closed, dnsmasq], UpstreamStrategy.Failover, TestDns.Timeout);
        var response = new byte[512];

        PoolReply reply = await pool.QueryAsync(TestDns.Query("f.a.test", id: 0x0F0F), response, _ct);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Same(dnsmasq, reply.Upstream);
        Assert.Equal(0x0F0F, TestDns.Id(response));
        Assert.Equal([UpstreamServers.DnsmasqAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        Assert.Equal(1, closed.Stats.Failures(UpstreamError.ConnectionRefused));
        Assert.Equal(1, pool.Health[0].ConsecutiveFailures);
        Assert.Equal(0, pool.Health[1].ConsecutiveFailures);
    }

    [Fact]
    public async Task AllClosedGivesTheFailure()
    {
        IDnsUpstream a = UpstreamFactory.Create(TestDns.Config($"udp://127.0.0.1:{FreePort.Get()}"), TestDns.Timeout);
        IDnsUpstream b = UpstreamFactory.Create(TestDns.Config($"tcp://127.0.0.1:{FreePort.Get()}"), TestDns.Timeout);
        await using var pool = new UpstreamPool([a, b], UpstreamStrategy.Race, TestDns.Timeout);

        PoolReply reply = await pool.QueryAsync(TestDns.Query("a.test"), new byte[512], _ct);

        Assert.Equal(UpstreamError.ConnectionRefused, reply.Error);
        Assert.Null(reply.Upstream);
    }

    [Fact]
    public async Task AThousandConcurrentQueriesAreAllAnswered()
    {
        await servers.EnsureDnsmasqAsync();

        // What is tested is that a thousand queries in flight at once each get their own answer, not how fast: a
        // machine busy with other work may take seconds to let dnsmasq read its burst (it retransmits within the
        // timeout), and a query that timed out over UDP would fail over to TCP, where dnsmasq serves 20 at a time.
        TimeSpan patient = TimeSpan.FromSeconds(60);
        IDnsUpstream udp = UpstreamFactory.Create(TestDns.Config($"udp://127.0.0.1:{servers.DnsmasqPort}"), patient);
        IDnsUpstream tcp = UpstreamFactory.Create(TestDns.Config($"tcp://127.0.0.1:{servers.DnsmasqPort}"), patient);
        await using var pool = new UpstreamPool([udp, tcp], UpstreamStrategy.Failover, patient);

        PoolReply[] replies = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(async () =>
        {
            var response = new byte[512];
            PoolReply reply = await pool.QueryAsync(TestDns.Query($"c{i}.a.test", id: (ushort)(i * 31)), response, _ct);
            Assert.Equal(UpstreamError.None, reply.Error);
            Assert.Equal((ushort)(i * 31), TestDns.Id(response));
            Assert.Equal($"c{i}.a.test", TestDns.QuestionName(response.AsSpan(0, reply.Length)));
            Assert.Equal([UpstreamServers.DnsmasqAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
            return reply;
        }, _ct)));

        Assert.Equal(1000, replies.Count(r => r.Ok));
        Assert.Equal(1000, udp.Stats.Answers + tcp.Stats.Answers);
    }
}
