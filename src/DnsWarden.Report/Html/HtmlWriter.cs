using System.Globalization;
using System.Text;

namespace DnsWarden.Report.Html;

/// <summary>
/// Builds markup: tag and attribute names are the caller's constants, every text and attribute value is escaped
/// (<see cref="HtmlText"/>). Numbers are written with the invariant culture. SVG inside the page is written the same way.
/// </summary>
public sealed class HtmlWriter
{
    private readonly StringBuilder _sb = new();

    public int Length => _sb.Length;

    /// <summary>An opening tag; an attribute whose value is null is written bare (<c>hidden</c>, <c>open</c>).</summary>
    public HtmlWriter Open(string tag, params ReadOnlySpan<(string Name, string? Value)> attributes)
    {
        _sb.Append('<').Append(tag);
        foreach ((string name, string? value) in attributes)
        {
            _sb.Append(' ').Append(name);
            if (value is not null)
            {
                _sb.Append("=\"");
                HtmlText.Append(_sb, value);
                _sb.Append('"');
            }
        }

        _sb.Append('>');
        return this;
    }

    public HtmlWriter Close(string tag)
    {
        _sb.Append("</").Append(tag).Append('>');
        return this;
    }

    /// <summary>An element with text content.</summary>
    public HtmlWriter Element(string tag, string? text, params ReadOnlySpan<(string Name, string? Value)> attributes)
    {
        Open(tag, attributes);
        HtmlText.Append(_sb, text);
        return Close(tag);
    }

    /// <summary>An element with no content and no closing tag (<c>meta</c>, SVG shapes written self-closed).</summary>
    public HtmlWriter Empty(string tag, params ReadOnlySpan<(string Name, string? Value)> attributes)
    {
        Open(tag, attributes);
        _sb.Insert(_sb.Length - 1, '/');
        return this;
    }

    public HtmlWriter Text(string? text)
    {
        HtmlText.Append(_sb, text);
        return this;
    }

    public HtmlWriter Line()
    {
        _sb.Append('\n');
        return this;
    }

    /// <summary>Markup made by another writer of ours (already escaped).</summary>
    public HtmlWriter Append(HtmlWriter other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _sb.Append(other._sb);
        return this;
    }

    public override string ToString() => _sb.ToString();

    /// <summary>A number for an attribute (coordinates): invariant, at most two decimals.</summary>
    public static string Num(double value) => Math.Round(value, 2).ToString(CultureInfo.InvariantCulture);

    public static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Raw markup from a constant of ours: the document's frame, never data.</summary>
    internal HtmlWriter Trusted(string markup)
    {
        _sb.Append(markup);
        return this;
    }
}
