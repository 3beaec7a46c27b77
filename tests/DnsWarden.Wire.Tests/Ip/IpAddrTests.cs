using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Tests.Ip;

public sealed class IpAddrTests
{
    [Theory]
    [InlineData("192.0.2.1", true)]
    [InlineData("2001:db8::1", false)]
    [InlineData("::ffff:10.0.0.1", true)]
    public void RoundTrips(string text, bool isV4)
    {
        IpAddr a = IpAddr.Parse(text);
        Assert.Equal(isV4, a.IsV4);
        Assert.Equal(IpAddr.Parse(a.ToString()), a);
    }
}
