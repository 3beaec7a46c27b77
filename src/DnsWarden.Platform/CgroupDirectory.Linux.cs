using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// The cgroup v2 tree: where it is mounted (from /proc/self/mountinfo: a hybrid host mounts it at
/// /sys/fs/cgroup/unified, a unified one at /sys/fs/cgroup) and the path of a cgroup id. The id BPF reports is the
/// kernfs node id, which is also the group directory's file handle (name_to_handle_at), so a walk of the tree maps
/// ids to paths; the map is rebuilt when an id is missing, at most once a second.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class CgroupDirectory
{
    /// <summary>A host with more groups than this is walked only this far (the map is a convenience, not a census).</summary>
    private const int MaxDirectories = 65536;

    private static readonly TimeSpan s_rescanInterval = TimeSpan.FromSeconds(1);

    private readonly Dictionary<ulong, string> _paths = [];
    private long _lastScan = -1;

    private CgroupDirectory(string mountPoint) => MountPoint = mountPoint;

    public string MountPoint { get; }

    /// <summary>
    /// Null when no cgroup2 file system is mounted. Looked up in this process's mounts first, then in those of its
    /// ancestors and, failing that, of any process, through /proc/PID/root: <c>ip netns exec</c> gives its command a
    /// mount namespace with a fresh /sys and no cgroup mounts, while the cgroup tree is the same one.
    /// </summary>
    public static CgroupDirectory? Open()
    {
        int pid = Environment.ProcessId;
        for (int depth = 0; depth < ProcessFactsCache.MaxParentDepth && pid > 0; depth++)
        {
            if (TryMountOf(pid, depth == 0) is { } found)
            {
                return found;
            }

            try
            {
                _ = ProcText.TryParseStatus(File.ReadAllText($"/proc/{pid}/status"), out _, out pid, out _);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                break;
            }
        }

        try
        {
            foreach (string entry in Directory.EnumerateDirectories("/proc").Take(MaxDirectories))
            {
                if (int.TryParse(Path.GetFileName(entry), out int other) && TryMountOf(other, self: false) is { } found)
                {
                    return found;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No /proc to walk.
        }

        return null;
    }

    private static CgroupDirectory? TryMountOf(int pid, bool self)
    {
        string root = self ? "" : $"/proc/{pid}/root";
        try
        {
            return ProcText.FindCgroup2Mount(File.ReadAllText($"/proc/{pid}/mountinfo")) is { } mount && Directory.Exists(root + mount)
                ? new CgroupDirectory(root + mount)
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The group's path under the mount ("/" for the root), or null when no group has that id now.</summary>
    public string? PathOf(ulong id)
    {
        if (_paths.TryGetValue(id, out string? path))
        {
            return path;
        }

        if (_lastScan >= 0 && Stopwatch.GetElapsedTime(_lastScan) < s_rescanInterval)
        {
            return null;
        }

        Scan();
        return _paths.GetValueOrDefault(id);
    }

    /// <summary>The id of a group given by its path under the mount, or 0.</summary>
    public ulong IdOf(string path)
    {
        ulong id = HandleId(MountPoint + (path == "/" ? "" : path));
        if (id != 0)
        {
            _paths[id] = path;
        }

        return id;
    }

    public CgroupFacts Facts(ulong id, string? path)
    {
        path ??= PathOf(id);
        (string? unit, ContainerFacts? container) = CgroupClassifier.Classify(path);
        return new CgroupFacts(id, path, unit, container);
    }

    private void Scan()
    {
        _lastScan = Stopwatch.GetTimestamp();
        _paths.Clear();
        var pending = new Stack<string>();
        pending.Push(MountPoint);
        int seen = 0;
        while (pending.Count > 0 && seen < MaxDirectories)
        {
            string directory = pending.Pop();
            seen++;
            ulong id = HandleId(directory);
            if (id != 0)
            {
                string relative = directory.Length == MountPoint.Length ? "/" : directory[MountPoint.Length..];
                _paths[id] = relative;
            }

            try
            {
                foreach (string child in Directory.EnumerateDirectories(directory))
                {
                    pending.Push(child);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A group removed while we walked, or one we may not list.
            }
        }
    }

    /// <summary>The kernfs id in the directory's file handle (8 bytes on 64-bit kernels), or 0.</summary>
    private static unsafe ulong HandleId(string directory)
    {
        byte* handle = stackalloc byte[8 + 64];
        *(uint*)handle = 64;
        int mountId;
        if (LibC.NameToHandleAt(LibC.AtFdCwd, directory, handle, &mountId, 0) != 0)
        {
            _ = Marshal.GetLastPInvokeError();
            return 0;
        }

        return *(uint*)handle == 8 ? *(ulong*)(handle + 8) : 0;
    }
}
