using DnsWarden.Policy;
using DnsWarden.Resolver.Hosting;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Tests.Hosting;

/// <summary>The one engine builder takes every engine setting from the configuration it is given.</summary>
public sealed class EnginePartsTests
{
    private static UpstreamConfig Upstream(string url)
    {
        Assert.True(UpstreamConfig.TryParse(url, out UpstreamConfig? u, out string? error), error);
        return u!;
    }

    [Fact]
    public void ThePoolHasTheConfigsUpstreamsInOrder_AndNoneWithoutUpstreams()
    {
        Assert.Null(EngineParts.Pool(new ProxyConfig()));
        UpstreamPool? pool = EngineParts.Pool(new ProxyConfig { Upstreams = [Upstream("udp://10.0.0.1"), Upstream("tcp://10.0.0.2:5353")], Strategy = UpstreamStrategy.Race });
        Assert.NotNull(pool);
        Assert.Equal(["udp://10.0.0.1", "tcp://10.0.0.2:5353"], pool.Upstreams.Select(u => u.Config.Url));
    }

    [Fact]
    public void TheTrackerTakesTheConfigsTtls()
    {
        var config = new ProxyConfig
        {
            TrackerMinTtl = TimeSpan.FromSeconds(30),
            TrackerMaxTtl = TimeSpan.FromHours(1),
            TrackerFixedTtl = TimeSpan.FromMinutes(5),
            TrackerMaxAddressesPerName = 7,
        };
        IpTrackerOptions o = EngineParts.Tracker(config);
        Assert.Equal((config.TrackerMinTtl, config.TrackerMaxTtl, config.TrackerFixedTtl, 7), (o.MinTtl, o.MaxTtl, o.FixedTtl, o.MaxAddressesPerName));
    }

    [Fact]
    public void TheEngineHasTheConfigsCacheAndATracker()
    {
        Assert.NotNull(EngineParts.Engine(new ProxyConfig(), null, null, new EngineSeams()).Cache);
        Assert.Null(EngineParts.Engine(new ProxyConfig { CacheEnabled = false }, null, null, new EngineSeams()).Cache);
        Assert.NotNull(EngineParts.Engine(new ProxyConfig(), null, null, new EngineSeams()).Tracker);
    }
}
