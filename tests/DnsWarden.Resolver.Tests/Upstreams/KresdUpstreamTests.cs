using System.Net;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Policy;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>DoT and DoH upstreams against a real kresd on loopback with a certificate for "dns.test" from a test CA.</summary>
[Collection(UpstreamServersCollection.Name)]
public sealed class KresdUpstreamTests(UpstreamServers servers)
{
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    // The name as host and 127.0.0.1 as bootstrap: how a real DoT/DoH upstream is configured.
    private UpstreamConfig Dot => TestDns.Config($"tls://{UpstreamServers.ServerName}:{servers.DotPort}", IPAddress.Loopback) with { CaFile = servers.CaFile };

    private UpstreamConfig Doh => TestDns.Config($"https://{UpstreamServers.ServerName}:{servers.DohPort}/dns-query", IPAddress.Loopback) with { CaFile = servers.CaFile };

    /// <summary>The query (ending in an OPT record with no options) with an EDNS padding option (RFC 7830) of <paramref name="length"/> zero bytes.</summary>
    private static byte[] WithPadding(byte[] query, int length)
    {
        var padded = new byte[query.Length + 4 + length];
        query.CopyTo(padded, 0);
        int rdLength = query.Length - 2;
        padded[rdLength] = (byte)((4 + length) >> 8);
        padded[rdLength + 1] = (byte)(4 + length);
        padded[query.Length + 1] = 12;
        padded[query.Length + 2] = (byte)(length >> 8);
        padded[query.Length + 3] = (byte)length;
        return padded;
    }

    private byte[] LeafPin()
    {
        using X509Certificate2 leaf = X509Certificate2.CreateFromPem(File.ReadAllText(servers.LeafFile));
        return TlsVerifier.PinOf(leaf);
    }

    private async Task<(UpstreamReply Reply, byte[] Response)> AskAsync(IDnsUpstream upstream, string name = "x.test", ushort id = 0x5151)
    {
        var response = new byte[1024];
        UpstreamReply reply = await upstream.QueryAsync(TestDns.Query(name, id: id, edns: true), response, _ct);
        return (reply, response);
    }

    [Fact]
    public async Task DotAnswersWithTheConfiguredCa()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new TlsUpstream(Dot, TestDns.Timeout);

        (UpstreamReply reply, byte[] response) = await AskAsync(upstream);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(0x5151, TestDns.Id(response));
        Assert.Equal([UpstreamServers.KresdAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
    }

    [Fact]
    public async Task DotPipelinesOnOneConnection()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new TlsUpstream(Dot, TestDns.Timeout);

        (UpstreamReply Reply, byte[] Response)[] all = await Task.WhenAll(
            Enumerable.Range(0, 30).Select(i => AskAsync(upstream, $"n{i}.test", (ushort)i)));

        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal(UpstreamError.None, all[i].Reply.Error);
            Assert.Equal(i, TestDns.Id(all[i].Response));
            Assert.Equal($"n{i}.test", TestDns.QuestionName(all[i].Response));
        }

        Assert.Equal(1, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task DotWithAnotherCaIsTlsFailure()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new TlsUpstream(Dot with { CaFile = servers.OtherCaFile }, TestDns.Timeout);

        Assert.Equal(UpstreamError.TlsFailure, (await AskAsync(upstream)).Reply.Error);
        Assert.Equal(1, upstream.Stats.Failures(UpstreamError.TlsFailure));
    }

    [Fact]
    public async Task DotWithoutTheCaIsTlsFailure()
    {
        await servers.EnsureKresdAsync();

        // The system store does not know the test CA.
        await using var upstream = new TlsUpstream(Dot with { CaFile = null }, TestDns.Timeout);

        Assert.Equal(UpstreamError.TlsFailure, (await AskAsync(upstream)).Reply.Error);
    }

    [Fact]
    public async Task DotWithAnotherServerNameIsTlsFailure()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new TlsUpstream(Dot with { ServerName = "other.test" }, TestDns.Timeout);

        Assert.Equal(UpstreamError.TlsFailure, (await AskAsync(upstream)).Reply.Error);
    }

    [Fact]
    public async Task DotPinsDecide()
    {
        await servers.EnsureKresdAsync();
        byte[] right = LeafPin();
        byte[] wrong = (byte[])right.Clone();
        wrong[0] ^= 0xFF;

        await using var pinned = new TlsUpstream(Dot with { PinsSha256 = [wrong, right] }, TestDns.Timeout);
        await using var mispinned = new TlsUpstream(Dot with { PinsSha256 = [wrong] }, TestDns.Timeout);

        // Verification off accepts any chain, but the pins still apply.
        await using var unverifiedPinned = new TlsUpstream(Dot with { CaFile = null, VerifyCertificate = false, PinsSha256 = [right] }, TestDns.Timeout);
        await using var unverifiedMispinned = new TlsUpstream(Dot with { CaFile = null, VerifyCertificate = false, PinsSha256 = [wrong] }, TestDns.Timeout);

        Assert.Equal(UpstreamError.None, (await AskAsync(pinned)).Reply.Error);
        Assert.Equal(UpstreamError.PinMismatch, (await AskAsync(mispinned)).Reply.Error);
        Assert.Equal(UpstreamError.None, (await AskAsync(unverifiedPinned)).Reply.Error);
        Assert.Equal(UpstreamError.PinMismatch, (await AskAsync(unverifiedMispinned)).Reply.Error);
    }

    [Fact]
    public async Task DohAnswersAndRestoresTheId()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new HttpsUpstream(Doh, TestDns.Timeout);

        for (int i = 0; i < 20; i++)
        {
            (UpstreamReply reply, byte[] response) = await AskAsync(upstream, $"s{i}.test", (ushort)(0xAB00 + i));

            Assert.Equal(UpstreamError.None, reply.Error);
            Assert.Equal(0xAB00 + i, TestDns.Id(response));
            Assert.Equal($"s{i}.test", TestDns.QuestionName(response));
            Assert.Equal([UpstreamServers.KresdAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
        }

        Assert.Equal(1, upstream.ConnectionsOpened);
    }

    [Fact]
    public async Task DohCarriesFiftyConcurrentQueriesOnOneConnection()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new HttpsUpstream(Doh, TestDns.Timeout);

        (UpstreamReply Reply, byte[] Response)[] all = await Task.WhenAll(
            Enumerable.Range(0, 50).Select(i => AskAsync(upstream, $"d{i}.test", (ushort)(1000 + i))));

        // Each query is a GET (one HEADERS frame): kresd 5.6 answered part of such a burst of POSTs with 400, because
        // it loses a POST's body when its frames arrive in two reads (see HttpsUpstream).
        Assert.Equal(1, upstream.ConnectionsOpened);
        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal(UpstreamError.None, all[i].Reply.Error);
            Assert.Equal(1000 + i, TestDns.Id(all[i].Response));
            Assert.Equal($"d{i}.test", TestDns.QuestionName(all[i].Response));
        }
    }

    [Fact]
    public async Task DohCarriesALargeQueryInItsUri()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new HttpsUpstream(Doh, TestDns.Timeout);

        // 3,000 bytes (an EDNS padding option fills it): 4,000 characters of base64url in the URI.
        byte[] query = TestDns.Query("big.test", id: 0x4242, edns: true);
        byte[] padded = WithPadding(query, 3000 - query.Length - 4);
        var response = new byte[4096];
        UpstreamReply reply = await upstream.QueryAsync(padded, response, _ct);

        Assert.Equal(UpstreamError.None, reply.Error);
        Assert.Equal(0x4242, TestDns.Id(response));
        Assert.Equal([UpstreamServers.KresdAddress], TestDns.Addresses(response.AsSpan(0, reply.Length)));
    }

    [Fact]
    public async Task DohCertificateChecksMatchDot()
    {
        await servers.EnsureKresdAsync();
        byte[] wrong = LeafPin();
        wrong[^1] ^= 0x01;
        await using var otherCa = new HttpsUpstream(Doh with { CaFile = servers.OtherCaFile }, TestDns.Timeout);
        await using var otherName = new HttpsUpstream(Doh with { ServerName = "other.test" }, TestDns.Timeout);
        await using var mispinned = new HttpsUpstream(Doh with { PinsSha256 = [wrong] }, TestDns.Timeout);
        await using var pinned = new HttpsUpstream(Doh with { PinsSha256 = [LeafPin()] }, TestDns.Timeout);

        Assert.Equal(UpstreamError.TlsFailure, (await AskAsync(otherCa)).Reply.Error);
        Assert.Equal(UpstreamError.TlsFailure, (await AskAsync(otherName)).Reply.Error);
        Assert.Equal(UpstreamError.PinMismatch, (await AskAsync(mispinned)).Reply.Error);
        Assert.Equal(UpstreamError.None, (await AskAsync(pinned)).Reply.Error);
    }

    [Fact]
    public async Task DohOtherPathIsHttpError()
    {
        await servers.EnsureKresdAsync();
        await using var upstream = new HttpsUpstream(Doh with { Path = "/not-dns" }, TestDns.Timeout);

        Assert.Equal(UpstreamError.HttpError, (await AskAsync(upstream)).Reply.Error);
        Assert.Equal(1, upstream.Stats.Failures(UpstreamError.HttpError));
    }

    [Fact]
    public async Task FactoryBuildsWorkingDotAndDoh()
    {
        await servers.EnsureKresdAsync();
        await using IDnsUpstream dot = UpstreamFactory.Create(Dot, TestDns.Timeout);
        await using IDnsUpstream doh = UpstreamFactory.Create(Doh, TestDns.Timeout);

        Assert.IsType<TlsUpstream>(dot);
        Assert.IsType<HttpsUpstream>(doh);
        Assert.True((await AskAsync(dot)).Reply.Ok);
        Assert.True((await AskAsync(doh)).Reply.Ok);
    }
}
