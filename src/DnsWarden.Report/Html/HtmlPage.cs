using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace DnsWarden.Report.Html;

/// <summary>
/// One self-contained page: the style sheet and the script are inline, charts are inline SVG, nothing is fetched
/// when it is opened (no font, no image, no library from elsewhere). A Content-Security-Policy says so to the
/// browser as well: nothing may load, and only the page's own style and script (by their SHA-256) may apply — so
/// even markup that slipped through escaping could not run a script or reach the network.
/// </summary>
public static class HtmlPage
{
    private static readonly Lazy<string> s_css = new(() => Resource("report.css"));
    private static readonly Lazy<string> s_js = new(() => Resource("report.js"));

    /// <summary>The whole document around <paramref name="body"/>.</summary>
    public static string Document(string title, HtmlWriter body)
    {
        ArgumentNullException.ThrowIfNull(body);
        string css = s_css.Value;
        string js = s_js.Value;
        string policy =
            $"default-src 'none'; style-src 'sha256-{Hash(css)}'; script-src 'sha256-{Hash(js)}'; img-src data:; base-uri 'none'; form-action 'none'";
        var page = new HtmlWriter();
        page.Trusted("<!DOCTYPE html>\n").Open("html", ("lang", "en")).Open("head")
            .Empty("meta", ("charset", "utf-8"))
            .Empty("meta", ("http-equiv", "Content-Security-Policy"), ("content", policy))
            .Empty("meta", ("name", "referrer"), ("content", "no-referrer"))
            .Empty("meta", ("name", "viewport"), ("content", "width=device-width, initial-scale=1"))
            .Element("title", title)
            .Open("style").Trusted(css).Close("style")
            .Close("head").Line()
            .Open("body").Line()
            .Append(body)
            .Open("script").Trusted(js).Close("script").Line()
            .Close("body").Close("html").Line();
        return page.ToString();
    }

    /// <summary>Writes the document as UTF-8 (no byte-order mark).</summary>
    public static void Write(Stream target, string document)
    {
        ArgumentNullException.ThrowIfNull(target);
        byte[] bytes = new UTF8Encoding(false).GetBytes(document);
        target.Write(bytes);
    }

    private static string Hash(string content) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    private static string Resource(string name)
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"resource {name} is missing from the build");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
