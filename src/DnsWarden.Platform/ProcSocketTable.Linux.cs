using System.Diagnostics;
using System.IO.Enumeration;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// Socket inode → holding pids, from the "socket:[inode]" links under /proc/[pid]/fd. The whole map is cached; a miss
/// rescans every process at most once per <see cref="RescanInterval"/>, and in between only processes not seen before
/// (so a short-lived client such as dig is still found at once).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ProcSocketTable
{
    public static readonly TimeSpan DefaultRescanInterval = TimeSpan.FromMilliseconds(200);

    // "/proc/" + 10 digits + "/fd/" + 10 digits + NUL, with room to spare.
    private const int PathBufferSize = 48;

    // "socket:[" + 20 digits + "]".
    private const int LinkBufferSize = 40;

    private readonly Dictionary<ulong, int> _firstHolder = [];
    private readonly Dictionary<ulong, List<int>> _allHolders = [];
    private readonly HashSet<int> _scannedPids = [];
    private readonly TimeSpan _rescanInterval;
    private long _lastFullScan;
    private bool _scannedOnce;

    public ProcSocketTable(TimeSpan rescanInterval) => _rescanInterval = rescanInterval;

    public TimeSpan RescanInterval => _rescanInterval;

    /// <summary>A pid whose fds could not be read in the last scan, or -1.</summary>
    public int DeniedPid { get; private set; } = -1;

    /// <summary>Full scans so far, for tests of the throttle.</summary>
    public int FullScans { get; private set; }

    /// <summary>True with the first holder; <paramref name="holders"/> lists every holder when there is more than one.</summary>
    public bool TryFind(ulong inode, out int pid, out IReadOnlyList<int>? holders)
    {
        if (TryGet(inode, out pid, out holders))
        {
            return true;
        }

        if (!_scannedOnce || Stopwatch.GetElapsedTime(_lastFullScan) >= _rescanInterval)
        {
            FullScan();
        }
        else
        {
            ScanNewProcesses();
        }

        return TryGet(inode, out pid, out holders);
    }

    private bool TryGet(ulong inode, out int pid, out IReadOnlyList<int>? holders)
    {
        holders = _allHolders.TryGetValue(inode, out List<int>? all) ? all : null;
        return _firstHolder.TryGetValue(inode, out pid);
    }

    private void FullScan()
    {
        _firstHolder.Clear();
        _allHolders.Clear();
        _scannedPids.Clear();
        DeniedPid = -1;
        foreach (int pid in EnumerateNumeric("/proc"))
        {
            ScanProcess(pid);
        }

        _lastFullScan = Stopwatch.GetTimestamp();
        _scannedOnce = true;
        FullScans++;
    }

    private void ScanNewProcesses()
    {
        foreach (int pid in EnumerateNumeric("/proc"))
        {
            if (!_scannedPids.Contains(pid))
            {
                ScanProcess(pid);
            }
        }
    }

    private unsafe void ScanProcess(int pid)
    {
        _scannedPids.Add(pid);
        List<int> fds;
        try
        {
            fds = [.. EnumerateNumeric($"/proc/{pid}/fd")];
        }
        catch (UnauthorizedAccessException)
        {
            DeniedPid = DeniedPid < 0 ? pid : DeniedPid;
            return;
        }
        catch (IOException)
        {
            // The process exited while we looked.
            return;
        }

        Span<byte> path = stackalloc byte[PathBufferSize];
        Span<byte> link = stackalloc byte[LinkBufferSize];
        foreach (int fd in fds)
        {
            if (!TryFormatFdPath(path, pid, fd))
            {
                continue;
            }

            nint n;
            fixed (byte* p = path)
            fixed (byte* l = link)
            {
                n = LibC.ReadLink(p, l, (nuint)link.Length);
            }

            if (n < 0)
            {
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() is LibC.EAccess or LibC.EPerm)
                {
                    DeniedPid = DeniedPid < 0 ? pid : DeniedPid;
                    return;
                }

                continue;
            }

            if (ProcText.TryParseSocketLink(link[..(int)n], out ulong inode))
            {
                Add(inode, pid);
            }
        }
    }

    private void Add(ulong inode, int pid)
    {
        if (!_firstHolder.TryGetValue(inode, out int first))
        {
            _firstHolder[inode] = pid;
            return;
        }

        if (first == pid)
        {
            return;
        }

        if (!_allHolders.TryGetValue(inode, out List<int>? all))
        {
            _allHolders[inode] = all = [first];
        }

        if (!all.Contains(pid))
        {
            all.Add(pid);
        }
    }

    private static bool TryFormatFdPath(Span<byte> path, int pid, int fd)
    {
        ReadOnlySpan<byte> proc = "/proc/"u8;
        ReadOnlySpan<byte> fdDir = "/fd/"u8;
        proc.CopyTo(path);
        int at = proc.Length;
        if (!pid.TryFormat(path[at..], out int w, default, null))
        {
            return false;
        }

        at += w;
        fdDir.CopyTo(path[at..]);
        at += fdDir.Length;
        if (!fd.TryFormat(path[at..], out w, default, null) || at + w >= path.Length)
        {
            return false;
        }

        path[at + w] = 0;
        return true;
    }

    /// <summary>The numeric entry names of a directory, without allocating a string per entry.</summary>
    private static FileSystemEnumerable<int> EnumerateNumeric(string directory) =>
        new(directory, static (ref FileSystemEntry e) => int.TryParse(e.FileName, out int n) ? n : -1, new EnumerationOptions { IgnoreInaccessible = false, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = static (ref FileSystemEntry e) => e.FileName.Length > 0 && char.IsAsciiDigit(e.FileName[0]),
        };
}
