using System.Globalization;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E;

/// <summary>
/// Debian's <c>chromium</c>, headless, inside a network namespace of its own that has only <c>lo</c>: a page it renders
/// cannot reach anything, even by accident. Each run gets a fresh profile directory (inside the topology's temp
/// directory, removed at teardown) and has every background service that could phone home switched off.
/// <c>--dump-dom</c> prints the DOM after the page's scripts ran at load; <c>--screenshot</c> writes a PNG.
/// </summary>
public sealed partial class HeadlessChromium
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(90);

    private readonly TestNet _net;
    private int _runs;

    private HeadlessChromium(TestNet net, string netns)
    {
        _net = net;
        Namespace = netns;
    }

    public string Namespace { get; }

    public static string? SkipReason() => HostTools.NotRootReason() ?? HostTools.MissingToolsReason("chromium", "ip");

    /// <summary>A namespace with <c>lo</c> only (checked), for the browser.</summary>
    public static async Task<HeadlessChromium> StartAsync(TestNet net)
    {
        string netns = await net.AddNamespaceAsync("browser");
        CommandResult links = await ProcessRunner.RunAsync("ip", ["-n", netns, "-o", "link", "show"]);
        links.EnsureSuccess();
        string[] names = [.. LinkNameRegex().Matches(links.StdOut).Select(m => m.Groups[1].Value)];
        Assert.True(names is ["lo"], "the browser's namespace must have lo only: " + links.StdOut);
        return new HeadlessChromium(net, netns);
    }

    /// <summary>The DOM of <paramref name="url"/> after its scripts ran at load.</summary>
    public async Task<CommandResult> DumpDomAsync(string url)
    {
        CommandResult r = await RunAsync(["--dump-dom", url]);
        Assert.True(r.Succeeded && r.StdOut.Contains("</html>", StringComparison.Ordinal), r.Describe());
        return r;
    }

    /// <summary>A PNG of the page at <paramref name="width"/> × <paramref name="height"/>.</summary>
    public async Task<CommandResult> ScreenshotAsync(string url, string pngPath, int width, int height)
    {
        CommandResult r = await RunAsync(
            [$"--screenshot={pngPath}", string.Create(CultureInfo.InvariantCulture, $"--window-size={width},{height}"), "--hide-scrollbars", url]);
        Assert.True(r.Succeeded && File.Exists(pngPath), r.Describe());
        byte[] magic = new byte[8];
        using (FileStream png = File.OpenRead(pngPath))
        {
            png.ReadExactly(magic);
        }

        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, magic);
        return r;
    }

    private async Task<CommandResult> RunAsync(IReadOnlyList<string> args)
    {
        int run = Interlocked.Increment(ref _runs);
        string profile = _net.TempPath("chromium-profile-" + run.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(profile);

        // Chromium also writes outside its profile (crash-report settings under ~/.config/chromium, GTK's dconf under
        // ~/.cache): its home is the profile too, and the real home is checked unchanged.
        string before = HomeState();
        string[] argv =
        [
            "HOME=" + profile, "XDG_CONFIG_HOME=" + Path.Combine(profile, "config"), "XDG_CACHE_HOME=" + Path.Combine(profile, "cache"),
            HostTools.Resolve("chromium"),
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
            // Console messages (a Content-Security-Policy refusal among them) go to stderr, for the tests to read.
            "--enable-logging=stderr",
            .. args,
        ];
        CommandResult r = await _net.ExecAsync(Namespace, "env", argv, s_timeout);
        Assert.True(before == HomeState(), "chromium wrote under the real home directory:\n" + before + "\n" + HomeState());
        return r;
    }

    /// <summary>What chromium would leave in the real home: the paths, and every file's time and size.</summary>
    private static string HomeState()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var state = new List<string>();
        foreach (string dir in new[] { Path.Combine(home, ".config", "chromium"), Path.Combine(home, ".cache", "dconf"), Path.Combine(home, ".pki") })
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            state.AddRange(Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)
                .Select(f => $"{f} {File.GetLastWriteTimeUtc(f).Ticks.ToString(CultureInfo.InvariantCulture)}"));
            state.Add(dir);
        }

        return string.Join('\n', state.Order(StringComparer.Ordinal));
    }

    [GeneratedRegex(@"^\d+:\s+([^:@\s]+)", RegexOptions.Multiline)]
    private static partial Regex LinkNameRegex();
}
