using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>
/// UDP and TCP upstreams against tiny in-process servers on loopback that answer on purpose wrongly: forged IDs,
/// other questions, out-of-order and oversized replies (RFC 5452 §9.1, RFC 7766 §6.2.1.1).
/// </summary>
public sealed class FakeServerTests : IDisposable
{
    private readonly Socket _udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    public FakeServerTests()
    {
        _udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    private string UdpUrl => $"udp://127.0.0.1:{((IPEndPoint)_udp.LocalEndPoint!).Port}";

    public void Dispose() => _udp.Dispose();

    private async Task<(byte[] Query, EndPoint Client)> ReceiveAsync()
    {
        var buffer = new byte[1500];
        SocketReceiveFromResult r = await _udp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _ct);
        return (buffer.AsSpan(0, r.ReceivedBytes).ToArray(), r.RemoteEndPoint);
    }

    private async Task SendAsync(byte[] reply, EndPoint client) => await _udp.SendToAsync(reply, client, _ct);

    [Fact]
    public async Task ReplyWithAnotherIdIsIgnoredAndTheRightOneTaken()
    {
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TestDns.Timeout);
        var response = new byte[512];
        ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("id.test", id: 0x4242), response, _ct);

        (byte[] query, EndPoint client) = await ReceiveAsync();
        byte[] forged = DnsCacheTests.AnswerA(query, 60, "10.6.6.6");
        BinaryPrimitives.WriteUInt16BigEndian(forged, (ushort)(TestDns.Id(query) ^ 0x0001));
        await SendAsync(forged, client);
        await SendAsync(DnsCacheTests.AnswerA(query, 60, "10.1.1.1"), client);
        UpstreamReply reply = await pending;

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(0x4242, TestDns.Id(response));
        Assert.Equal(["10.1.1.1"], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        Assert.Equal(1, upstream.IgnoredReplies);
    }

    [Fact]
    public async Task ReplyForAnotherQuestionIsIgnored()
    {
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TestDns.Timeout);
        var response = new byte[512];
        ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("asked.test"), response, _ct);

        (byte[] query, EndPoint client) = await ReceiveAsync();
        ushort wireId = TestDns.Id(query);
        await SendAsync(DnsCacheTests.AnswerA(TestDns.Query("other.test", id: wireId), 60, "10.6.6.6"), client);
        await SendAsync(DnsCacheTests.AnswerA(TestDns.Query("asked.test", Wire.Dns.DnsType.AAAA, id: wireId), 60, "10.6.6.7"), client);

        // The query echoed back is not a response (QR clear), however well its ID and question match.
        await SendAsync(query, client);
        await SendAsync(DnsCacheTests.AnswerA(TestDns.Query("ASKED.test", id: wireId), 60, "10.1.1.1"), client);
        UpstreamReply reply = await pending;

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(["10.1.1.1"], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        Assert.Equal(3, upstream.IgnoredReplies);
    }

    [Fact]
    public async Task OnlyForgedRepliesMeansTimeout()
    {
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TimeSpan.FromMilliseconds(400));
        ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("id.test"), new byte[512], _ct);

        (byte[] query, EndPoint client) = await ReceiveAsync();
        byte[] forged = DnsCacheTests.AnswerA(query, 60, "10.6.6.6");
        BinaryPrimitives.WriteUInt16BigEndian(forged, (ushort)(TestDns.Id(query) + 1));
        await SendAsync(forged, client);

        Assert.Equal(UpstreamError.Timeout, (await pending).Error);
        Assert.Equal(1, upstream.IgnoredReplies);
    }

    [Fact]
    public async Task UnansweredDatagramGoesOutAgainAndTheSecondCopyIsAnswered()
    {
        // 4 s: retransmissions a second apart, so the answer to the second copy comes well before a third would go.
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TimeSpan.FromSeconds(4));
        var response = new byte[512];
        ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("lost.test", id: 0x2222), response, _ct);

        // The first copy is "lost" (read, never answered); the deadline sweep sends the same datagram again.
        // Without a retransmission the query reaches its deadline first and the test says so instead of waiting on.
        (byte[] first, EndPoint _) = await ReceiveAsync();
        Task<UpstreamReply> answered = pending.AsTask();
        Task<(byte[] Query, EndPoint Client)> again = ReceiveAsync();
        Assert.Same(again, await Task.WhenAny(again, answered));
        (byte[] second, EndPoint client) = await again;
        Assert.Equal(first, second);
        await SendAsync(DnsCacheTests.AnswerA(second, 60, "10.1.1.1"), client);
        UpstreamReply reply = await answered;

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(0x2222, TestDns.Id(response));
        Assert.Equal(1, upstream.Retransmissions);
    }

    [Fact]
    public async Task EveryQueryGetsAFreshRandomWireId()
    {
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TestDns.Timeout);
        var ids = new HashSet<ushort>();
        var ports = new HashSet<int>();
        for (int i = 0; i < 64; i++)
        {
            var response = new byte[512];
            ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("id.test", id: 0x1111), response, _ct);
            (byte[] query, EndPoint client) = await ReceiveAsync();
            ids.Add(TestDns.Id(query));
            ports.Add(((IPEndPoint)client).Port);
            await SendAsync(DnsCacheTests.AnswerA(query, 60, "10.1.1.1"), client);
            Assert.True((await pending).Ok);
            Assert.Equal(0x1111, TestDns.Id(response));
        }

        // 64 draws from 65,536: a repeat is possible (birthday odds ~3%), a handful is not.
        Assert.True(ids.Count >= 60, $"{ids.Count} distinct IDs");
        Assert.All(ports, p => Assert.True(p > 1023));
    }

    [Fact]
    public async Task CancellationReleasesTheWaiter()
    {
        await using var upstream = new UdpUpstream(TestDns.Config(UdpUrl), TimeSpan.FromSeconds(30));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        ValueTask<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("slow.test"), new byte[512], cancel.Token);
        (byte[] query, EndPoint client) = await ReceiveAsync();

        await cancel.CancelAsync();
        UpstreamReply reply = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(5), _ct);

        Assert.Equal(UpstreamError.Canceled, reply.Error);

        // A late answer to the abandoned query goes nowhere.
        await SendAsync(DnsCacheTests.AnswerA(query, 60, "10.1.1.1"), client);
        await WaitUntilAsync(() => upstream.IgnoredReplies == 1);
    }

    [Fact]
    public async Task TcpRepliesInAnyOrderReachTheirQueries()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var upstream = new TcpUpstream(TestDns.Config($"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}"), TestDns.Timeout);
        string[] names = ["one.test", "two.test", "three.test"];
        var responses = names.Select(_ => new byte[512]).ToArray();
        Task<UpstreamReply>[] pending = [.. names.Select((n, i) => upstream.QueryAsync(TestDns.Query(n, id: (ushort)(100 + i)), responses[i], _ct).AsTask())];

        using TcpClient accepted = await listener.AcceptTcpClientAsync(_ct);
        NetworkStream stream = accepted.GetStream();
        var queries = new List<byte[]>();
        for (int i = 0; i < names.Length; i++)
        {
            queries.Add(await ReadFrameAsync(stream));
        }

        Assert.Equal(3, queries.Select(q => TestDns.Id(q)).Distinct().Count());
        foreach (byte[] q in Enumerable.Reverse(queries))
        {
            string name = TestDns.QuestionName(q);
            await WriteFrameAsync(stream, DnsCacheTests.AnswerA(q, 60, $"10.0.0.{Array.IndexOf(names, name) + 1}"));
        }

        UpstreamReply[] replies = await Task.WhenAll(pending);
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(UpstreamError.None, replies[i].Error);
            Assert.Equal(100 + i, TestDns.Id(responses[i]));
            Assert.Equal([$"10.0.0.{i + 1}"], TestDns.Addresses(responses[i].AsSpan(0, replies[i].Length)));
        }

        Assert.Equal(1, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task TcpReplyWithAnotherQuestionIsBadAndTooLongIsTooLarge()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var upstream = new TcpUpstream(TestDns.Config($"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}"), TestDns.Timeout);
        var small = new byte[20];
        Task<UpstreamReply> wrong = upstream.QueryAsync(TestDns.Query("asked.test"), new byte[512], _ct).AsTask();
        Task<UpstreamReply> large = upstream.QueryAsync(TestDns.Query("large.test"), small, _ct).AsTask();

        using TcpClient accepted = await listener.AcceptTcpClientAsync(_ct);
        NetworkStream stream = accepted.GetStream();
        for (int i = 0; i < 2; i++)
        {
            byte[] q = await ReadFrameAsync(stream);
            byte[] reply = TestDns.QuestionName(q) == "asked.test"
                ? DnsCacheTests.AnswerA(TestDns.Query("other.test", id: TestDns.Id(q)), 60, "10.6.6.6")
                : DnsCacheTests.AnswerA(q, 60, "10.1.1.1");
            await WriteFrameAsync(stream, reply);
        }

        Assert.Equal(UpstreamError.BadResponse, (await wrong).Error);
        Assert.Equal(UpstreamError.TooLarge, (await large).Error);
    }

    [Fact]
    public async Task TcpQueryLeftUnansweredByACloseIsAskedAgainOnANewConnection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var upstream = new TcpUpstream(TestDns.Config($"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}"), TestDns.Timeout);
        var response = new byte[512];
        Task<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("one.test", id: 9), response, _ct).AsTask();
        using (TcpClient first = await listener.AcceptTcpClientAsync(_ct))
        {
            await ReadFrameAsync(first.GetStream());
        }

        using TcpClient again = await listener.AcceptTcpClientAsync(_ct);
        byte[] q = await ReadFrameAsync(again.GetStream());
        await WriteFrameAsync(again.GetStream(), DnsCacheTests.AnswerA(q, 60, "10.2.2.2"));

        Assert.Equal(UpstreamError.None, (await pending).Error);
        Assert.Equal(9, TestDns.Id(response));
        Assert.Equal(2, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task TcpServerThatAlwaysClosesIsANetworkErrorAfterBoundedAttempts()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var upstream = new TcpUpstream(TestDns.Config($"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}"), TestDns.Timeout);
        Task<UpstreamReply> pending = upstream.QueryAsync(TestDns.Query("one.test"), new byte[512], _ct).AsTask();
        for (int i = 0; i < StreamUpstream.MaxAttempts; i++)
        {
            using TcpClient accepted = await listener.AcceptTcpClientAsync(_ct);
            await ReadFrameAsync(accepted.GetStream());
        }

        Assert.Equal(UpstreamError.NetworkError, (await pending).Error);
        Assert.Equal(StreamUpstream.MaxAttempts, upstream.ConnectionsOpened);
    }

    private async Task<byte[]> ReadFrameAsync(NetworkStream stream)
    {
        var prefix = new byte[2];
        await stream.ReadExactlyAsync(prefix, _ct);
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await stream.ReadExactlyAsync(message, _ct);
        return message;
    }

    private async Task WriteFrameAsync(NetworkStream stream, byte[] message)
    {
        var frame = new byte[2 + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        await stream.WriteAsync(frame, _ct);
    }

    private async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(20, _ct);
        }

        Assert.True(condition());
    }
}
