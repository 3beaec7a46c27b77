using System.Net;
using System.Net.Sockets;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>
/// Forwarded queries waiting on an upstream are capped per listener and over the engine: beyond the cap a query is
/// answered SERVFAIL at once (outcome overloaded) and nothing is held for it; once the upstream answers, places free up.
/// </summary>
public sealed class InFlightLimitTests
{
    [Fact]
    public async Task BeyondTheEnginesLimitAQueryGetsServFailAtOnce()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = new GatedForwarder(gate.Task);
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, MaxForwardsInFlight = 3 });
        var waiting = new List<Task<byte[]>>();
        for (int i = 0; i < 3; i++)
        {
            ValueTask<byte[]> pending = Ask(engine, "q" + i);
            Assert.False(pending.IsCompleted);
            waiting.Add(pending.AsTask());
        }

        ValueTask<byte[]> over = Ask(engine, "over");
        Assert.True(over.IsCompletedSuccessfully);
        Assert.Equal(DnsRcode.ServFail, Rcode(await over));
        Assert.Equal(3, upstream.Started);
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Overloaded));
        Assert.Equal(3, engine.Forwards.Count);

        gate.SetResult();
        foreach (byte[] answer in await Task.WhenAll(waiting))
        {
            Assert.Equal(DnsRcode.NoError, Rcode(answer));
        }

        Assert.Equal(0, engine.Forwards.Count);
        Assert.Equal(DnsRcode.NoError, Rcode(await Ask(engine, "after")));
    }

    [Fact]
    public async Task AListenersOwnLimitIsCheckedFirstAndBothAreGivenBack()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = new GatedForwarder(gate.Task), MaxForwardsInFlight = 100 });
        var listener = new InFlightLimit(2);
        Task<byte[]> a = Ask(engine, "a", listener).AsTask();
        Task<byte[]> b = Ask(engine, "b", listener).AsTask();
        ValueTask<byte[]> c = Ask(engine, "c", listener);
        Assert.True(c.IsCompletedSuccessfully);
        Assert.Equal(DnsRcode.ServFail, Rcode(await c));

        // Another listener still gets through: the limit is this listener's.
        Task<byte[]> other = Ask(engine, "other", new InFlightLimit(2)).AsTask();
        Assert.False(other.IsCompleted);
        Assert.Equal(3, engine.Forwards.Count);

        gate.SetResult();
        await Task.WhenAll(a, b, other);
        Assert.Equal((0, 0), (listener.Count, engine.Forwards.Count));
    }

    [Fact]
    public async Task AnUpstreamFailureGivesThePlaceBackToo()
    {
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = new FakeForwarder(null, UpstreamError.Timeout), MaxForwardsInFlight = 1 });
        var listener = new InFlightLimit(1);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(DnsRcode.ServFail, Rcode(await Ask(engine, "t" + i, listener)));
        }

        Assert.Equal((0, 0), (listener.Count, engine.Forwards.Count));
        Assert.Equal(5, engine.Metrics.Count(QueryOutcome.ServFail));
        Assert.Equal(0, engine.Metrics.Count(QueryOutcome.Overloaded));
    }

    [Fact]
    public async Task AUdpListenerAgainstASilentUpstreamAnswersServFailBeyondItsLimitThenRecovers()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = new GatedForwarder(gate.Task);
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        await using var listener = new UdpDnsListener(engine, new IPEndPoint(IPAddress.Loopback, 0), options: new ListenerOptions { MaxForwardsInFlight = 4 });
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Connect(listener.LocalEndPoint);
        for (int i = 0; i < 20; i++)
        {
            await client.SendAsync(DnsCacheTests.Query($"flood{i}.test", id: (ushort)i), SocketFlags.None, TestContext.Current.CancellationToken);
        }

        // Sixteen SERVFAILs come back while the four in flight are still waiting.
        var servfails = new HashSet<int>();
        var buffer = new byte[4096];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (servfails.Count < 16)
        {
            int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.Equal(DnsRcode.ServFail, Rcode(buffer[..n]));
            servfails.Add(buffer[0] << 8 | buffer[1]);
        }

        Assert.Equal(4, upstream.Started);
        Assert.Equal(4, listener.Forwards.Count);
        Assert.Equal(16, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Overloaded));

        gate.SetResult();
        for (int answered = 0; answered < 4; answered++)
        {
            int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.Equal(DnsRcode.NoError, Rcode(buffer[..n]));
            Assert.DoesNotContain(buffer[0] << 8 | buffer[1], servfails);
        }

        await client.SendAsync(DnsCacheTests.Query("after.test", id: 999), SocketFlags.None, TestContext.Current.CancellationToken);
        int last = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(DnsRcode.NoError, Rcode(buffer[..last]));
        Assert.Equal(0, listener.Forwards.Count);
    }

    private static ValueTask<byte[]> Ask(DnsEngine engine, string name, InFlightLimit? limit = null)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        ValueTask<int> pending = engine.HandleAsync(DnsCacheTests.Query(name + ".test"), response, ListenerProtocol.Udp, null, limit, TestContext.Current.CancellationToken);
        return pending.IsCompletedSuccessfully ? ValueTask.FromResult(response[..pending.Result]) : Later(pending, response);

        static async ValueTask<byte[]> Later(ValueTask<int> pending, byte[] response) => response[..await pending];
    }

    private static DnsRcode Rcode(byte[] message) => (DnsRcode)(message[3] & 0x0F);

    /// <summary>An upstream that answers only once the gate opens.</summary>
    internal sealed class GatedForwarder(Task gate) : IDnsForwarder
    {
        private int _started;

        public int Started => Volatile.Read(ref _started);

        public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            await gate;
            byte[] r = DnsCacheTests.AnswerA(query.ToArray(), 60, "198.51.100.44");
            r.CopyTo(response);
            return new ForwardReply(r.Length, "gated://", UpstreamError.None);
        }
    }
}
