using System.Net;
using DnsWarden.Policy;
using DnsWarden.Resolver.Clients;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Clients;

public sealed class ClientAllowListTests
{
    private static IPNetwork Net(string text)
    {
        Assert.True(ProxyConfig.TryParseNetwork(text, out IPNetwork network, out string? error), error);
        return network;
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.1", true)]
    [InlineData("10.0.0.0/8", "10.255.255.255", true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.0.0.1", true)]
    [InlineData("10.0.0.0/8", "::a00:1", false)]
    [InlineData("192.168.1.0/24", "192.168.1.200", true)]
    [InlineData("192.168.1.0/24", "192.168.2.1", false)]
    [InlineData("198.51.100.7", "198.51.100.7", true)]
    [InlineData("198.51.100.7", "198.51.100.8", false)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("0.0.0.0/0", "2001:db8::1", false)]
    [InlineData("fd00::/8", "fd12:3456::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("2001:db8:1::/48", "2001:db8:1:ffff::1", true)]
    [InlineData("2001:db8:1::/48", "2001:db8:2::1", false)]
    [InlineData("2001:db8::1:0:0:0/80", "2001:db8::1:0:ff:1", true)]
    [InlineData("2001:db8::1:0:0:0/80", "2001:db8::2:0:0:1", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    [InlineData("::/0", "198.51.100.1", false)]
    [InlineData("::1", "::1", true)]
    public void APrefixAdmitsExactlyItsAddresses(string network, string client, bool allowed) =>
        Assert.Equal(allowed, new ClientAllowList([Net(network)]).IsAllowed(IpAddr.Parse(client)));

    [Fact]
    public void TheDefaultIsLoopbackAndEachListeningAddresssOwnSubnet()
    {
        IReadOnlyList<IPNetwork> list = ClientAllowList.DefaultFor(
            [IPAddress.Parse("10.61.0.1"), IPAddress.Parse("fd00:61::1"), IPAddress.Parse("198.51.100.53")],
            [new InterfaceAddress(IPAddress.Parse("10.61.0.1"), 24), new InterfaceAddress(IPAddress.Parse("fd00:61::1"), 64), new InterfaceAddress(IPAddress.Parse("10.99.0.1"), 16)]);
        Assert.Equal(["127.0.0.0/8", "::1/128", "10.61.0.0/24", "fd00:61::/64", "198.51.100.53/32"], list.Select(n => n.ToString()));
        var allow = new ClientAllowList(list);
        Assert.True(allow.IsAllowed(IpAddr.Parse("127.0.0.53")));
        Assert.True(allow.IsAllowed(IpAddr.Parse("10.61.0.200")));
        Assert.False(allow.IsAllowed(IpAddr.Parse("10.99.0.2"))); // a subnet the proxy does not listen on
        Assert.False(allow.IsAllowed(IpAddr.Parse("198.51.100.54")));
    }

    [Theory]
    [InlineData("10.1.2.3/8", "'10.1.2.3/8' has bits set past the prefix (did you mean 10.0.0.0/8?)")]
    [InlineData("10.0.0.0/33", "'10.0.0.0/33': the prefix length must be a number from 0 to 32")]
    [InlineData("fd00::/129", "'fd00::/129': the prefix length must be a number from 0 to 128")]
    [InlineData("10.0.0/8", "'10.0.0/8' is not a network (expected an address or address/prefix such as 10.0.0.0/8 or fd00::/8)")]
    [InlineData("lan", "'lan' is not a network (expected an address or address/prefix such as 10.0.0.0/8 or fd00::/8)")]
    [InlineData("10.0.0.0/x", "'10.0.0.0/x': the prefix length must be a number from 0 to 32")]
    public void ABadNetworkSaysWhatWasMeant(string text, string message)
    {
        Assert.False(ProxyConfig.TryParseNetwork(text, out _, out string? error));
        Assert.Equal(message, error);
    }
}
