using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.E2E.Security;

/// <summary>
/// A directory the jailed command can see: the test's own temporary directory is under /tmp, which the jail replaces
/// with a private one, so files shared with a jail live under /var/lib instead, owned by the unprivileged user the
/// jail runs as (<see cref="Uid"/>) or by root. Removed with everything in it when disposed (and by the next run's
/// sweep if a run was killed).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class JailDirectory : IDisposable
{
    /// <summary>The unprivileged user the tests run jailed commands as (nobody on Debian).</summary>
    public const int Uid = 65534;

    public const string Prefix = "/var/lib/dnsw-e2e-jail-";

    private JailDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Makes an empty directory owned by <see cref="Uid"/> (or by root when <paramref name="rootOwned"/>), mode 0755.</summary>
    public static JailDirectory Create(string label, bool rootOwned = false)
    {
        SweepStale();
        string path = $"{Prefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{label}-{Guid.NewGuid().ToString("N")[..8]}";
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        if (!rootOwned)
        {
            Chown(path, Uid);
        }

        return new JailDirectory(path);
    }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Gives a file or directory to <paramref name="uid"/> (its group the same number), without following a link.</summary>
    public static void Chown(string path, int uid)
    {
        CommandResult r = ProcessRunner.RunAsync("chown", ["-h", $"{uid}:{uid}", path]).GetAwaiter().GetResult();
        r.EnsureSuccess();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Removes directories left by runs whose process is gone.</summary>
    private static void SweepStale()
    {
        foreach (string dir in Directory.GetDirectories("/var/lib", "dnsw-e2e-jail-*"))
        {
            string rest = dir[Prefix.Length..];
            int dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest[..dash], CultureInfo.InvariantCulture, out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
