using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Tests.Network;

public sealed class ResolvedStatusTests
{
    // As printed by systemd 252 (Debian 12) `resolvectl status --no-pager`.
    private const string Sample = """
        Global
               Protocols: +LLMNR +mDNS -DNSOverTLS DNSSEC=no/unsupported
        resolv.conf mode: stub
              DNS Domain: corp.example

        Link 2 (eth0)
            Current Scopes: DNS LLMNR/IPv4 LLMNR/IPv6
                 Protocols: +DefaultRoute +LLMNR -mDNS -DNSOverTLS DNSSEC=no/unsupported
        Current DNS Server: 192.168.1.1
               DNS Servers: 192.168.1.1 fe80::1%eth0
                            2001:db8::53
                DNS Domain: lan

        Link 5 (wg0)
            Current Scopes: DNS
                 Protocols: -DefaultRoute +LLMNR -mDNS +DNSOverTLS DNSSEC=no/unsupported
               DNS Servers: 10.8.0.1#dns.example
                DNS Domain: ~.
        """;

    [Fact]
    public void GlobalAndLinks_ServersDomainsAndContinuationLines()
    {
        IReadOnlyList<ResolvedScope> scopes = ResolvedStatus.Parse(Sample);
        Assert.Equal(["global", "eth0", "wg0"], scopes.Select(s => s.Name));
        Assert.Null(scopes[0].InterfaceIndex);
        Assert.Equal(["corp.example"], scopes[0].Domains);
        Assert.Equal(2, scopes[1].InterfaceIndex);
        Assert.Equal("192.168.1.1", scopes[1].CurrentServer);
        Assert.Equal(["192.168.1.1", "fe80::1%eth0", "2001:db8::53"], scopes[1].Servers);
        Assert.Equal(["lan"], scopes[1].Domains);
        Assert.Contains("+DefaultRoute", scopes[1].Protocols);
        Assert.Equal(["10.8.0.1#dns.example"], scopes[2].Servers);
        Assert.Equal(["~."], scopes[2].Domains);
    }

    [Fact]
    public void UnknownText_IsSkipped()
    {
        Assert.Empty(ResolvedStatus.Parse("Failed to get global data: Unit dbus-org.freedesktop.resolve1.service not found.\n"));
        Assert.Empty(ResolvedStatus.Parse(""));
        IReadOnlyList<ResolvedScope> s = ResolvedStatus.Parse("Link x (\n  DNS Servers:\n");
        Assert.Single(s);
    }
}
