using System.Diagnostics;
using System.Runtime.Versioning;

namespace DnsWarden.Platform;

/// <summary>
/// Process facts from /proc/[pid]/{comm,exe,status,cmdline}, cached per pid for <see cref="Lifetime"/> so a process that
/// exits right after its packet is still named.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ProcessFactsCache
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    // Parent chains are short; the bound only guards against a corrupt or adversarial /proc.
    public const int MaxParentDepth = 64;

    private readonly Dictionary<int, (ProcessFacts Facts, long Stamp)> _facts = [];
    private readonly Dictionary<int, (string Name, int PPid, int? Uid, long Stamp)> _basics = [];
    private readonly UserNames _users = new();
    private readonly Lazy<CgroupDirectory?> _cgroups = new(CgroupDirectory.Open, LazyThreadSafetyMode.None);

    /// <summary>The cgroup v2 tree, or null when none is mounted.</summary>
    public CgroupDirectory? Cgroups => _cgroups.Value;

    public string? UserName(int? uid) => _users.NameOf(uid);

    /// <summary>Null when the process is gone and was not cached.</summary>
    public ProcessFacts? Get(int pid)
    {
        if (_facts.TryGetValue(pid, out (ProcessFacts Facts, long Stamp) hit) && Stopwatch.GetElapsedTime(hit.Stamp) < Lifetime)
        {
            return hit.Facts;
        }

        // The executable first: a one-shot client may be gone a moment later, and exe is the one fact only /proc has.
        string? exe = ReadExe(pid);
        if (!TryGetBasics(pid, out string name, out int ppid, out int? uid))
        {
            return null;
        }

        var parents = new List<ProcessAncestorFacts>();
        var seen = new HashSet<int> { pid };
        int parent = ppid;
        while (parent > 0 && parents.Count < MaxParentDepth && seen.Add(parent))
        {
            if (!TryGetBasics(parent, out string parentName, out int grandParent, out _))
            {
                break;
            }

            parents.Add(new ProcessAncestorFacts(parent, parentName));
            parent = grandParent;
        }

        var facts = new ProcessFacts(pid, name, exe, uid, ReadCommandLine(pid), parents)
        {
            Gid = ReadGid(pid),
            User = _users.NameOf(uid),
            Cgroup = ReadCgroup(pid),
        };
        Trim();
        _facts[pid] = (facts, Stopwatch.GetTimestamp());
        return facts;
    }

    /// <summary>The parent pid of a live or recently seen process, or -1.</summary>
    public int ParentOf(int pid) => TryGetBasics(pid, out _, out int ppid, out _) ? ppid : -1;

    private bool TryGetBasics(int pid, out string name, out int ppid, out int? uid)
    {
        if (_basics.TryGetValue(pid, out (string Name, int PPid, int? Uid, long Stamp) hit) && Stopwatch.GetElapsedTime(hit.Stamp) < Lifetime)
        {
            (name, ppid, uid) = (hit.Name, hit.PPid, hit.Uid);
            return true;
        }

        name = "";
        ppid = 0;
        uid = null;
        try
        {
            string status = File.ReadAllText($"/proc/{pid}/status");
            if (!ProcText.TryParseStatus(status, out string statusName, out ppid, out uid))
            {
                return false;
            }

            // comm is the same 15-byte name as status "Name:", without status's escaping of odd bytes.
            name = ReadComm(pid) ?? statusName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        _basics[pid] = (name, ppid, uid, Stopwatch.GetTimestamp());
        return true;
    }

    /// <summary>The process's cgroup v2 group from /proc/[pid]/cgroup, with its id and what its path names.</summary>
    public CgroupFacts? ReadCgroup(int pid)
    {
        try
        {
            string? path = ProcText.ParseCgroupV2Path(File.ReadAllText($"/proc/{pid}/cgroup"));
            if (path is null)
            {
                return null;
            }

            CgroupDirectory? cgroups = _cgroups.Value;
            if (cgroups is not null)
            {
                return cgroups.Facts(cgroups.IdOf(path), path);
            }

            (string? unit, ContainerFacts? container) = CgroupClassifier.Classify(path);
            return new CgroupFacts(0, path, unit, container);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static int? ReadGid(int pid)
    {
        try
        {
            return ProcText.ParseStatusGid(File.ReadAllText($"/proc/{pid}/status"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadExe(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadCommandLine(int pid)
    {
        try
        {
            return ProcText.FormatCommandLine(File.ReadAllBytes($"/proc/{pid}/cmdline"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // Drops expired entries now and then so a long capture does not keep every pid it ever saw.
    private void Trim()
    {
        if (_facts.Count < 1024 && _basics.Count < 4096)
        {
            return;
        }

        foreach (int pid in _facts.Where(kv => Stopwatch.GetElapsedTime(kv.Value.Stamp) >= Lifetime).Select(kv => kv.Key).ToList())
        {
            _facts.Remove(pid);
        }

        foreach (int pid in _basics.Where(kv => Stopwatch.GetElapsedTime(kv.Value.Stamp) >= Lifetime).Select(kv => kv.Key).ToList())
        {
            _basics.Remove(pid);
        }
    }
}
