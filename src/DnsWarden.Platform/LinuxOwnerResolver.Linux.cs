using System.Runtime.Versioning;

namespace DnsWarden.Platform;

/// <summary>Socket inode + uid → the owning process, shared by the sock_diag and /proc/net providers.</summary>
[SupportedOSPlatform("linux")]
internal sealed class LinuxOwnerResolver
{
    private readonly ProcSocketTable _sockets;
    private readonly ProcessFactsCache _facts = new();

    public LinuxOwnerResolver(TimeSpan rescanInterval) => _sockets = new ProcSocketTable(rescanInterval);

    internal ProcSocketTable Sockets => _sockets;

    public OwnerLookup Resolve(ulong inode, int uid, OwnerConfidence confidence, string? reason)
    {
        // Inode 0: TIME_WAIT and other sockets no longer attached to a file.
        if (inode == 0)
        {
            return OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        if (!_sockets.TryFind(inode, out int pid, out IReadOnlyList<int>? holders))
        {
            return _sockets.DeniedPid >= 0
                ? OwnerLookup.Unknown(OwnerReasons.OwnerNotFound(_sockets.DeniedPid))
                : OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        if (holders is { Count: > 1 })
        {
            pid = PickHolder(holders);
            confidence = OwnerConfidence.Low;
            reason = Join(reason, OwnerReasons.Shared(holders.Count));
        }

        ProcessFacts? facts = _facts.Get(pid);
        if (facts is null)
        {
            return OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        if (facts.Uid is null && uid >= 0)
        {
            facts = facts with { Uid = uid };
        }

        return new OwnerLookup(facts, confidence, confidence == OwnerConfidence.High ? null : reason);
    }

    public static string Join(string? first, string second) => first is null ? second : $"{first}; {second}";

    /// <summary>A forked child inherits its parent's sockets; the one that is nobody's parent is the likelier sender.</summary>
    private int PickHolder(IReadOnlyList<int> holders)
    {
        int best = -1;
        foreach (int candidate in holders)
        {
            bool isParent = false;
            foreach (int other in holders)
            {
                if (other != candidate && _facts.ParentOf(other) == candidate)
                {
                    isParent = true;
                    break;
                }
            }

            if (!isParent && (best < 0 || candidate < best))
            {
                best = candidate;
            }
        }

        return best < 0 ? holders[0] : best;
    }
}
