using System.Text;
using DnsWarden.Policy.Http;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace DnsWarden.Policy.Tests;

/// <summary>The jail's host rules: the syntax, the matcher, and the policy file's <c>http</c> section with its exact errors.</summary>
public sealed class HostRulesTests
{
    private static HostRules Rules(params string[] texts)
    {
        Assert.True(HostRules.TryParse(texts, observe: false, out HostRules? rules, out string? error), error);
        return rules!;
    }

    [Theory]
    [InlineData("api.example.com", "api.example.com", true)]
    [InlineData("api.example.com", "API.Example.COM.", true)]
    [InlineData("api.example.com", "x.api.example.com", false)]
    [InlineData("api.example.com", "example.com", false)]
    [InlineData("api.example.com", "api.example.com.evil.test", false)]
    [InlineData("*.example.com", "a.example.com", true)]
    [InlineData("*.example.com", "a.b.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", "badexample.com", false)]
    public void AHostRuleMatchesItsHostOnly(string rule, string host, bool allowed) =>
        Assert.Equal(allowed, Rules(rule).Match(host, "GET", "/") is not null);

    [Fact]
    public void MethodAndPathNarrowARuleWhenTheyCanBeSeen()
    {
        HostRules rules = Rules("GET api.example.com/v1/");
        HostRule rule = Assert.Single(rules.Rules);
        Assert.Equal("GET", rule.Method);
        Assert.Equal("/v1/", rule.PathPrefix);
        Assert.NotNull(rules.Match("api.example.com", "GET", "/v1/items"));
        Assert.Null(rules.Match("api.example.com", "POST", "/v1/items"));
        Assert.Null(rules.Match("api.example.com", "GET", "/v2/"));
        // Inside TLS (no interception) only the host is visible: it decides.
        Assert.NotNull(rules.Match("api.example.com", null, null));
    }

    [Fact]
    public void ATcpRuleOpensOnePortOfOneName()
    {
        HostRules rules = Rules("tcp:git.example.com:22", "web.example.com");
        Assert.True(rules.AllowsTcp("git.example.com", 22));
        Assert.False(rules.AllowsTcp("git.example.com", 23));
        Assert.False(rules.AllowsTcp("web.example.com", 22));
        // A raw rule is not an HTTP rule for its name.
        Assert.Null(rules.Match("git.example.com", "GET", "/"));
        Assert.True(rules.Names.Matches("git.example.com"));
        Assert.True(rules.Names.Matches("web.example.com"));
        Assert.False(rules.Names.Matches("other.example.com"));
    }

    [Fact]
    public void NoRuleDeniesEverythingAndObserveIsActive()
    {
        Assert.Null(HostRules.None.Match("example.com", null, null));
        Assert.False(HostRules.None.Active);
        Assert.True(new HostRules([], observe: true).Active);
    }

    [Theory]
    [InlineData("", "'': the host is not a domain (expected a name such as example.com, =example.com or *.example.com)")]
    [InlineData("get api.example.com", "'get api.example.com': 'get' is not a method (expected upper-case letters such as GET, then a host)")]
    [InlineData("api.*.com", "'api.*.com': expected a host such as api.example.com or *.example.com")]
    [InlineData("=api.example.com", "'=api.example.com': expected a host such as api.example.com or *.example.com")]
    [InlineData("tcp:git.example.com", "'tcp:git.example.com': expected tcp:NAME:PORT with a port from 1 to 65535, such as tcp:github.com:22")]
    [InlineData("tcp:git.example.com:0", "'tcp:git.example.com:0': expected tcp:NAME:PORT with a port from 1 to 65535, such as tcp:github.com:22")]
    [InlineData("tcp:git.example.com:65536", "'tcp:git.example.com:65536': expected tcp:NAME:PORT with a port from 1 to 65535, such as tcp:github.com:22")]
    [InlineData("api.exa mple.com", "'api.exa mple.com': 'mple.com' is not a host... ")]
    public void BadRulesSayWhatWasExpected(string text, string expected)
    {
        Assert.False(HostRule.TryParse(text, out HostRule? rule, out string? error));
        Assert.Null(rule);
        if (!expected.EndsWith("... ", StringComparison.Ordinal))
        {
            Assert.Equal(expected, error);
        }
        else
        {
            Assert.StartsWith($"'{text}': ", error, StringComparison.Ordinal);
        }
    }

    /// <summary>An exact rule admits exactly its host, whatever the case or trailing dot; never a longer or shorter name.</summary>
    [Property(MaxTest = 2000)]
    public Property AnExactRuleAdmitsOnlyItsHost(PositiveInt seed)
    {
        var random = new Random(seed.Get);
        string Label() => new([.. Enumerable.Range(0, random.Next(1, 9)).Select(_ => "abcdefghij0123-"[random.Next(15)] is var c && c == '-' ? 'x' : c)]);
        string host = string.Join('.', Enumerable.Range(0, random.Next(1, 4)).Select(_ => Label()));
        HostRules rules = Rules(host);
        string longer = Label() + "." + host;
        string suffix = host + "." + Label();
        return (rules.Match(host.ToUpperInvariant() + ".", null, null) is not null
            && rules.Match(longer, null, null) is null
            && rules.Match(suffix, null, null) is null).ToProperty();
    }

    [Fact]
    public void ThePolicyFileCarriesTheRules()
    {
        string json = """{ "allow": ["web.example"], "http": { "allow": ["web.example", "GET *.api.example/v1/", "tcp:git.example:22"], "observe": true } }""";
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "r.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        Assert.Equal(["web.example", "GET *.api.example/v1/", "tcp:git.example:22"], p!.Http.Rules.Select(r => r.Text));
        Assert.True(p.Http.Observe);
        Assert.False(ResolverPolicy.Default.Http.Active);
    }

    [Theory]
    [InlineData("{\n  \"http\": {\n    \"allow\": [\"web.example\", \"tcp:x:99999\"]\n  }\n}", "r.json:3:30: http.allow[1]: 'tcp:x:99999': expected tcp:NAME:PORT with a port from 1 to 65535, such as tcp:github.com:22")]
    [InlineData("{ \"http\": [] }", "r.json:1:11: http: expected an object such as { \"allow\": [\"api.example.com\"] }, got an array")]
    [InlineData("{ \"http\": { \"alow\": [] } }", "r.json:1:13: unknown key 'alow' in http (did you mean 'allow'? expected one of: allow, observe)")]
    [InlineData("{ \"http\": { \"allow\": [1] } }", "r.json:1:23: http.allow: expected an array of rule strings, got the number 1 at index 0")]
    [InlineData("{ \"http\": { \"observe\": \"yes\" } }", "r.json:1:24: http.observe: expected true or false, got a string")]
    public void BadHttpSectionsGiveFileLineColumn(string json, string expected)
    {
        Assert.False(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "r.json", out _, out PolicyError? e));
        Assert.Equal(expected, e!.ToString());
    }
}
