using System.Diagnostics;
using System.Globalization;

namespace DnsWarden.Platform.Network;

/// <summary>One scope of <c>resolvectl status</c>: the global section or a link.</summary>
/// <param name="Servers">As resolvectl prints them: <c>ADDR</c>, <c>ADDR%IFACE</c>, or <c>ADDR#server-name</c> for DNS over TLS.</param>
public sealed record ResolvedScope(string Name, int? InterfaceIndex, string? CurrentServer, IReadOnlyList<string> Servers, IReadOnlyList<string> Domains, IReadOnlyList<string> Protocols);

/// <summary>
/// Best-effort reading of <c>resolvectl status --no-pager</c>: its layout is for people and may change between
/// systemd versions, so anything not understood is skipped rather than failed.
/// </summary>
public static class ResolvedStatus
{
    public const string UpstreamResolvConf = "/run/systemd/resolve/resolv.conf";
    public const string RuntimeDirectory = "/run/systemd/resolve";

    public static IReadOnlyList<ResolvedScope> Parse(string text)
    {
        var scopes = new List<ResolvedScope>();
        string? name = null;
        int? index = null;
        string? current = null;
        List<string> servers = [];
        List<string> domains = [];
        List<string> protocols = [];
        List<string>? continuing = null;

        void Flush()
        {
            if (name is not null)
            {
                scopes.Add(new ResolvedScope(name, index, current, servers, domains, protocols));
            }
        }

        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            string line = raw.TrimEnd().ToString();
            if (line.Length == 0)
            {
                continuing = null;
                continue;
            }

            if (line[0] != ' ')
            {
                if (line == "Global" || line.StartsWith("Link ", StringComparison.Ordinal))
                {
                    Flush();
                    (name, index) = ParseHeader(line);
                    current = null;
                    servers = [];
                    domains = [];
                    protocols = [];
                    continuing = null;
                    continue;
                }

                // "Current DNS Server: ..." is printed flush left in some versions.
            }

            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            string trimmed = line.Trim();
            if (colon < 0 || trimmed.EndsWith(':'))
            {
                string[] more = trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                continuing?.AddRange(more);
                continue;
            }

            string key = line[..colon].Trim();
            string[] values = line[(colon + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            continuing = null;
            switch (key)
            {
                case "Current DNS Server":
                    current = values.FirstOrDefault();
                    break;
                case "DNS Servers":
                    servers.AddRange(values);
                    continuing = servers;
                    break;
                case "DNS Domain":
                    domains.AddRange(values);
                    continuing = domains;
                    break;
                case "Protocols":
                    protocols.AddRange(values);
                    continuing = protocols;
                    break;
            }
        }

        Flush();
        return scopes;
    }

    /// <summary>Runs <c>resolvectl status --no-pager</c> when resolvectl is on PATH; null when absent, failing or slow.</summary>
    public static string? TryRun(TimeSpan timeout)
    {
        string? exe = FindOnPath("resolvectl");
        if (exe is null)
        {
            return null;
        }

        try
        {
            using var p = new Process
            {
                StartInfo = new ProcessStartInfo(exe, ["status", "--no-pager"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                },
            };
            p.Start();
            // Disposed here: Process.Dispose leaves streams read synchronously open until a finalizer runs.
            using StreamReader stdoutReader = p.StandardOutput;
            using StreamReader stderrReader = p.StandardError;
            Task<string> stdout = stdoutReader.ReadToEndAsync();
            _ = stderrReader.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill();
                return null;
            }

            return p.ExitCode == 0 ? stdout.GetAwaiter().GetResult() : null;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    private static (string Name, int? Index) ParseHeader(string line)
    {
        if (line == "Global")
        {
            return ("global", null);
        }

        // "Link 2 (eth0)"
        int open = line.IndexOf('(', StringComparison.Ordinal);
        int close = line.LastIndexOf(')');
        string number = (open > 5 ? line[5..open] : line[5..]).Trim();
        int? index = int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : null;
        string name = open >= 0 && close > open ? line[(open + 1)..close] : number;
        return (name, index);
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
