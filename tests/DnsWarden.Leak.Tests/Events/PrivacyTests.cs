using DnsWarden.Indicators;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;

namespace DnsWarden.Leak.Tests.Events;

public sealed class PrivacyTests
{
    private static PrivacyFilter Filter(PrivacyMode mode) => new(mode, BaseDomains.Fallback);

    [Fact]
    public void Full_KeepsEverything()
    {
        LeakEvent e = Samples.LeakD();
        Assert.Same(e, Filter(PrivacyMode.Full).Apply(e));
    }

    [Fact]
    public void Redacted_CutsNamesAndSources_DropsTheCommandLine()
    {
        LeakEvent original = Samples.LeakD();
        LeakEvent e = Filter(PrivacyMode.Redacted).Apply(original);

        Assert.Equal("*.example.co.uk", e.QName);
        Assert.Equal("10.1.2.0/24", e.Source);
        Assert.Null(e.Process!.CommandLine);
        Assert.Equal(original.Process!.Pid, e.Process.Pid);
        Assert.Equal(original.Process.Exe, e.Process.Exe);
        Assert.Equal(original.Process.Parents, e.Process.Parents);
        Assert.Equal("*.example.net", e.Connection!.ServerName);
        Assert.Equal(original.Connection! with { ServerName = "*.example.net" }, e.Connection);
        Assert.Equal(original.Destination, e.Destination);
        Assert.Equal(original.GeoIp, e.GeoIp);
        Assert.Equal(original.ServerName, e.ServerName);
        Assert.Equal(original.Evidence, e.Evidence);
    }

    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("Example.COM.", "example.com")]
    [InlineData("www.example.com", "*.example.com")]
    [InlineData("a.b.c.example.co.uk", "*.example.co.uk")]
    [InlineData("example.co.uk", "example.co.uk")]
    public void Redacted_Name_KeepsTheBaseDomain(string name, string expected) =>
        Assert.Equal(expected, Filter(PrivacyMode.Redacted).RedactName(name));

    [Theory]
    [InlineData("10.1.2.3:5353", "10.1.2.0/24")]
    [InlineData("192.168.1.255:1", "192.168.1.0/24")]
    [InlineData("[2001:db8:1:2::5]:53", "2001:db8:1::/48")]
    [InlineData("[fd00:aaaa:bbbb:cccc::1]:40000", "fd00:aaaa:bbbb::/48")]
    [InlineData("not-an-address:53", null)]
    [InlineData(null, null)]
    public void Redacted_Endpoint_IsItsNetwork(string? endpoint, string? expected) =>
        Assert.Equal(expected, PrivacyFilter.RedactEndpoint(endpoint));

    [Fact]
    public void Redacted_Ipv6Source()
    {
        LeakEvent e = Filter(PrivacyMode.Redacted).Apply(Samples.Exfiltration());
        Assert.Equal("2001:db8:1::/48", e.Source);
        Assert.Equal("*.example.com", e.QName);
        Assert.Null(e.Process);
        Assert.Null(e.Connection);
    }

    [Fact]
    public void Minimal_KeepsNoNameNoSource_ProcessByNameAndPid_CountryOnly()
    {
        LeakEvent original = Samples.LeakD();
        LeakEvent e = Filter(PrivacyMode.Minimal).Apply(original);

        Assert.Null(e.QName);
        Assert.Null(e.Source);
        Assert.Equal(new ProcessInfo(4242, "firefox", null, null, null, []) with { Parents = e.Process!.Parents }, e.Process);
        Assert.Empty(e.Process.Parents);
        Assert.Equal(new GeoInfo("DE", null, null, null), e.GeoIp);
        Assert.Null(e.Connection!.ServerName);
        Assert.Equal("www.example.org", e.ServerName); // a known provider: the name says which resolver, not which site
        Assert.Equal(original.Destination, e.Destination);
    }

    [Fact]
    public void Minimal_DropsTheServerName_WhenNoProviderIsKnown()
    {
        LeakEvent e = Filter(PrivacyMode.Minimal).Apply(Samples.LeakD() with { Provider = null });
        Assert.Null(e.ServerName);
    }

    [Theory]
    [InlineData("full", PrivacyMode.Full)]
    [InlineData("redacted", PrivacyMode.Redacted)]
    [InlineData("minimal", PrivacyMode.Minimal)]
    public void ModeNames_RoundTrip(string text, PrivacyMode mode)
    {
        Assert.True(PrivacyFilter.TryParse(text, out PrivacyMode parsed));
        Assert.Equal(mode, parsed);
        Assert.Equal(text, PrivacyFilter.Name(mode));
    }

    [Fact]
    public void UnknownModeName_IsFalse_AndRedacted()
    {
        Assert.False(PrivacyFilter.TryParse("Full", out PrivacyMode mode));
        Assert.Equal(PrivacyMode.Redacted, mode);
    }
}
