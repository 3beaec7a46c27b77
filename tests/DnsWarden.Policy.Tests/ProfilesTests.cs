using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

public sealed class ProfilesTests
{
    [Fact]
    public void BuiltInEndpointListLoads()
    {
        EncryptedDnsEndpoints list = EncryptedDnsEndpoints.BuiltIn;
        Assert.True(list.TryMatchHost("dns.google", out string provider));
        Assert.Equal("Google Public DNS", provider);
        Assert.True(list.TryMatchAddress(System.Net.IPAddress.Parse("2606:4700:4700::1111"), out _));
        Assert.False(list.TryMatchHost("www.google.com", out _));
    }
}
