using System.Globalization;

namespace DnsWarden.Guard;

/// <summary>
/// The owner files under <see cref="Directory"/> that let a later run tell what a dead jail or TUN filter left from
/// what a live one holds: "PID START", START being field 22 of /proc/PID/stat, so a recycled pid is not the owner.
/// </summary>
internal static class OwnerRecord
{
    public const string Directory = "/run/dnsw";

    public static void Write(string path, int pid)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, pid.ToString(CultureInfo.InvariantCulture) + " " + StartTime(pid));
    }

    /// <summary>The pid in <paramref name="path"/> while that very process lives; null when the file is missing or malformed, or the process is gone or another one.</summary>
    public static int? LiveOwner(string path)
    {
        try
        {
            string[] f = File.ReadAllText(path).Trim().Split(' ');
            return f.Length == 2 && int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && StartTime(pid) == f[1]
                ? pid
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string StartTime(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[19];
    }
}
