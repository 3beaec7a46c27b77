namespace DnsWarden.E2E.Leak;

/// <summary>The TestNet additions the leak phases lean on: route replace/delete and a per-namespace resolv.conf.</summary>
public sealed class TestNetRouteTests
{
    [Fact]
    public async Task ReplaceRoute_SwitchesEgress_DeleteRoute_RestoresIt()
    {
        HostTools.RequireRoot();
        await using TestNet net = await TestNet.CreateAsync();
        string a = await net.AddNamespaceAsync("a");
        string b = await net.AddNamespaceAsync("b");
        string c = await net.AddNamespaceAsync("c");
        await net.AddVethAsync(b, a, interfaceB: "eth0");
        await net.AddVethAsync(c, a, interfaceB: "tun0");
        await net.AddAddressAsync(a, "eth0", "198.51.100.2/24");
        await net.AddAddressAsync(a, "tun0", "10.8.0.2/24");
        await net.AddAddressAsync(a, "tun0", "fd00:8::2/64");

        await net.ReplaceRouteAsync(a, "default", via: "10.8.0.1", device: "tun0");
        await net.ReplaceRouteAsync(a, "default", via: "fd00:8::1", device: "tun0");
        Assert.Contains("dev tun0", await RouteGet(net, a, "203.0.113.80"), StringComparison.Ordinal);
        Assert.Contains("dev tun0", await RouteGet(net, a, "2001:db8:80::80"), StringComparison.Ordinal);

        await net.ReplaceRouteAsync(a, "203.0.113.80/32", via: "198.51.100.1", device: "eth0");
        Assert.Contains("dev eth0", await RouteGet(net, a, "203.0.113.80"), StringComparison.Ordinal);
        Assert.Contains("dev tun0", await RouteGet(net, a, "203.0.113.81"), StringComparison.Ordinal);

        await net.ReplaceRouteAsync(a, "default", via: "198.51.100.1", device: "eth0");
        await net.DeleteRouteAsync(a, "203.0.113.80/32");
        await net.DeleteRouteAsync(a, "203.0.113.80/32");
        Assert.Contains("via 198.51.100.1 dev eth0", await RouteGet(net, a, "203.0.113.80"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routes_OutsideTheTestRanges_AreRefused()
    {
        HostTools.RequireRoot();
        await using TestNet net = await TestNet.CreateAsync();
        string a = await net.AddNamespaceAsync("a");
        await Assert.ThrowsAsync<ArgumentException>(() => net.ReplaceRouteAsync(a, "default", via: "192.168.1.1"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.ReplaceRouteAsync(a, "default", device: "bad/name"));
        await Assert.ThrowsAsync<ArgumentException>(() => net.SetResolvConfAsync(a, ["8.8.8.8"]));
        await Assert.ThrowsAsync<ArgumentException>(() => net.ReplaceRouteAsync("dnsw-t-0-other-ns", "default", via: "10.8.0.1"));
    }

    [Fact]
    public async Task ResolvConf_IsSeenInsideTheNamespace_AndChangesTakeEffectAtOnce()
    {
        HostTools.RequireRoot();
        await using TestNet net = await TestNet.CreateAsync();
        string a = await net.AddNamespaceAsync("a");
        await net.SetResolvConfAsync(a, ["10.8.0.1"]);
        Assert.StartsWith("nameserver 10.8.0.1\n", await ResolvConf(net, a), StringComparison.Ordinal);
        await net.SetResolvConfAsync(a, ["198.51.100.53", "2001:db8:53::53"]);
        Assert.StartsWith("nameserver 198.51.100.53\nnameserver 2001:db8:53::53\n", await ResolvConf(net, a), StringComparison.Ordinal);
    }

    private static async Task<string> RouteGet(TestNet net, string ns, string address) =>
        (await net.ExecAsync(ns, "ip", ["route", "get", address])).EnsureSuccess().StdOut;

    private static async Task<string> ResolvConf(TestNet net, string ns) =>
        (await net.ExecAsync(ns, "cat", ["/etc/resolv.conf"])).EnsureSuccess().StdOut;
}
