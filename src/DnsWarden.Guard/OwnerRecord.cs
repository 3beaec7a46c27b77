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
    public static int? LiveOwner(string path) => LiveIdentity(path)?.Pid;

    /// <summary>The process named in <paramref name="path"/> while it lives; null as for <see cref="LiveOwner"/>.</summary>
    public static ProcessIdentity? LiveIdentity(string path)
    {
        string[]? f = Fields(path);
        return f is { Length: >= 2 } && ProcessIdentity.TryParse(f[0] + " " + f[1], out ProcessIdentity owner) && owner.IsAlive ? owner : null;
    }

    /// <summary>Whether the record was written in the calling thread's network namespace (a record without one counts as here).</summary>
    public static bool IsFromHere(string path)
    {
        string[]? f = Fields(path);
        return f is null || f.Length < 3 || f[2] == NetworkNamespace.CurrentId();
    }

    /// <summary>
    /// Forgets what dead owners left in network namespaces that no longer exist: a jail or TUN record whose owner is
    /// dead, whose namespace of origin is gone (its veth, NAT table and forwarding went with it) and whose own
    /// namespace (<c>dnsw-jail-ID</c>, or the TUN's target) is gone too, and forwarding leases of gone namespaces.
    /// Such records could never be undone by any run (a run can only undo what was made from its own namespace), so
    /// without this they would stay in /run/dnsw for good after, say, a test's namespace was removed under a killed
    /// jail. Records of a live namespace are left to <c>--cleanup</c> there.
    /// </summary>
    public static void SweepOrphans()
    {
        using (RunDirectory.Lock())
        {
            // Taken under the lock: a namespace made, and its records written, after a scan taken before it would be missing from it.
            IReadOnlySet<string> live = NetworkNamespace.LiveIds();
            foreach (string path in System.IO.Directory.GetFiles(Directory, "*.pid"))
            {
                string name = Path.GetFileNameWithoutExtension(path);
                string? ownNamespace = name.StartsWith("jail-", StringComparison.Ordinal) ? "dnsw-jail-" + name["jail-".Length..]
                    : name.StartsWith("tun-", StringComparison.Ordinal) ? name["tun-".Length..]
                    : null;
                if (ownNamespace is null || LiveOwner(path) is not null || NetworkNamespace.Exists(ownNamespace) || !OriginGone(path, live))
                {
                    continue;
                }

                File.Delete(path);
                File.Delete(Path.ChangeExtension(path, ".sock"));
                File.Delete(Path.ChangeExtension(path, ".keeper"));

                // An intercepting jail's trust files (Jail.Interception.JailTrustFiles) go with its record.
                string trust = Path.ChangeExtension(path, ".trust");
                if (System.IO.Directory.Exists(trust))
                {
                    System.IO.Directory.Delete(trust, recursive: true);
                }
            }

            HostForwarding.ForgetGoneNamespaces(live);
            RunDirectory.RemoveIfEmpty();
        }
    }

    private static bool OriginGone(string path, IReadOnlySet<string> live)
    {
        string[]? f = Fields(path);
        return f is not null && f.Length >= 3 && !live.Contains(f[2]);
    }

    /// <summary>The record's fields ("PID START NETNS"); null when it cannot be read.</summary>
    private static string[]? Fields(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim().Split(' ');
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
