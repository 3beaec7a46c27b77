using DnsWarden.Report.Html;

namespace DnsWarden.Report.Tests;

public sealed class HtmlTextTests
{
    [Theory]
    [InlineData("plain.example", "plain.example")]
    [InlineData("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;")]
    [InlineData("\"onmouseover=\"alert(1)", "&quot;onmouseover=&quot;alert(1)")]
    [InlineData("'x'&y", "&#39;x&#39;&amp;y")]
    [InlineData("a\u0000b\u001bc\u007f", "a\\x00b\\x1bc\\x7f")]
    [InlineData("tab\tand\nline", "tab\tand\nline")]
    [InlineData("é – ✓", "é – ✓")]
    public void Escape(string text, string expected) => Assert.Equal(expected, HtmlText.Escape(text));

    [Fact]
    public void Writer_EscapesEveryAttributeValueAndText_NamesAreOurs()
    {
        var w = new HtmlWriter();
        w.Open("td", ("data-process", "\"><script>x</script>"), ("hidden", null)).Text("</td><img src=x>").Close("td");
        Assert.Equal("<td data-process=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\" hidden>&lt;/td&gt;&lt;img src=x&gt;</td>", w.ToString());
    }
}
