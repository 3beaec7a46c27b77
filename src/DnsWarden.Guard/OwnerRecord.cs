using System.Runtime.Versioning;
using DnsWarden.Platform;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard;

/// <summary>
/// The owner files under <see cref="Directory"/> that let a later run tell what a dead jail or TUN filter left from
/// what a live one holds: "PID START" (<see cref="ProcessIdentity"/>), so a recycled pid is not the owner and a
/// zombie (killed, not yet reaped) is dead.
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
            File.WriteAllText(path, owner.ToString());
        }
    }

    /// <summary>The pid in <paramref name="path"/> while that very process lives; null when the file is missing or malformed, or the process is gone, a zombie or another one.</summary>
    public static int? LiveOwner(string path)
    {
        try
        {
            return ProcessIdentity.TryParse(File.ReadAllText(path), out ProcessIdentity owner) && owner.IsAlive ? owner.Pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
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
