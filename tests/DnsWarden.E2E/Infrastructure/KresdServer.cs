using System.Text;

namespace DnsWarden.E2E;

/// <summary>Starts knot-resolver inside a test namespace with a configuration that never reaches for the real root.</summary>
public static class KresdServer
{
    /// <summary>
    /// Writes <c>config.lua</c> into a fresh run directory — the offline preamble (no priming, no time-skew checks, no
    /// trust-anchor signalling, no root anchor, a 10 MB cache) followed by <paramref name="lua"/> — and starts kresd,
    /// returning once <paramref name="waitFor"/> listen.
    /// </summary>
    public static async Task<NetnsProcess> StartAsync(TestNet net, string netns, string rundirName, IEnumerable<string> lua, IReadOnlyList<Listener> waitFor)
    {
        string rundir = net.TempPath(rundirName);
        Directory.CreateDirectory(rundir);
        string config = Path.Combine(rundir, "config.lua");
        var text = new StringBuilder();
        text.AppendLine("modules.unload('priming')");
        text.AppendLine("modules.unload('detect_time_skew')");
        text.AppendLine("modules.unload('detect_time_jump')");
        text.AppendLine("modules.unload('ta_signal_query')");
        text.AppendLine("trust_anchors.remove('.')");
        text.AppendLine("cache.size = 10 * MB");
        foreach (string line in lua)
        {
            text.AppendLine(line);
        }

        await File.WriteAllTextAsync(config, text.ToString());
        return await net.StartServerAsync(netns, "kresd", "kresd", ["-n", "-c", config, rundir], waitFor);
    }
}
