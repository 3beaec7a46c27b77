using System.Net;
using System.Text;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

public sealed class PolicyLoaderTests
{
    private static LeakPolicy Load(string json)
    {
        bool ok = PolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "p.json", out LeakPolicy? policy, out PolicyError? error);
        Assert.True(ok, error?.ToString());
        Assert.Null(error);
        Assert.NotNull(policy);
        return policy;
    }

    [Fact]
    public void EmptyObject_IsTheProxyStubProfile()
    {
        LeakPolicy p = Load("{}");
        LeakPolicy profile = Profiles.Create(PolicyProfile.ProxyStub);
        Assert.Equal(PolicyProfile.ProxyStub, p.Profile);
        Assert.Equal(profile.SafeRouteClasses, p.SafeRouteClasses);
        Assert.Empty(p.SafeInterfaces);
        Assert.Empty(p.SafeResolvers);
        Assert.Same(EncryptedDnsEndpoints.BuiltIn, p.EncryptedDns.Endpoints);
        Assert.Equal(ExfiltrationPolicy.Default, p.Exfiltration);
        Assert.Equal("p.json", p.Source);
    }

    [Fact]
    public void Version() => Assert.Equal(PolicyProfile.ProxyStub, Load("""{ "version": 1 }""").Profile);

    [Theory]
    [InlineData("full-tunnel", PolicyProfile.FullTunnel)]
    [InlineData("proxy-stub", PolicyProfile.ProxyStub)]
    [InlineData("split", PolicyProfile.Split)]
    public void Profile(string name, PolicyProfile expected)
    {
        LeakPolicy p = Load($$"""{ "profile": "{{name}}" }""");
        Assert.Equal(expected, p.Profile);
        Assert.Equal(Profiles.Create(expected).SafeRouteClasses, p.SafeRouteClasses);
    }

    [Fact]
    public void SafeRouteClasses_ReplaceTheProfiles()
    {
        LeakPolicy p = Load("""{ "safe_route_classes": ["tunnel", "physical", "unknown", "loopback"], "profile": "full-tunnel" }""");
        Assert.Equal([RouteClass.Tunnel, RouteClass.Physical, RouteClass.Unknown, RouteClass.Loopback], p.SafeRouteClasses);

        Assert.Empty(Load("""{ "safe_route_classes": [] }""").SafeRouteClasses);
    }

    [Fact]
    public void SafeInterfaces()
    {
        LeakPolicy p = Load("""{ "safe_interfaces": ["wg0", "tun*"] }""");
        Assert.Equal([new InterfacePattern("wg0"), new InterfacePattern("tun*")], p.SafeInterfaces);
        Assert.True(p.IsSafeInterface("tun3", RouteClass.Physical));
        Assert.False(p.IsSafeInterface("eth0", RouteClass.Physical));
    }

    [Fact]
    public void InterfaceClasses_InFileOrder()
    {
        LeakPolicy p = Load("""{ "interface_classes": { "wg0": "tunnel", "eth*": "physical", "lo": "loopback", "x*": "unknown" } }""");
        Assert.Equal(
            [
                new InterfaceHint(new InterfacePattern("wg0"), RouteClass.Tunnel),
                new InterfaceHint(new InterfacePattern("eth*"), RouteClass.Physical),
                new InterfaceHint(new InterfacePattern("lo"), RouteClass.Loopback),
                new InterfaceHint(new InterfacePattern("x*"), RouteClass.Unknown),
            ],
            p.InterfaceClasses);
        Assert.Equal(RouteClass.Physical, p.HintFor("eth1"));
        Assert.Null(p.HintFor("wlan0"));
    }

    [Fact]
    public void SafeResolvers_AllEndpointForms()
    {
        LeakPolicy p = Load("""{ "safe_resolvers": ["10.8.0.1", "127.0.0.0/8", "[fd00::1]:53", "10.0.0.0/8:53", "fd00::/8"] }""");
        Assert.Equal(
            ["10.8.0.1", "127.0.0.0/8", "[fd00::1]:53", "10.0.0.0/8:53", "fd00::/8"],
            p.SafeResolvers.Select(r => r.ToString()));
        Assert.True(p.IsSafeResolver(IPAddress.Parse("127.0.0.53"), 53));
        Assert.True(p.IsSafeResolver(IPAddress.Parse("10.1.2.3"), 53));
        Assert.True(p.IsSafeResolver(IPAddress.Parse("10.8.0.1"), 5353));
        Assert.False(p.IsSafeResolver(IPAddress.Parse("10.1.2.3"), 853));
    }

    [Fact]
    public void AllowedProcessesAndPorts()
    {
        LeakPolicy p = Load("""{ "allowed_processes": ["sing-box", "dnscrypt-proxy"], "allowed_ports": [443, 853, 1, 65535] }""");
        Assert.Equal(["sing-box", "dnscrypt-proxy"], p.AllowedProcesses);
        Assert.Equal([(ushort)443, 853, 1, 65535], p.AllowedPorts);
        Assert.True(p.IsAllowedProcess("sing-box", 443));
        Assert.False(p.IsAllowedProcess("sing-box", 53));
    }

    [Fact]
    public void Split()
    {
        LeakPolicy p = Load("""{ "split": { "proxy_domains": ["example.org", "*.x.example", "=exact.example"], "direct_domains": ["lan"], "default": "proxy" } }""");
        Assert.Equal(["example.org", "*.x.example", "=exact.example"], p.Split.ProxyDomains.Rules);
        Assert.Equal(["lan"], p.Split.DirectDomains.Rules);
        Assert.Equal(SplitDefault.Proxy, p.Split.Default);
        Assert.True(p.Split.IsProxyRequired("www.example.org"));
        Assert.False(p.Split.IsProxyRequired("printer.lan"));
        Assert.True(p.Split.IsProxyRequired("anything.test"));

        Assert.Equal(SplitDefault.Direct, Load("""{ "split": { "default": "direct" } }""").Split.Default);
        Assert.Same(SplitPolicy.None, Load("""{ "split": {} }""").Split);
    }

    [Fact]
    public void EncryptedDns_ApprovedEgressAndHosts()
    {
        LeakPolicy p = Load("""{ "encrypted_dns": { "approved_egress": ["10.8.0.1:853"], "approved_hosts": ["doh.corp.example"] } }""");
        Assert.Equal(["10.8.0.1:853"], p.EncryptedDns.ApprovedEgress.Select(r => r.ToString()));
        Assert.Equal(["doh.corp.example"], p.EncryptedDns.ApprovedHosts.Rules);
        Assert.True(p.IsApprovedEncryptedEgress(IPAddress.Parse("10.8.0.1"), 853, null));
        Assert.True(p.IsApprovedEncryptedEgress(IPAddress.Parse("203.0.113.9"), 443, "doh.corp.example"));
        Assert.False(p.IsApprovedEncryptedEgress(IPAddress.Parse("203.0.113.9"), 443, "dns.google"));
    }

    [Fact]
    public void EncryptedDns_EndpointsAddedAndRemoved()
    {
        LeakPolicy p = Load("""
            { "encrypted_dns": {
                "endpoints": [ { "name": "Corp DoH", "hosts": ["doh.corp.example"], "addresses": ["198.51.100.53", "2001:db8::53"] }, {} ],
                "remove_hosts": ["dns.google"], "remove_addresses": ["8.8.8.8"] } }
            """);
        EncryptedDnsEndpoints e = p.EncryptedDns.Endpoints;
        Assert.Equal(EncryptedDnsEndpoints.BuiltIn.Version + "+policy", e.Version);
        Assert.True(e.TryMatchHost("doh.corp.example", out string provider));
        Assert.Equal("Corp DoH", provider);
        Assert.True(e.TryMatchAddress(IPAddress.Parse("2001:db8::53"), out _));
        Assert.False(e.TryMatchHost("dns.google", out _));
        Assert.False(e.TryMatchAddress(IPAddress.Parse("8.8.8.8"), out _));
        Assert.True(e.TryMatchAddress(IPAddress.Parse("8.8.4.4"), out _));
        Assert.Equal("policy endpoint 2", e.Providers[^1].Name);
    }

    [Fact]
    public void EncryptedDns_BuiltinEndpointsOff()
    {
        LeakPolicy off = Load("""{ "encrypted_dns": { "builtin_endpoints": false } }""");
        Assert.Same(EncryptedDnsEndpoints.Empty, off.EncryptedDns.Endpoints);

        LeakPolicy own = Load("""{ "encrypted_dns": { "builtin_endpoints": false, "endpoints": [ { "name": "Only", "hosts": ["dns.example"] } ] } }""");
        Assert.True(own.EncryptedDns.Endpoints.TryMatchHost("dns.example", out _));
        Assert.False(own.EncryptedDns.Endpoints.TryMatchHost("dns.google", out _));

        Assert.Same(EncryptedDnsEndpoints.BuiltIn, Load("""{ "encrypted_dns": { "builtin_endpoints": true } }""").EncryptedDns.Endpoints);
    }

    [Fact]
    public void Exfiltration_EveryKey()
    {
        LeakPolicy p = Load("""
            { "exfiltration": { "window": "90s", "min_queries": 11, "min_unique_subdomains": 12, "min_entropy": 3.25,
                                "long_label": 41, "long_name": 101, "txt_null_share": 0.25, "nxdomain_share": 0.75, "score_threshold": 61 } }
            """);
        Assert.Equal(new ExfiltrationPolicy(TimeSpan.FromSeconds(90), 11, 12, 3.25, 41, 101, 0.25, 0.75, 61), p.Exfiltration);
        Assert.Equal(ExfiltrationPolicy.Default with { Window = TimeSpan.FromMilliseconds(500) }, Load("""{ "exfiltration": { "window": "500ms" } }""").Exfiltration);
    }

    [Fact]
    public void CommentsTrailingCommasAndBom()
    {
        byte[] text = [0xEF, 0xBB, 0xBF, .. "/* policy */ { // the profile\n \"profile\": \"split\", }\n// end\n"u8];
        Assert.True(PolicyLoader.TryParse(text, "p.json", out LeakPolicy? p, out _));
        Assert.Equal(PolicyProfile.Split, p!.Profile);
    }

    [Fact]
    public void QuickFlagsApplyOnTopOfALoadedPolicy()
    {
        LeakPolicy p = Load("""{ "profile": "split", "interface_classes": { "eth*": "physical" } }""");
        Assert.True(Profiles.TryParseEndpoint("10.8.0.1", out EndpointRule? r, out _));
        LeakPolicy q = Profiles.WithQuickFlags(p, ["tun9"], [r!], ["corp.example"]);
        Assert.Equal(RouteClass.Tunnel, q.HintFor("tun9"));
        Assert.Equal(RouteClass.Physical, q.HintFor("eth0"));
        Assert.True(q.Split.IsProxyRequired("a.corp.example"));
        Assert.Equal("p.json", q.Source);
    }

    [Theory]
    [InlineData("full-tunnel", PolicyProfile.FullTunnel)]
    [InlineData("proxy-stub", PolicyProfile.ProxyStub)]
    [InlineData("split", PolicyProfile.Split)]
    public void DocsPolicies_Load(string name, PolicyProfile profile)
    {
        string path = Path.Combine(RepoRoot(), "docs", "policies", name + ".json");
        Assert.True(PolicyLoader.TryLoad(path, out LeakPolicy? p, out PolicyError? error), error?.ToString());
        Assert.Equal(profile, p!.Profile);
        Assert.Equal(path, p.Source);
    }

    [Fact]
    public void DocsPolicies_SplitSetsEveryExfiltrationKey()
    {
        Assert.True(PolicyLoader.TryLoad(Path.Combine(RepoRoot(), "docs", "policies", "split.json"), out LeakPolicy? p, out _));
        Assert.Equal(new ExfiltrationPolicy(TimeSpan.FromMinutes(2), 20, 15, 3.8, 45, 120, 0.4, 0.6, 70), p!.Exfiltration);
        Assert.True(p.Split.IsProxyRequired("x.internal.example"));
        Assert.False(p.Split.IsProxyRequired("internal.example"));
        Assert.False(p.EncryptedDns.Endpoints.TryMatchHost("dns64.dns.google", out _));
    }

    internal static string RepoRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (Directory.Exists(Path.Combine(d.FullName, "docs", "policies")))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException("docs/policies not found above " + AppContext.BaseDirectory);
    }
}

public sealed class PolicyDocsTests
{
    [Fact]
    public void TheFullExampleInPolicyMd_Loads()
    {
        string md = File.ReadAllText(Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "POLICY.md"));
        int start = md.IndexOf("```json\n", StringComparison.Ordinal) + "```json\n".Length;
        int end = md.IndexOf("```", start, StringComparison.Ordinal);
        Assert.True(start > 8 && end > start);
        Assert.True(
            PolicyLoader.TryParse(Encoding.UTF8.GetBytes(md[start..end]), "POLICY.md", out LeakPolicy? p, out PolicyError? error),
            error?.ToString());
        Assert.Equal(PolicyProfile.Split, p!.Profile);
        Assert.Equal(4, p.SafeResolvers.Count);
        Assert.False(p.EncryptedDns.Endpoints.TryMatchHost("dns.google", out _));
        Assert.True(p.EncryptedDns.Endpoints.TryMatchHost("doh.corp.example", out _));
    }

    [Fact]
    public void PolicyMd_ListsEveryTunnelGlob()
    {
        string md = File.ReadAllText(Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "POLICY.md"));
        foreach (string glob in Profiles.TunnelNameGlobs)
        {
            Assert.Contains($"`{glob}`", md, StringComparison.Ordinal);
        }

        Assert.Contains($"Version `{EncryptedDnsEndpoints.BuiltIn.Version}` has {EncryptedDnsEndpoints.BuiltIn.Providers.Count} providers", md, StringComparison.Ordinal);
    }
}
