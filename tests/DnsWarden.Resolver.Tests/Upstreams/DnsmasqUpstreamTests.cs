using System.Net;
using System.Net.Sockets;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>UDP and TCP upstreams against a real dnsmasq on loopback.</summary>
[Collection(UpstreamServersCollection.Name)]
public sealed class DnsmasqUpstreamTests(UpstreamServers servers)
{
    private string Udp => $"udp://127.0.0.1:{servers.DnsmasqPort}";

    private string Tcp => $"tcp://127.0.0.1:{servers.DnsmasqPort}";

    [Fact]
    public async Task UdpAnswersWithTheClientsId()
    {
        await servers.EnsureDnsmasqAsync();
        await using var upstream = new UdpUpstream(TestDns.Config(Udp), TestDns.Timeout);
        byte[] query = TestDns.Query("A.TeSt", id: 0xBEEF, edns: true);
        var response = new byte[4096];

        UpstreamReply reply = await upstream.QueryAsync(query, response, TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(0xBEEF, TestDns.Id(response));
        Assert.Equal([UpstreamServers.DnsmasqAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        Assert.Equal(1, upstream.Stats.Queries);
        Assert.Equal(1, upstream.Stats.Answers);
        Assert.Equal(0, upstream.Stats.TruncatedRetries);
    }

    [Fact]
    public async Task TruncatedUdpAnswerIsAskedAgainOverTcp()
    {
        await servers.EnsureDnsmasqAsync();
        await using var upstream = new UdpUpstream(TestDns.Config(Udp), TestDns.Timeout);

        // No EDNS: the answer must fit 512 bytes over UDP (RFC 1035 §4.2.1), and 800 bytes of TXT do not.
        byte[] query = TestDns.Query("big.test", DnsType.TXT, id: 0x0102);
        var response = new byte[4096];

        UpstreamReply reply = await upstream.QueryAsync(query, response, TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.True(reply.Length > 512, $"length {reply.Length}");
        Assert.Equal(0, response[2] & 0x02);
        Assert.Equal(0x0102, TestDns.Id(response));
        Assert.Equal(4 * UpstreamServers.BigTxtString.Length, TestDns.TxtLength(response.AsSpan(0, reply.Length)));
        Assert.Equal(1, upstream.Stats.TruncatedRetries);
        Assert.Equal(1, upstream.Stats.Answers);
    }

    [Fact]
    public async Task TcpPipelinesManyQueriesOnOneConnection()
    {
        await servers.EnsureDnsmasqAsync();
        await using var upstream = new TcpUpstream(TestDns.Config(Tcp), TestDns.Timeout);

        UpstreamReply[] replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            byte[] query = TestDns.Query($"q{i}.a.test", id: (ushort)(7 * i));
            var response = new byte[1024];
            UpstreamReply reply = await upstream.QueryAsync(query, response, TestContext.Current.CancellationToken);
            Assert.Equal(UpstreamError.None, reply.Error);
            Assert.Equal((ushort)(7 * i), TestDns.Id(response));
            Assert.Equal($"q{i}.a.test", TestDns.QuestionName(response.AsSpan(0, reply.Length)));
            return reply;
        }));

        Assert.All(replies, r => Assert.True(r.Ok));
        Assert.Equal(1, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task TcpReconnectsAfterItsIdleClose()
    {
        await servers.EnsureDnsmasqAsync();
        await using var upstream = new TcpUpstream(TestDns.Config(Tcp), TestDns.Timeout, idleTimeout: TimeSpan.FromMilliseconds(200));
        var response = new byte[1024];

        Assert.True((await upstream.QueryAsync(TestDns.Query("one.a.test"), response, TestContext.Current.CancellationToken)).Ok);
        while (upstream.IsConnected)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken); // until the idle close has happened
        }

        UpstreamReply second = await upstream.QueryAsync(TestDns.Query("two.a.test"), response, TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.None, second.Error);
        Assert.Equal(2, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task RefusedAnswerIsAnAnswer()
    {
        await servers.EnsureDnsmasqAsync();
        await using var upstream = new UdpUpstream(TestDns.Config(Udp), TestDns.Timeout);
        var response = new byte[1024];

        // dnsmasq has no upstream for names it does not know: REFUSED, which the upstream passes on as it is.
        UpstreamReply reply = await upstream.QueryAsync(TestDns.Query("unknown.example"), response, TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(DnsRcode.Refused, TestDns.Rcode(response));
    }

    [Fact]
    public async Task ClosedPortsAreConnectionRefused()
    {
        int port = FreePort.Get();
        await using var udp = new UdpUpstream(TestDns.Config($"udp://127.0.0.1:{port}"), TestDns.Timeout);
        await using var tcp = new TcpUpstream(TestDns.Config($"tcp://127.0.0.1:{port}"), TestDns.Timeout);
        var response = new byte[512];

        UpstreamReply u = await udp.QueryAsync(TestDns.Query("a.test"), response, TestContext.Current.CancellationToken);
        UpstreamReply t = await tcp.QueryAsync(TestDns.Query("a.test"), response, TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.ConnectionRefused, u.Error);
        Assert.Equal(UpstreamError.ConnectionRefused, t.Error);
        Assert.Equal(1, udp.Stats.Failures(UpstreamError.ConnectionRefused));
        Assert.Equal(1, tcp.Stats.Failures(UpstreamError.ConnectionRefused));
    }

    [Fact]
    public async Task SilentServerTimesOut()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)silent.LocalEndPoint!).Port;
        await using var upstream = new UdpUpstream(TestDns.Config($"udp://127.0.0.1:{port}"), TimeSpan.FromMilliseconds(300));

        UpstreamReply reply = await upstream.QueryAsync(TestDns.Query("a.test"), new byte[512], TestContext.Current.CancellationToken);

        Assert.Equal(UpstreamError.Timeout, reply.Error);
        Assert.Equal(1, upstream.Stats.Failures(UpstreamError.Timeout));
    }
}
