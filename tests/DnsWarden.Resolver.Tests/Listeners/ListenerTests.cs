using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DnsClient;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Engine;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Listeners;

/// <summary>The listeners on loopback, asked by real clients: dig and the .NET DnsClient resolver.</summary>
public sealed class ListenerTests
{
    private const string PolicyJson = """
        {
          "default_action": "allow",
          "block": ["blocked.test"],
          "local_records": [
            { "name": "svc.lan", "type": "A", "value": "10.7.7.7" },
            { "name": "svc.lan", "type": "AAAA", "value": "fd00::7" }
          ]
        }
        """;

    private static readonly string[] s_many = [.. Enumerable.Range(1, 60).Select(i => "203.0.113." + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private static DnsEngine NewEngine(IDnsForwarder? forwarder = null)
    {
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(PolicyJson), "p.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        return new DnsEngine(new DnsEngineOptions
        {
            Policy = p!,
            Forwarder = forwarder ?? new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, s_many)),
        });
    }

    private sealed class Served : IAsyncDisposable
    {
        public Served(DnsEngine engine, IPAddress address, TimeSpan? idle = null)
        {
            Engine = engine;
            Udp = new UdpDnsListener(engine, new IPEndPoint(address, 0));
            // Same port for TCP, as a resolver has; retried on the rare clash.
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    Tcp = new TcpDnsListener(engine, new IPEndPoint(address, Udp.LocalEndPoint.Port), 16, idle ?? TimeSpan.FromSeconds(10));
                    break;
                }
                catch (ListenerBindException) when (attempt < 5)
                {
                    Udp.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    Udp = new UdpDnsListener(engine, new IPEndPoint(address, 0));
                }
            }

            Udp.Start();
            Tcp.Start();
        }

        public DnsEngine Engine { get; }

        public UdpDnsListener Udp { get; private set; }

        public TcpDnsListener Tcp { get; } = null!;

        public int Port => Udp.LocalEndPoint.Port;

        public async ValueTask DisposeAsync()
        {
            await Udp.DisposeAsync();
            await Tcp.DisposeAsync();
        }
    }

    private static async Task<string> Dig(params string[] args)
    {
        var psi = new ProcessStartInfo("dig") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("dig is not installed (bind9-dnsutils)");
            throw;
        }

        using (p)
        using (StreamReader stdout = p.StandardOutput)
        {
            string output = await stdout.ReadToEndAsync(TestContext.Current.CancellationToken);
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);
            return output;
        }
    }

    [Fact]
    public async Task QueriesQueuedFromManyClientsAreTakenInBatchesAndEachAnswerGoesToItsOwnAsker()
    {
        // Queued before the listener reads: its first receives take full batches mixing the four askers, and the
        // answers (local records and blocks, answered at once) go out in batches too.
        await using var listener = new UdpDnsListener(NewEngine(), new IPEndPoint(IPAddress.Loopback, 0));
        const int PerClient = 40;
        Socket[] clients = [.. Enumerable.Range(0, 4).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))];
        var sent = new Dictionary<ushort, string>();
        var buffer = new byte[512];
        for (int i = 0; i < PerClient; i++)
        {
            for (int c = 0; c < clients.Length; c++)
            {
                ushort id = (ushort)((c * 1000) + i);
                string name = i % 2 == 0 ? "svc.lan" : "blocked.test";
                Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, DnsType.A, true, null, out int n));
                clients[c].SendTo(buffer.AsSpan(0, n), SocketFlags.None, listener.LocalEndPoint);
                sent[id] = name;
            }
        }

        listener.Start();
        for (int c = 0; c < clients.Length; c++)
        {
            clients[c].ReceiveTimeout = 5000;
            var ids = new HashSet<ushort>();
            for (int i = 0; i < PerClient; i++)
            {
                int n = clients[c].Receive(buffer);
                var reader = new DnsMessageReader(buffer.AsSpan(0, n));
                Assert.True(reader.TryReadHeader(out DnsHeader header));
                Assert.True(reader.TryReadQuestion(out Wire.Dns.DnsQuestion question));
                Assert.Equal(c, header.Id / 1000);
                Assert.Equal(sent[header.Id], question.Name.ToString());
                Assert.True(ids.Add(header.Id));
            }

            clients[c].Dispose();
        }
    }

    [Fact]
    public async Task DigOverUdpAndTcpOnIpv4AndIpv6()
    {
        await using var s4 = new Served(NewEngine(), IPAddress.Loopback);
        await using var s6 = new Served(NewEngine(), IPAddress.IPv6Loopback);
        string p4 = s4.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string p6 = s6.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal("10.7.7.7", (await Dig("@127.0.0.1", "-p", p4, "svc.lan", "A", "+short", "+tries=1", "+time=2")).Trim());
        Assert.Equal("fd00::7", (await Dig("@127.0.0.1", "-p", p4, "svc.lan", "AAAA", "+short", "+tcp", "+tries=1", "+time=2")).Trim());
        Assert.Equal("10.7.7.7", (await Dig("@::1", "-p", p6, "svc.lan", "A", "+short", "+tries=1", "+time=2")).Trim());
        Assert.Equal("10.7.7.7", (await Dig("@::1", "-p", p6, "svc.lan", "A", "+short", "+tcp", "+tries=1", "+time=2")).Trim());
        Assert.Contains("status: NXDOMAIN", await Dig("@127.0.0.1", "-p", p4, "x.blocked.test", "A", "+tries=1", "+time=2"), StringComparison.Ordinal);
        Assert.Equal(2, s4.Engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Local) + s4.Engine.Metrics.Count(ListenerProtocol.Tcp, QueryOutcome.Local));
    }

    [Fact]
    public async Task TruncatedOverUdpThenWholeOverTcpWithDig()
    {
        await using var s = new Served(NewEngine(), IPAddress.Loopback);
        string port = s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        string truncated = await Dig("@127.0.0.1", "-p", port, "big.test", "A", "+noedns", "+ignore", "+tries=1", "+time=2");
        Assert.Matches(@"flags: qr tc rd ra;|flags:[^;]*\btc\b", truncated);
        Assert.Contains("ANSWER: 0", truncated, StringComparison.Ordinal);

        // Without +ignore dig retries over TCP by itself, as every stub does.
        string retried = await Dig("@127.0.0.1", "-p", port, "big.test", "A", "+noedns", "+short", "+tries=1", "+time=2");
        Assert.Equal(60, retried.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(1, s.Engine.Metrics.Count(ListenerProtocol.Tcp, QueryOutcome.Forwarded));
    }

    [Fact]
    public async Task PipelinedQueriesOnOneTcpConnection()
    {
        await using var s = new Served(NewEngine(), IPAddress.Loopback);
        string port = s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string output = await Dig("@127.0.0.1", "-p", port, "+tcp", "+keepopen", "+short", "+tries=1", "+time=2", "svc.lan", "A", "svc.lan", "AAAA", "svc.lan", "A");
        Assert.Equal(["10.7.7.7", "fd00::7", "10.7.7.7"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // Raw: three queries written back to back before reading; three answers with the three IDs.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(s.Tcp.LocalEndPoint, TestContext.Current.CancellationToken);
        var batch = new List<byte>();
        foreach (ushort id in new ushort[] { 11, 12, 13 })
        {
            byte[] q = DnsCacheTests.Query("svc.lan", id: id);
            batch.Add((byte)(q.Length >> 8));
            batch.Add((byte)q.Length);
            batch.AddRange(q);
        }

        await client.SendAsync(batch.ToArray(), SocketFlags.None, TestContext.Current.CancellationToken);
        var ids = new HashSet<int>();
        for (int i = 0; i < 3; i++)
        {
            byte[] message = await ReadFramed(client);
            ids.Add(message[0] << 8 | message[1]);
        }

        Assert.Equal([11, 12, 13], ids.Order());
    }

    [Fact]
    public async Task DotNetResolverGetsAnswers()
    {
        await using var s = new Served(NewEngine(), IPAddress.Loopback);
        foreach (bool tcp in new[] { false, true })
        {
            var client = new LookupClient(new LookupClientOptions(new NameServer(IPAddress.Loopback, s.Port))
            {
                UseCache = false,
                UseTcpOnly = tcp,
                Retries = 0,
                Timeout = TimeSpan.FromSeconds(2),
                ContinueOnDnsError = false,
            });
            IDnsQueryResponse r = await client.QueryAsync("svc.lan", QueryType.A, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal("10.7.7.7", Assert.Single(r.Answers.ARecords()).Address.ToString());

            IDnsQueryResponse big = await client.QueryAsync("big.test", QueryType.A, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(60, big.Answers.ARecords().Count());
        }
    }

    [Fact]
    public async Task MalformedCorpusGetsFormErrOrSilenceAndServiceGoesOn()
    {
        await using var s = new Served(NewEngine(), IPAddress.Loopback);
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Connect(s.Udp.LocalEndPoint);
        byte[] valid = DnsCacheTests.Query("svc.lan", id: 0x5151);

        foreach (byte[] bad in MalformedCorpus(valid))
        {
            await udp.SendAsync(bad, SocketFlags.None, TestContext.Current.CancellationToken);
        }

        // Answers to the corpus (FORMERR, NOTIMP…) may arrive first; the valid query's answer must come.
        await udp.SendAsync(valid, SocketFlags.None, TestContext.Current.CancellationToken);
        var buffer = new byte[4096];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            int n = await udp.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.True(n >= 12);
            if ((buffer[0] << 8 | buffer[1]) == 0x5151 && (buffer[3] & 0x0F) == 0)
            {
                break;
            }

            var rcode = (DnsRcode)(buffer[3] & 0x0F);
            Assert.True(rcode is DnsRcode.FormErr or DnsRcode.NotImp or DnsRcode.NoError or DnsRcode.NxDomain, rcode.ToString());
        }

        long malformed = s.Engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Malformed);
        long dropped = s.Engine.Metrics.Count(ListenerProtocol.Udp, QueryOutcome.Dropped);
        Assert.True(malformed > 10, $"malformed {malformed}");
        Assert.True(dropped >= 4, $"dropped {dropped}"); // at least: empty, one byte, eleven bytes, a response
    }

    internal static IEnumerable<byte[]> MalformedCorpus(byte[] valid)
    {
        yield return [];
        yield return [0];
        yield return new byte[11];
        for (int cut = 12; cut < valid.Length; cut++)
        {
            yield return valid[..cut];
        }

        byte[] response = (byte[])valid.Clone();
        response[2] |= 0x80; // QR: a response is never answered
        yield return response;

        byte[] twoQuestions = (byte[])valid.Clone();
        twoQuestions[5] = 2;
        yield return twoQuestions;

        byte[] noQuestion = (byte[])valid.Clone();
        noQuestion[5] = 0;
        yield return noQuestion;

        byte[] opcode = (byte[])valid.Clone();
        opcode[2] = (byte)((opcode[2] & 0x87) | (5 << 3)); // UPDATE
        yield return opcode;

        // A compression pointer to itself in the question name (RFC 1035 §4.1.4 loop).
        byte[] loop = [.. valid[..12], 0xC0, 12, 0, 1, 0, 1];
        yield return loop;

        // A label running past the end.
        byte[] overrun = [.. valid[..12], 63, (byte)'a', 0, 1];
        yield return overrun;

        // Oversized: a name of 300 bytes of labels.
        var longName = new List<byte>(valid[..12]);
        for (int i = 0; i < 5; i++)
        {
            longName.Add(63);
            longName.AddRange(Enumerable.Repeat((byte)'x', 63));
        }

        longName.AddRange(new byte[] { 0, 0, 1, 0, 1 });
        yield return [.. longName];

        // A 9 KB datagram of junk behind a valid header.
        yield return [.. valid[..12], .. new byte[9000]];

        var rng = new Random(77);
        for (int i = 0; i < 200; i++)
        {
            byte[] mutated = (byte[])valid.Clone();
            mutated[rng.Next(mutated.Length)] = (byte)rng.Next(256);
            mutated[rng.Next(2, mutated.Length)] ^= (byte)(1 << rng.Next(8));
            yield return mutated;
        }
    }

    [Fact]
    public async Task TcpGarbageAndIdleConnectionsAreClosed()
    {
        await using var s = new Served(NewEngine(), IPAddress.Loopback, idle: TimeSpan.FromMilliseconds(300));

        // Idle: connected, sends nothing → closed by the server.
        using (var idle = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await idle.ConnectAsync(s.Tcp.LocalEndPoint, TestContext.Current.CancellationToken);
            var sw = Stopwatch.StartNew();
            int n = await idle.ReceiveAsync(new byte[16], SocketFlags.None, TestContext.Current.CancellationToken);
            Assert.Equal(0, n);
            Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
        }

        // Half a message, then silence: closed as well, nothing answered.
        using (var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await slow.ConnectAsync(s.Tcp.LocalEndPoint, TestContext.Current.CancellationToken);
            await slow.SendAsync(new byte[] { 0, 40, 1, 2, 3 }, SocketFlags.None, TestContext.Current.CancellationToken);
            int n = await slow.ReceiveAsync(new byte[16], SocketFlags.None, TestContext.Current.CancellationToken);
            Assert.Equal(0, n);
        }

        // A framed malformed query gets FORMERR and the connection stays usable.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(s.Tcp.LocalEndPoint, TestContext.Current.CancellationToken);
        byte[] valid = DnsCacheTests.Query("svc.lan", id: 77);
        byte[] cut = valid[..(valid.Length - 2)];
        await client.SendAsync(Frame(cut), SocketFlags.None, TestContext.Current.CancellationToken);
        byte[] formErr = await ReadFramed(client);
        Assert.Equal(DnsRcode.FormErr, (DnsRcode)(formErr[3] & 0x0F));
        await client.SendAsync(Frame(valid), SocketFlags.None, TestContext.Current.CancellationToken);
        byte[] ok = await ReadFramed(client);
        Assert.Equal(DnsRcode.NoError, (DnsRcode)(ok[3] & 0x0F));
        Assert.Equal(77, ok[0] << 8 | ok[1]);
    }

    [Fact]
    public async Task StopDrainsQueriesAlreadyRead()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new GatedForwarder(gate.Task);
        var s = new Served(NewEngine(slow), IPAddress.Loopback);
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Connect(s.Udp.LocalEndPoint);
        await udp.SendAsync(DnsCacheTests.Query("slow.test", id: 0x7777), SocketFlags.None, TestContext.Current.CancellationToken);
        while (slow.Started == 0)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Task stopping = s.Udp.StopAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(stopping.IsCompleted);
        gate.SetResult();
        var buffer = new byte[4096];
        int n = await udp.ReceiveAsync(buffer, SocketFlags.None, TestContext.Current.CancellationToken);
        Assert.Equal(0x7777, buffer[0] << 8 | buffer[1]);
        Assert.True(n > 12);
        await stopping;
        await s.DisposeAsync();
    }

    [Fact]
    public void WildcardAddressIsRefusedWithAReason()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new UdpDnsListener(NewEngine(), new IPEndPoint(IPAddress.Any, 0)));
        Assert.Contains("wildcard", e.Message, StringComparison.Ordinal);
    }

    private static byte[] Frame(byte[] message)
    {
        var framed = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)message.Length);
        message.CopyTo(framed, 2);
        return framed;
    }

    private static async Task<byte[]> ReadFramed(Socket socket)
    {
        byte[] prefix = await ReadExact(socket, 2);
        return await ReadExact(socket, BinaryPrimitives.ReadUInt16BigEndian(prefix));
    }

    private static async Task<byte[]> ReadExact(Socket socket, int count)
    {
        var buffer = new byte[count];
        int read = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            read += n;
        }

        return buffer;
    }

    private sealed class GatedForwarder(Task gate) : IDnsForwarder
    {
        private int _started;

        public int Started => Volatile.Read(ref _started);

        public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            await gate;
            byte[] r = DnsCacheTests.AnswerA(query.ToArray(), 60, "198.51.100.33");
            r.CopyTo(response);
            return new ForwardReply(r.Length, "gated://", DnsWarden.Resolver.Upstreams.UpstreamError.None);
        }
    }
}
