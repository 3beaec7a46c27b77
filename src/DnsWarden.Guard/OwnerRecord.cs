using System.Runtime.Versioning;
using DnsWarden.Platform;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard;

/// <summary>
/// The owner files under <see cref="Directory"/> that let a later run tell what a dead jail or TUN filter left from
/// what a live one holds: "PID START NETNS" — the owner (<see cref="ProcessIdentity"/>: a recycled pid is not the
/// owner, a zombie is dead) and the network namespace it ran in, whose interfaces, tables and forwarding only a run in
/// that same namespace can undo.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class OwnerRecord
{
    public const string Directory = RunDirectory.Path;

    public static void Write(string path, int pid)
    {
        ProcessIdentity owner = ProcessIdentity.Of(pid) ?? throw new InvalidOperationException($"process {pid} is not running");
        using (RunDirectory.Lock())
        {
            File.WriteAllText(path, owner + " " + NetworkNamespace.CurrentId());
        }
    }

    /// <summary>The pid in <paramref name="path"/> while that very process lives; null when the file is missing or malformed, or the process is gone, a zombie or another one.</summary>
    public static int? LiveOwner(string path)
    {
        try
        {
            string[] f = File.ReadAllText(path).Trim().Split(' ');
            return f.Length >= 2 && ProcessIdentity.TryParse(f[0] + " " + f[1], out ProcessIdentity owner) && owner.IsAlive ? owner.Pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether the record was written in the calling thread's network namespace (a record without one counts as here).</summary>
    public static bool IsFromHere(string path)
    {
        try
        {
            string[] f = File.ReadAllText(path).Trim().Split(' ');
            return f.Length < 3 || f[2] == NetworkNamespace.CurrentId();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>Removes an owner file, and the directory with the last one.</summary>
    public static void Delete(string path)
    {
        using (RunDirectory.Lock())
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }

            RunDirectory.RemoveIfEmpty();
        }
    }
}
