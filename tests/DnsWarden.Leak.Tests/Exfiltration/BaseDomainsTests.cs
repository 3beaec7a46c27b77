using DnsWarden.Indicators;
using DnsWarden.Leak.Rules;

namespace DnsWarden.Leak.Tests.Exfiltration;

public sealed class BaseDomainsTests
{
    private static BaseDomains Debian()
    {
        if (!File.Exists(BaseDomains.DebianListPath))
        {
            Assert.Skip("Debian's publicsuffix package is not installed (scripts/setup.sh installs it)");
        }

        return BaseDomains.FromList(File.ReadAllText(BaseDomains.DebianListPath));
    }

    [Theory]
    [InlineData("www.example.com", "example.com")]
    [InlineData("WWW.Example.COM.", "example.com")]
    [InlineData("example.com", "example.com")]
    [InlineData("com", "com")]
    [InlineData("a.b.c.example.com", "example.com")]
    [InlineData("news.bbc.co.uk", "bbc.co.uk")]
    [InlineData("bbc.co.uk", "bbc.co.uk")]
    [InlineData("co.uk", "co.uk")]
    [InlineData("user.github.io", "user.github.io")]
    [InlineData("www.user.github.io", "user.github.io")]
    [InlineData("github.io", "github.io")]
    [InlineData("www.ck", "www.ck")]
    [InlineData("a.www.ck", "www.ck")]
    [InlineData("foo.ck", "foo.ck")]
    [InlineData("bar.foo.ck", "bar.foo.ck")]
    [InlineData("x.bar.foo.ck", "bar.foo.ck")]
    [InlineData("localhost", "localhost")]
    [InlineData("host.unknowntld", "host.unknowntld")]
    [InlineData("a.host.unknowntld", "host.unknowntld")]
    [InlineData("", "")]
    [InlineData(".", "")]
    public void Debian_list(string name, string expected) => Assert.Equal(expected, Debian().GetBaseDomain(name));

    [Theory]
    // Wildcard with an exception deeper in the tree (*.kawasaki.jp, !city.kawasaki.jp).
    [InlineData("www.city.kawasaki.jp", "city.kawasaki.jp")]
    [InlineData("city.kawasaki.jp", "city.kawasaki.jp")]
    [InlineData("a.b.kawasaki.jp", "a.b.kawasaki.jp")]
    [InlineData("x.a.b.kawasaki.jp", "a.b.kawasaki.jp")]
    // IDN rules are stored as punycode; DNS carries punycode, a Unicode name is converted.
    [InlineData("shop.example.xn--55qx5d.cn", "example.xn--55qx5d.cn")]
    [InlineData("shop.example.公司.cn", "example.xn--55qx5d.cn")]
    [InlineData("xn--55qx5d.cn", "xn--55qx5d.cn")]
    public void Debian_list_deeper_rules(string name, string expected) => Assert.Equal(expected, Debian().GetBaseDomain(name));

    [Fact]
    public void Default_uses_the_Debian_list_when_present()
    {
        BaseDomains d = BaseDomains.Default;
        if (File.Exists(BaseDomains.DebianListPath))
        {
            Assert.Equal(BaseDomains.DebianListPath, d.Source);
            Assert.True(d.RuleCount > 5000, $"{d.RuleCount} rules");
        }
        else
        {
            Assert.Equal("fallback", d.Source);
        }

        Assert.Equal("bbc.co.uk", d.GetBaseDomain("www.bbc.co.uk"));
    }

    [Theory]
    [InlineData("news.bbc.co.uk", "bbc.co.uk")]
    [InlineData("www.example.com", "example.com")]
    [InlineData("abc.user.github.io", "user.github.io")]
    [InlineData("d111111abcdef8.cloudfront.net", "d111111abcdef8.cloudfront.net")]
    [InlineData("a.www.ck", "www.ck")]
    [InlineData("bar.foo.ck", "bar.foo.ck")]
    [InlineData("x.y.example.com.au", "example.com.au")]
    [InlineData("x.y.example.de", "example.de")]
    public void Fallback_list(string name, string expected)
    {
        Assert.Equal("fallback", BaseDomains.Fallback.Source);
        Assert.Equal(expected, BaseDomains.Fallback.GetBaseDomain(name));
    }

    [Fact]
    public void FromList_reads_comments_blank_lines_and_trailing_text()
    {
        BaseDomains b = BaseDomains.FromList("""
            // comment
               
            example   this text after whitespace is ignored
            *.wild.example
            !keep.wild.example
            """);
        Assert.Equal(3, b.RuleCount);
        Assert.Equal("a.example", b.GetBaseDomain("x.a.example"));
        Assert.Equal("b.c.wild.example", b.GetBaseDomain("a.b.c.wild.example"));
        Assert.Equal("keep.wild.example", b.GetBaseDomain("z.keep.wild.example"));
        Assert.Equal("other.org", b.GetBaseDomain("x.other.org"));
    }

    [Fact]
    public void Odd_names_do_not_throw()
    {
        BaseDomains b = BaseDomains.Fallback;
        string many = string.Join('.', Enumerable.Repeat("a", 300)) + ".com";
        Assert.Equal("a.com", b.GetBaseDomain(many));
        _ = b.GetBaseDomain("..com");
        _ = b.GetBaseDomain("a..b");
        _ = b.GetBaseDomain("\u0000.\uFFFF");
        _ = b.GetBaseDomain(new string('x', 5000));
    }
}
