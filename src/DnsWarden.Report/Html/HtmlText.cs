using System.Globalization;
using System.Text;

namespace DnsWarden.Report.Html;

/// <summary>
/// Text into HTML. Every string that reaches a page goes through here: query names, process names and command lines,
/// interface names and evidence come from the network or from other people's processes, and a name such as
/// <c>&lt;/script&gt;&lt;script&gt;…</c> must arrive as text, never as markup.
/// </summary>
public static class HtmlText
{
    /// <summary>
    /// Escapes for element content and quoted attribute values alike (the five characters HTML gives meaning to), and
    /// shows control characters as <c>\xNN</c>, as the terminal output does.
    /// </summary>
    public static void Append(StringBuilder target, string? text)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (text is null)
        {
            return;
        }

        foreach (char c in text)
        {
            switch (c)
            {
                case '&':
                    target.Append("&amp;");
                    break;
                case '<':
                    target.Append("&lt;");
                    break;
                case '>':
                    target.Append("&gt;");
                    break;
                case '"':
                    target.Append("&quot;");
                    break;
                case '\'':
                    target.Append("&#39;");
                    break;
                default:
                    if (char.IsControl(c) && c is not ('\n' or '\t'))
                    {
                        target.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        target.Append(c);
                    }

                    break;
            }
        }
    }

    public static string Escape(string? text)
    {
        var sb = new StringBuilder(text?.Length ?? 0);
        Append(sb, text);
        return sb.ToString();
    }
}
