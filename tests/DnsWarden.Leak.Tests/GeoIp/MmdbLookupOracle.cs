using System.Diagnostics;
using System.Text.RegularExpressions;

namespace DnsWarden.Leak.Tests.GeoIp;

/// <summary>libmaxminddb's <c>mmdblookup</c> (Debian mmdb-bin), the reference reader our test files are checked with.</summary>
internal static partial class MmdbLookupOracle
{
    public static string? Path { get; } = Find();

    public static void SkipIfMissing()
    {
        if (Path is null)
        {
            Assert.Skip("mmdblookup not installed (apt-get install mmdb-bin; scripts/setup.sh --test installs it)");
        }
    }

    /// <summary>The value at a data path for an address: a string without quotes, or a number; null for no entry.</summary>
    public static string? Lookup(string file, string ip, params string[] dataPath)
    {
        (int exit, string stdout, string stderr) = Run(["--file", file, "--ip", ip, .. dataPath]);
        if (stderr.Contains("Could not find an entry", StringComparison.Ordinal))
        {
            return null;
        }

        if (exit != 0)
        {
            throw new InvalidOperationException($"mmdblookup failed ({exit}): {stderr}");
        }

        if (stdout.Contains("Could not find an entry", StringComparison.Ordinal)
            || stdout.Contains("No data was found", StringComparison.Ordinal))
        {
            return null;
        }

        Match m = ScalarLine().Match(stdout);
        if (!m.Success)
        {
            throw new InvalidOperationException($"unexpected mmdblookup output: {stdout}");
        }

        string v = m.Groups["v"].Value;
        return v.StartsWith('"') ? v[1..^1] : v;
    }

    /// <summary>True when mmdblookup opens the file and can look up one address in it.</summary>
    public static bool Accepts(string file, string ip)
    {
        (int exit, _, _) = Run(["--file", file, "--ip", ip]);
        return exit == 0;
    }

    private static (int Exit, string Stdout, string Stderr) Run(string[] args)
    {
        var psi = new ProcessStartInfo(Path!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        using StreamReader stderrReader = p.StandardError;
        using StreamReader stdoutReader = p.StandardOutput;
        Task<string> err = stderrReader.ReadToEndAsync();
        string stdout = stdoutReader.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.Result);
    }

    private static string? Find()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            string candidate = System.IO.Path.Combine(dir, "mmdblookup");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    [GeneratedRegex(@"^\s*(?<v>""[^""]*""|[-0-9.]+)\s+<\w+>\s*$")]
    private static partial Regex ScalarLine();
}
