using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Engine;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Listeners;

/// <summary>
/// The proxy's listeners on loopback with an allow list and a per-client share of TCP connections. (The rate limit
/// exempts loopback, so it is proven with real clients in other namespaces: tests/DnsWarden.E2E/Security.)
/// </summary>
public sealed class ClientGateTests
{
    private static readonly ClientAllowList s_elsewhere = new([new IPNetwork(IPAddress.Parse("10.0.0.0"), 8)]);

    [Fact]
    public async Task AUdpClientOffTheAllowListGetsRefusedAndTheEngineNeverSeesIt()
    {
        var upstream = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.1"));
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        await using var listener = new UdpDnsListener(engine, new IPEndPoint(IPAddress.Loopback, 0), options: new ListenerOptions { AllowList = s_elsewhere });
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Connect(listener.LocalEndPoint);
        byte[] query = DnsCacheTests.Query("x.test", id: 0x5151);
        await client.SendAsync(query, SocketFlags.None, TestContext.Current.CancellationToken);
        var buffer = new byte[4096];
        int n = await client.ReceiveAsync(buffer, SocketFlags.None, Timeout());
        Assert.Equal(0x5151, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        Assert.Equal(DnsRcode.Refused, (DnsRcode)(buffer[3] & 0x0F));
        Assert.True(n <= query.Length, $"{n} > {query.Length}: REFUSED must not be larger than the query");
        Assert.Equal(0, upstream.Calls);
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.ClientRefused));
    }

    [Fact]
    public async Task ATcpClientOffTheAllowListIsClosedAtOnce()
    {
        var engine = new DnsEngine(new DnsEngineOptions());
        await using var listener = new TcpDnsListener(engine, new IPEndPoint(IPAddress.Loopback, 0), 16, TimeSpan.FromSeconds(30), options: new ListenerOptions { AllowList = s_elsewhere });
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint, TestContext.Current.CancellationToken);
        Assert.True(await IsClosedByPeer(client));
        Assert.Equal(1, engine.Metrics.Count(ListenerProtocol.Tcp, QueryOutcome.ClientRefused));
    }

    [Fact]
    public async Task OneClientsIdleConnectionsDoNotLockOthersOut()
    {
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.2")) });
        await using var listener = new TcpDnsListener(engine, new IPEndPoint(IPAddress.Loopback, 0), 16, TimeSpan.FromSeconds(30), options: new ListenerOptions { MaxConnectionsPerClient = 2 });
        listener.Start();

        // 127.0.0.1 takes its two; its third is closed on arrival.
        var mine = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            await s.ConnectAsync(listener.LocalEndPoint, TestContext.Current.CancellationToken);
            mine.Add(s);
        }

        Assert.True(await IsClosedByPeer(mine[2]));
        Assert.Equal(1, listener.RefusedConnections);

        // Another client address (all of 127/8 is this host's) is still served.
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        other.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        await other.ConnectAsync(listener.LocalEndPoint, TestContext.Current.CancellationToken);
        Assert.Equal(DnsRcode.NoError, await AskOverTcp(other, "served.test"));

        // One of the first client's connections closes: its place comes back.
        mine[0].Dispose();
        while (listener.OpenConnections > 2)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await again.ConnectAsync(listener.LocalEndPoint, TestContext.Current.CancellationToken);
        Assert.Equal(DnsRcode.NoError, await AskOverTcp(again, "again.test"));
        foreach (Socket s in mine)
        {
            s.Dispose();
        }
    }

    private static async Task<DnsRcode> AskOverTcp(Socket socket, string name)
    {
        byte[] query = DnsCacheTests.Query(name);
        var framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        await socket.SendAsync(framed, SocketFlags.None, TestContext.Current.CancellationToken);
        var buffer = new byte[65537];
        int read = 0;
        while (read < 2 || read < 2 + BinaryPrimitives.ReadUInt16BigEndian(buffer))
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, Timeout());
            Assert.NotEqual(0, n);
            read += n;
        }

        return (DnsRcode)(buffer[5] & 0x0F);
    }

    /// <summary>True when the server closed the connection (a read returns 0 or a reset) before the timeout.</summary>
    private static async Task<bool> IsClosedByPeer(Socket socket)
    {
        try
        {
            return await socket.ReceiveAsync(new byte[16], SocketFlags.None, Timeout()) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static CancellationToken Timeout()
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        return cts.Token;
    }
}
