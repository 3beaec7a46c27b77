using DnsWarden.Guard;
using DnsWarden.Guard.Tun;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Tun;

/// <summary><c>--virtual-dns</c> and <c>--min-ttl</c>: what is taken, and the one line for what is not.</summary>
public sealed class TunChoicesTests
{
    [Fact]
    public void VirtualAddressesOfBothFamiliesAreTakenInOrder()
    {
        Assert.True(VirtualDnsAddresses.TryParse(["100.96.128.1", "fd00:64::53", "10.30.30.31"], out IReadOnlyList<IpAddr> addresses, out string? error), error);
        Assert.Equal([IpAddr.Parse("100.96.128.1"), IpAddr.Parse("fd00:64::53"), IpAddr.Parse("10.30.30.31")], addresses);
    }

    [Theory]
    [InlineData("dns.test", "'dns.test': not an IPv4 or IPv6 address")]
    [InlineData("10.1", "'10.1': not an IPv4 or IPv6 address")]
    [InlineData("300.1.1.1", "'300.1.1.1': not an IPv4 or IPv6 address")]
    [InlineData("", "'': not an IPv4 or IPv6 address")]
    [InlineData("0.0.0.0", "'0.0.0.0': the unspecified address is no destination")]
    [InlineData("::", "'::': the unspecified address is no destination")]
    [InlineData("127.0.0.53", "'127.0.0.53': loopback stays inside the namespace and never reaches the TUN")]
    [InlineData("::1", "'::1': loopback stays inside the namespace and never reaches the TUN")]
    [InlineData("255.255.255.255", "'255.255.255.255': the broadcast address is no destination")]
    [InlineData("224.0.0.53", "'224.0.0.53': a multicast address (224.0.0.0/4) is no single service")]
    [InlineData("ff05::53", "'ff05::53': a multicast address (ff00::/8) is no single service")]
    [InlineData("169.254.0.53", "'169.254.0.53': a link-local address (169.254.0.0/16) is never routed to the TUN")]
    [InlineData("fe80::53", "'fe80::53': a link-local address (fe80::/10) needs a scope and is never routed to the TUN")]
    [InlineData("fe80::53%eth0", "'fe80::53%eth0': a scoped address names an interface; the virtual DNS lives on the TUN")]
    [InlineData("::ffff:10.0.0.53", "'::ffff:10.0.0.53': an IPv4-mapped IPv6 address; give the IPv4 address itself")]
    [InlineData("10.30.30.2", "'10.30.30.2': the TUN's own address in the namespace")]
    [InlineData("fd00:7475:6e::2", "'fd00:7475:6e::2': the TUN's own address in the namespace")]
    public void EachBadAddressIsNamedWithItsReason(string text, string expected)
    {
        Assert.False(VirtualDnsAddresses.TryParse(["10.30.30.30", text], out _, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void AnAddressGivenTwiceOrTooManyAreRefused()
    {
        Assert.False(VirtualDnsAddresses.TryParse(["fd00::53", "fd00:0:0::53"], out _, out string? error));
        Assert.Equal("'fd00:0:0::53': given twice", error);
        Assert.False(VirtualDnsAddresses.TryParse([.. Enumerable.Range(1, 9).Select(i => $"10.0.0.{i}")], out _, out error));
        Assert.Equal("at most 8 addresses, got 9", error);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    public void TheFloorTakesPolicyDurationsUpToTheCeiling(string text, int seconds)
    {
        Assert.True(AddressHold.TryParseMinimum(text, out TimeSpan floor, out string? error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), floor);
    }

    [Theory]
    [InlineData("61m")]
    [InlineData("2h")]
    [InlineData("-1s")]
    [InlineData("5 minutes")]
    [InlineData("")]
    public void AFloorOutOfRangeOrUnreadableIsOneLine(string text)
    {
        Assert.False(AddressHold.TryParseMinimum(text, out _, out string? error));
        Assert.Equal($"expected a duration from 0 to 1h such as 30s or 5m, got '{text}'", error);
    }

    [Theory]
    [InlineData(0u, 300)]
    [InlineData(60u, 300)]
    [InlineData(600u, 600)]
    [InlineData(86400u, 3600)]
    public void TheHoldIsTheTtlBetweenTheFloorAndTheCeiling(uint ttl, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), AddressHold.Of(ttl, AddressHold.DefaultMinimum));
}
