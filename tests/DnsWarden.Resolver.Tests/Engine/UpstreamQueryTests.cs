using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>
/// What reaches an upstream is rebuilt from the client's question: its extra records and EDNS options (Client Subnet,
/// cookies, padding, kilobytes of anything) never do. Checked on the bytes a recording upstream was handed, and on
/// the datagram a UDP socket standing in for an upstream received.
/// </summary>
public sealed class UpstreamQueryTests
{
    private const ushort ClientId = 0xBEEF;

    /// <summary>A query carrying everything a covert channel could use: records in every section and ~3 KB of EDNS options.</summary>
    internal static byte[] FatQuery(string name = "WwW.Example.TEST", ushort udpSize = 4096, bool dnssecOk = true, bool cd = true)
    {
        var buffer = new byte[8192];
        var w = new DnsMessageWriter(buffer);
        DnsHeaderFlags flags = DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.AuthenticData | (cd ? DnsHeaderFlags.CheckingDisabled : 0);
        Assert.True(w.TryWriteHeader(ClientId, flags));
        Assert.True(w.TryWriteQuestion(name, DnsType.A));
        Assert.True(w.TryWriteA(DnsSection.Answer, "smuggled.example", 1, IpAddr.Parse("198.51.100.66")));
        Assert.True(w.TryWriteTxt(DnsSection.Authority, "secret.example", 1, new byte[200]));
        Assert.True(w.TryWriteTxt(DnsSection.Additional, "more.example", 1, new byte[200]));
        Span<byte> options = stackalloc byte[3500];
        int at = 0;
        Assert.True(DnsMessageWriter.TryWriteEdnsOption(options[at..], (ushort)EdnsOptionCode.ClientSubnet, [0, 1, 24, 0, 198, 51, 100], out int n));
        at += n;
        Assert.True(DnsMessageWriter.TryWriteEdnsOption(options[at..], (ushort)EdnsOptionCode.Cookie, [1, 2, 3, 4, 5, 6, 7, 8], out n));
        at += n;
        Assert.True(DnsMessageWriter.TryWriteEdnsOption(options[at..], 65001, new byte[3000], out n));
        at += n;
        Assert.True(w.TryWriteOpt(udpSize, dnssecOk, options[..at]));
        Assert.True(w.TryFinish(out int length));
        return buffer.AsSpan(0, length).ToArray();
    }

    [Fact]
    public async Task TheUpstreamGetsOneQuestionAndACleanOptNothingElse()
    {
        byte[] sent = [];
        var upstream = new FakeForwarder((q, _) =>
        {
            sent = q;
            return DnsCacheTests.AnswerA(q, 60, "198.51.100.7");
        });
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = upstream });
        byte[] query = FatQuery();
        Assert.True(query.Length > 3000);

        byte[] answer = await Ask(engine, query);

        // Header: the client's ID (the upstream puts a fresh one on the wire), RD, AD and CD as sent, one question,
        // nothing in answer or authority, one additional record: the OPT.
        Assert.Equal(ClientId, BinaryPrimitives.ReadUInt16BigEndian(sent));
        var reader = new DnsMessageReader(sent);
        Assert.True(reader.TryReadHeader(out DnsHeader h));
        Assert.False(h.IsResponse);
        Assert.Equal(DnsOpcode.Query, h.Opcode);
        Assert.Equal(DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.AuthenticData | DnsHeaderFlags.CheckingDisabled, h.Flags);
        Assert.Equal((1, 0, 0, 1), (h.QuestionCount, h.AnswerCount, h.AuthorityCount, h.AdditionalCount));
        Assert.True(reader.TryReadQuestion(out DnsQuestion q));
        Assert.Equal("WwW.Example.TEST", q.Name.ToString()); // as asked: 0x20 case kept
        Assert.Equal(DnsType.A, q.Type);
        Assert.True(reader.TryReadRecord(out DnsRecord opt));
        Assert.Equal(DnsType.OPT, opt.Type);
        Assert.True(opt.TryReadOpt(out DnsOpt o));
        Assert.Equal(UpstreamQuery.MaxUdpPayloadSize, o.UdpPayloadSize);
        Assert.True(o.DnssecOk);
        Assert.Equal(0, o.Version);
        Assert.Equal(0, o.Options.Count);
        Assert.True(reader.IsComplete);
        Assert.Equal(DnsHeader.Length + 18 + 4 + 11, sent.Length);

        // The client's answer carries its own ID and question.
        Assert.Equal(ClientId, BinaryPrimitives.ReadUInt16BigEndian(answer));
        Assert.Equal("WwW.Example.TEST", TestDns.QuestionName(answer));
        Assert.Equal(DnsRcode.NoError, TestDns.Rcode(answer));
    }

    [Theory]
    [InlineData((ushort)100, (ushort)512)]
    [InlineData((ushort)512, (ushort)512)]
    [InlineData((ushort)1232, (ushort)1232)]
    [InlineData((ushort)1400, (ushort)1232)]
    [InlineData((ushort)65535, (ushort)1232)]
    public void ThePayloadSizeIsClampedAndDoAndCdAreKeptAsSent(ushort asked, ushort offered)
    {
        foreach ((bool dnssecOk, bool cd) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            byte[] upstream = Rebuild(FatQuery(udpSize: asked, dnssecOk: dnssecOk, cd: cd));
            var reader = new DnsMessageReader(upstream);
            Assert.True(reader.TryReadHeader(out DnsHeader h));
            Assert.Equal(cd, h.CheckingDisabled);
            Assert.True(reader.TryReadRecord(out DnsRecord opt));
            Assert.True(opt.TryReadOpt(out DnsOpt o));
            Assert.Equal(offered, o.UdpPayloadSize);
            Assert.Equal(dnssecOk, o.DnssecOk);
        }
    }

    [Fact]
    public void AClientWithoutEdnsGetsNoneAddedAndFlagsBeyondRdCdAdAreNotCopied()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryWriteHeader(7, DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.AuthoritativeAnswer | DnsHeaderFlags.Truncated | DnsHeaderFlags.Reserved));
        Assert.True(w.TryWriteQuestion("plain.test", DnsType.AAAA));
        Assert.True(w.TryFinish(out int n));
        byte[] upstream = Rebuild(buffer[..n]);
        var reader = new DnsMessageReader(upstream);
        Assert.True(reader.TryReadHeader(out DnsHeader h));
        Assert.Equal(DnsHeaderFlags.RecursionDesired, h.Flags);
        Assert.Equal(0, h.AdditionalCount);
        Assert.Equal(n, upstream.Length);
    }

    [Fact]
    public void EveryProperPrefixIsRefusedWithoutAnException()
    {
        byte[] query = FatQuery();
        var destination = new byte[UpstreamQuery.MaxLength];
        int questionEnd = DnsHeader.Length + 18 + 4;
        for (int length = 0; length < questionEnd; length++)
        {
            Assert.False(UpstreamQuery.TryWrite(query.AsSpan(0, length), destination, out _), $"prefix {length}");
        }

        // Cut inside the records after the question: the question alone still makes a query, with no OPT.
        for (int length = questionEnd; length < query.Length; length += 37)
        {
            Assert.True(UpstreamQuery.TryWrite(query.AsSpan(0, length), destination, out int written));
            Assert.Equal(questionEnd, written);
        }
    }

    [Fact]
    public void AResponseOrAQueryWithoutOneQuestionIsNotRebuilt()
    {
        byte[] answer = DnsCacheTests.AnswerA(DnsCacheTests.Query("x.test"), 60, "198.51.100.1");
        var destination = new byte[UpstreamQuery.MaxLength];
        Assert.False(UpstreamQuery.TryWrite(answer, destination, out _));
        byte[] none = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.False(UpstreamQuery.TryWrite(none, destination, out _));
    }

    [Fact]
    public async Task AUdpUpstreamReceivesTheSmallQueryOnTheWire()
    {
        // A UDP socket on loopback plays the upstream: it records each datagram and answers it.
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)server.LocalEndPoint!).Port;
        var received = new List<byte[]>();
        Task serving = Task.Run(async () =>
        {
            var buffer = new byte[65535];
            SocketReceiveFromResult r = await server.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0));
            byte[] datagram = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            received.Add(datagram);
            await server.SendToAsync(DnsCacheTests.AnswerA(datagram, 60, "198.51.100.8"), r.RemoteEndPoint);
        });

        var udp = new UdpUpstream(TestDns.Config("udp://127.0.0.1:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture)), TestDns.Timeout);
        await using var pool = new UpstreamPool([udp], UpstreamStrategy.Failover, TestDns.Timeout);
        var engine = new DnsEngine(new DnsEngineOptions { Forwarder = new PoolForwarder(pool) });
        byte[] query = FatQuery();
        byte[] answer = await Ask(engine, query);
        await serving.WaitAsync(TestDns.Timeout, TestContext.Current.CancellationToken);

        byte[] wire = Assert.Single(received);
        Assert.Equal(DnsHeader.Length + 18 + 4 + 11, wire.Length);
        Assert.NotEqual(ClientId, BinaryPrimitives.ReadUInt16BigEndian(wire)); // a fresh ID on the wire (1 in 65,536 to be equal)
        Assert.True(wire.AsSpan().IndexOf("smuggled"u8) < 0);
        Assert.Equal(ClientId, BinaryPrimitives.ReadUInt16BigEndian(answer));
        Assert.Equal(DnsRcode.NoError, TestDns.Rcode(answer));
    }

    private static byte[] Rebuild(byte[] query)
    {
        var destination = new byte[UpstreamQuery.MaxLength];
        Assert.True(UpstreamQuery.TryWrite(query, destination, out int written));
        return destination[..written];
    }

    private static async Task<byte[]> Ask(DnsEngine engine, byte[] query)
    {
        var response = new byte[DnsEngine.MaxMessageSize];
        int n = await engine.HandleAsync(query, response, ListenerProtocol.Tcp, null, TestContext.Current.CancellationToken);
        return response.AsSpan(0, n).ToArray();
    }
}
