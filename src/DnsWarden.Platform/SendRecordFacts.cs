using System.Text;
using DnsWarden.Platform.Interop.Linux.Bpf;

namespace DnsWarden.Platform;

/// <summary>
/// A send-time record as process facts. The record itself names the process (its leader's comm), the sending
/// thread, ids, cgroup and up to four ancestors, all read in the kernel while the process ran; /proc adds the
/// executable, the command line and the rest of the parent chain when the process is still there to read.
/// </summary>
internal static class SendRecordFacts
{
    /// <param name="live">/proc facts of the record's tgid, read as the record arrived; ignored when they name another program (the pid was reused).</param>
    /// <param name="moreParents">/proc parents above the record's last ancestor, for a process that is already gone.</param>
    /// <param name="exe">The executable's path when the process was gone and <see cref="ExeLocator"/> found it from the record's name and inode.</param>
    public static ProcessFacts FromRecord(
        in DnswSendRecord record, ProcessFacts? live, CgroupFacts? cgroup, string? user, IReadOnlyList<ProcessAncestorFacts>? moreParents, string? exe = null)
    {
        string thread = Comm(record.Thread);
        string name = Comm(record.Process);
        if (name.Length == 0)
        {
            name = live?.Name ?? thread;
        }

        if (live is not null && !string.Equals(live.Name, name, StringComparison.Ordinal))
        {
            live = null;
        }

        IReadOnlyList<ProcessAncestorFacts> parents;
        if (live is not null && live.Parents.Count > 0)
        {
            parents = live.Parents;
        }
        else
        {
            var list = new List<ProcessAncestorFacts>();
            foreach (DnswAncestor a in record.Ancestors)
            {
                if (a.Tgid == 0)
                {
                    break;
                }

                list.Add(new ProcessAncestorFacts((int)a.Tgid, Comm(a.Comm)));
            }

            if (moreParents is not null)
            {
                list.AddRange(moreParents.Where(p => list.TrueForAll(seen => seen.Pid != p.Pid)));
            }

            parents = list;
        }

        return new ProcessFacts((int)record.Tgid, name, live?.Exe ?? exe, (int)record.Uid, live?.CommandLine, parents)
        {
            Tid = (int)record.Pid,
            Thread = thread,
            Gid = (int)record.Gid,
            User = user,
            Cgroup = cgroup ?? new CgroupFacts(record.CgroupId, null, null, null),
        };
    }

    /// <summary>A kernel comm: up to 16 bytes, NUL-terminated when shorter; any bytes a process chose.</summary>
    public static string Comm(ReadOnlySpan<byte> comm)
    {
        int end = comm.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? comm : comm[..end]);
    }
}
