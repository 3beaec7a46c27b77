using System.Net;
using DnsWarden.Guard.Jail;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Jail;

/// <summary>The host proxy's resolver: one upstream question per name and TTL, not one per connection.</summary>
public sealed class HostResolverTests
{
    private sealed class CountingForwarder(uint ttl) : IDnsForwarder
    {
        public int Calls;

        public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            byte[] answer = DnsCacheTests.AnswerA(query.ToArray(), ttl, "192.0.2." + Calls.ToString(System.Globalization.CultureInfo.InvariantCulture));
            answer.CopyTo(response);
            return ValueTask.FromResult(new ForwardReply(answer.Length, "udp://192.0.2.53", UpstreamError.None));
        }
    }

    [Fact]
    public async Task AName_IsAskedOncePerTtl_AndAskedAgainAfterIt()
    {
        var time = new ManualTime();
        var forwarder = new CountingForwarder(ttl: 30);
        var resolver = new HostResolver(forwarder, time);

        Assert.Equal(IPAddress.Parse("192.0.2.1"), await resolver.ResolveAsync("web.example.test", CancellationToken.None));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), await resolver.ResolveAsync("web.example.test", CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), await resolver.ResolveAsync("WEB.example.test", CancellationToken.None));
        Assert.Equal(1, forwarder.Calls);
        Assert.Equal(1, resolver.UpstreamQueries);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(IPAddress.Parse("192.0.2.2"), await resolver.ResolveAsync("web.example.test", CancellationToken.None));
        Assert.Equal(2, forwarder.Calls);
    }

    [Fact]
    public async Task AnAnswerWithTtlZero_IsNotKept()
    {
        var forwarder = new CountingForwarder(ttl: 0);
        var resolver = new HostResolver(forwarder, new ManualTime());
        await resolver.ResolveAsync("web.example.test", CancellationToken.None);
        await resolver.ResolveAsync("web.example.test", CancellationToken.None);
        Assert.Equal(2, forwarder.Calls);
    }
}
