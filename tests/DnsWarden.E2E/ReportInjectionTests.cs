using System.Text.Json;
using System.Text.RegularExpressions;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.E2E;

/// <summary>
/// Names in a report come from packets and capture files, and whoever sends the packets chooses them. A capture
/// whose query names and interface names are markup goes through <c>dnsw leak watch --html</c>, and headless Chromium
/// renders the page: no script but the page's own runs, the DOM holds the names as text, and the page's filters still
/// find the rows by those names.
/// </summary>
public sealed class ReportInjectionTests
{
    private const string ScriptName = "</script><script>document.title='pwned'</script>.evil.test";
    private const string QuoteName = "\"onmouseover=\"document.title='pwned'\"x=\".evil.test";
    private const string ImageInterface = "<img src=x onerror=\"document.title='pwned'\">";
    private const string QuoteInterface = "\"><svg onload=\"document.title='pwned'\">";

    [Fact]
    public async Task HostileNames_RenderAsText_NoScriptButThePagesOwnRuns()
    {
        string? skip = HeadlessChromium.SkipReason();
        if (skip is not null)
        {
            Assert.Skip(skip);
        }

        await using TestNet net = await TestNet.CreateAsync();
        string capture = net.TempPath("hostile.pcapng"), events = net.TempPath("hostile.jsonl"), html = net.TempPath("hostile.html");
        WriteCapture(capture);
        CommandResult watch = await ProcessRunner.RunAsync(
            DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--pcap", capture, "--privacy", "full", "--out", events, "--html", html],
            TimeSpan.FromSeconds(60));
        Assert.True(watch.ExitCode == 2, watch.Describe());
        List<JsonElement> written = [.. File.ReadAllLines(events).Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("event").GetString() == "leak")];
        Assert.Equal(2, written.Count);

        HeadlessChromium browser = await HeadlessChromium.StartAsync(net);
        string url = new Uri(html).AbsoluteUri;
        CommandResult page = await browser.DumpDomAsync(url);
        string dom = page.StdOut;

        // Nothing of the attacker's ran: the title is the page's, there is one script element (ours, which did run:
        // it marks the table), no image or SVG with a handler, and the browser refused nothing under the page's policy.
        Assert.Contains("<title>dnsw leak report</title>", dom, StringComparison.Ordinal);
        Assert.Single(Regex.Matches(dom, "<script", RegexOptions.IgnoreCase));
        Assert.DoesNotContain("<img", dom, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(new Regex("<svg[^>]*onload", RegexOptions.IgnoreCase), dom);
        Assert.Contains("data-filtered=\"\"", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("Refused to", page.StdErr, StringComparison.Ordinal);

        // The names are in the DOM as text, exactly as the events file holds them.
        foreach (JsonElement e in written)
        {
            Assert.Contains(Text(e.GetProperty("qname").GetString()!), dom, StringComparison.Ordinal);
        }

        // And the filters find each row by its hostile interface name, as data.
        foreach (string iface in new[] { ImageInterface, QuoteInterface })
        {
            string filtered = (await browser.DumpDomAsync(url + "#iface=" + Uri.EscapeDataString(iface))).StdOut;
            Assert.Single(Regex.Matches(filtered, "<tr class=\"ev\"[^>]*>"), m => !m.Value.Contains("hidden", StringComparison.Ordinal));
            Assert.Contains("<span id=\"shown\">1</span>", filtered, StringComparison.Ordinal);
            Assert.Contains("<title>dnsw leak report</title>", filtered, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OutputPathsThatAreLinksOrPipes_AreRefusedInOneLine_BeforeAnyWork()
    {
        string dir = Directory.CreateTempSubdirectory("dnsw-output-").FullName;
        try
        {
            string capture = Path.Combine(dir, "hostile.pcapng");
            WriteCapture(capture);
            string precious = Path.Combine(dir, "precious");
            await File.WriteAllTextAsync(precious, "keep me");
            string link = Path.Combine(dir, "evidence.pcapng");
            File.CreateSymbolicLink(link, precious);
            string fifo = Path.Combine(dir, "report.html");
            (await ProcessRunner.RunAsync("mkfifo", [fifo])).EnsureSuccess();

            foreach (string[] flags in new[] { new[] { "--write-pcap", link }, ["--html", fifo] })
            {
                CommandResult r = await ProcessRunner.RunAsync(
                    DnswProgram.Program, [.. DnswProgram.Prefix, "leak", "watch", "--pcap", capture, .. flags], TimeSpan.FromSeconds(60));
                Assert.True(r.ExitCode == 3, r.Describe());
                string line = Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.StartsWith($"dnsw: {flags[0]} {flags[1]}: ", line, StringComparison.Ordinal);
                Assert.Empty(r.StdOut); // refused before the capture was read
            }

            Assert.Equal("keep me", await File.ReadAllTextAsync(precious));
            Assert.Equal(precious, new FileInfo(link).LinkTarget);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>How Chromium serialises a text node: &amp;, &lt; and &gt; escaped.</summary>
    private static string Text(string s) =>
        s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>Two leaked queries, each on an interface named with markup, for names made of markup.</summary>
    private static void WriteCapture(string path)
    {
        using var writer = new PcapNgWriter(File.Create(path));
        int image = writer.AddInterface(LinkType.Raw, ImageInterface);
        int quote = writer.AddInterface(LinkType.Raw, QuoteInterface);
        long t = 1_767_225_600_000_000_000L;
        IpAddr client = IpAddr.Parse("192.168.1.20"), resolver = IpAddr.Parse("203.0.113.53");
        writer.WritePacket(image, t, Udp(client, resolver, 40000, Query(ScriptName, 0x1111)));
        writer.WritePacket(quote, t + 1_000_000, Udp(client, resolver, 40001, Query(QuoteName, 0x2222)));
    }

    private static byte[] Query(string name, ushort id)
    {
        byte[] buffer = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buffer, id, name, DnsType.A, true, null, out int n), "cannot write " + name);
        return buffer[..n];
    }

    private static byte[] Udp(IpAddr src, IpAddr dst, ushort sport, byte[] payload)
    {
        byte[] buffer = new byte[payload.Length + 64];
        Assert.True(PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sport, 53, payload, out int n));
        return buffer[..n];
    }
}
