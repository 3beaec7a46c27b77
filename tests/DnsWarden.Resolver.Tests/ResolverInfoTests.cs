namespace DnsWarden.Resolver.Tests;

public sealed class ResolverInfoTests
{
    [Fact]
    public void HasAName() => Assert.Equal("dnsw resolver", ResolverInfo.Name);
}
