using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform.Interop.Linux;
using DnsWarden.Platform.Interop.Linux.Bpf;

namespace DnsWarden.Platform;

/// <summary>
/// Send-time attribution: loads the BPF program embedded in this assembly (Bpf/attribution.bpf.c) with libbpf,
/// attaches it at the cgroup v2 root through BPF links that only this process holds (nothing pinned: every exit,
/// SIGKILL included, closes the links and the kernel frees the programs and maps), and drains its ring buffer into a
/// <see cref="SendRecordTable"/>. A thread wakes on each record and reads /proc for it at once, while a one-shot
/// client is most likely still alive; a lookup that misses drains whatever is waiting before it answers.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class BpfSendTracker : IDisposable
{
    public const string ResourceName = "DnsWarden.Platform.attribution.bpf.o";

    private const int TableCapacity = 65536;
    private const int PollMilliseconds = 100;

    // At least the program's WAKE_NS (attribution.bpf.c): a pass this long after the last finds every record written
    // without a wake-up since.
    private const int AfterWakeMilliseconds = 2;

    // asm-generic/socket.h SO_NETNS_COOKIE (Linux 5.14).
    private const int SoNetnsCookie = 71;

    private static readonly string[] s_programs = ["dnsw_connect4", "dnsw_connect6", "dnsw_sendmsg4", "dnsw_sendmsg6", "dnsw_egress"];

    /// <summary>How long a record answers for its flow: a long-lived connection past this is found by sock_diag instead.</summary>
    private static readonly TimeSpan s_lifetime = TimeSpan.FromMinutes(10);

    private readonly Lock _lock = new();
    private readonly SendRecordTable _table;
    private readonly ProcessFactsCache _facts = new();
    private readonly ExeLocator _exes = new();
    private readonly List<nint> _links = [];
    private readonly nint _object;
    private readonly int _cgroupFd;
    private readonly int _countersFd;
    private nint _ring;
    private GCHandle _self;
    private Thread? _drain;
    private volatile bool _stopping;
    private long _handled;

    private BpfSendTracker(nint bpfObject, int cgroupFd, ulong netns, string cgroupMount)
    {
        _object = bpfObject;
        _cgroupFd = cgroupFd;
        _table = new SendRecordTable(netns, TableCapacity, s_lifetime);
        _countersFd = LibBpf.MapFd(LibBpf.FindMap(bpfObject, "counters"));
        CgroupMount = cgroupMount;
    }

    public string CgroupMount { get; }

    /// <summary>Records kept for this namespace.</summary>
    public long Records { get; private set; }

    public long OtherNamespaces
    {
        get
        {
            lock (_lock)
            {
                return _table.OtherNamespaces;
            }
        }
    }

    /// <summary>Records the program could not write because the ring buffer was full.</summary>
    public long Lost => Counter(0);

    /// <summary>Loads and attaches the program, or says in one line why it cannot.</summary>
    public static BpfSendTracker? TryStart(out string? reason)
    {
        reason = Preflight(out string? cgroupMount, out byte[]? program);
        if (reason is not null)
        {
            return null;
        }

        try
        {
            return Start(cgroupMount!, program!, out reason);
        }
        catch (DllNotFoundException)
        {
            reason = "libbpf is not installed (apt-get install libbpf1)";
            return null;
        }
        catch (EntryPointNotFoundException ex)
        {
            reason = $"libbpf is too old: {ex.Message}";
            return null;
        }
    }

    /// <summary>What rules BPF out before libbpf is asked: privileges, BTF, lockdown, the cgroup2 mount, the program itself.</summary>
    private static string? Preflight(out string? cgroupMount, out byte[]? program)
    {
        cgroupMount = null;
        program = null;
        if (!Environment.IsPrivilegedProcess)
        {
            return "not root (loading BPF needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)";
        }

        if (!File.Exists("/sys/kernel/btf/vmlinux"))
        {
            return "the kernel has no BTF (/sys/kernel/btf/vmlinux): the program is relocated against it";
        }

        try
        {
            string lockdown = File.ReadAllText("/sys/kernel/security/lockdown");
            if (lockdown.Contains("[confidentiality]", StringComparison.Ordinal))
            {
                return "kernel lockdown (confidentiality) forbids BPF from reading kernel memory";
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No securityfs or no lockdown LSM: nothing locked down.
        }

        cgroupMount = CgroupDirectory.Open()?.MountPoint;
        if (cgroupMount is null)
        {
            return "no cgroup2 file system is mounted (/proc/self/mountinfo)";
        }

        using Stream? stream = typeof(BpfSendTracker).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
        {
            return "this build has no BPF program (clang or libbpf-dev were missing when it was built)";
        }

        program = new byte[stream.Length];
        stream.ReadExactly(program);
        return null;
    }

    private static BpfSendTracker? Start(string cgroupMount, byte[] program, out string? reason)
    {
        ulong netns = OwnNetnsCookie(out reason);
        if (reason is not null)
        {
            return null;
        }

        // libbpf's own messages would go to stderr around the one line dnsw prints; the errno says enough.
        _ = LibBpf.SetPrint(0);
        nint bpfObject;
        fixed (byte* p = program)
        {
            bpfObject = LibBpf.ObjectOpenMemory(p, (nuint)program.Length, 0);
        }

        if (bpfObject == 0)
        {
            reason = "libbpf could not open the BPF object: " + ErrorText(Marshal.GetLastPInvokeError());
            return null;
        }

        int load = LibBpf.ObjectLoad(bpfObject);
        if (load != 0)
        {
            LibBpf.ObjectClose(bpfObject);
            reason = "the kernel refused the BPF program: " + ErrorText(-load);
            return null;
        }

        int cgroupFd = OpenDirectory(cgroupMount);
        if (cgroupFd < 0)
        {
            LibBpf.ObjectClose(bpfObject);
            reason = $"cannot open {cgroupMount}: " + ErrorText(Marshal.GetLastPInvokeError());
            return null;
        }

        var tracker = new BpfSendTracker(bpfObject, cgroupFd, netns, cgroupMount);
        reason = tracker.Attach();
        if (reason is not null)
        {
            tracker.Dispose();
            return null;
        }

        return tracker;
    }

    private string? Attach()
    {
        foreach (string name in s_programs)
        {
            nint program = LibBpf.FindProgram(_object, name);
            nint link = program == 0 ? 0 : LibBpf.AttachCgroup(program, _cgroupFd);
            if (link == 0)
            {
                return $"attaching {name} to {CgroupMount} failed: " + ErrorText(Marshal.GetLastPInvokeError());
            }

            _links.Add(link);
        }

        _self = GCHandle.Alloc(this);
        int eventsFd = LibBpf.MapFd(LibBpf.FindMap(_object, "events"));
        _ring = LibBpf.RingBufferNew(eventsFd, &OnSample, GCHandle.ToIntPtr(_self), 0);
        if (_ring == 0)
        {
            return "libbpf could not map the ring buffer: " + ErrorText(Marshal.GetLastPInvokeError());
        }

        // Above the capture threads: it races a one-shot client's exit to read its /proc entry.
        _drain = new Thread(Drain) { IsBackground = true, Name = "dnsw bpf records", Priority = ThreadPriority.Highest };
        _drain.Start();
        return null;
    }

    /// <summary>The sender of the flow whose packet left this host from <paramref name="localPort"/>; null when the kernel reported none.</summary>
    public ProcessFacts? Find(SocketProtocol protocol, IPAddress remote, ushort remotePort, ushort localPort)
    {
        SendFlowKey key = SendFlowKey.Of(_table.Netns, protocol, remote, remotePort, localPort);
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            if (_table.TryFind(key, now, out ProcessFacts? facts))
            {
                return facts;
            }

            // The record is written before the packet leaves, so it is in the ring if it exists: take what waits.
            if (_ring != 0 && LibBpf.RingBufferConsume(_ring) > 0 && _table.TryFind(key, now, out facts))
            {
                return facts;
            }

            return null;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _drain?.Join();
        lock (_lock)
        {
            if (_ring != 0)
            {
                LibBpf.RingBufferFree(_ring);
                _ring = 0;
            }

            foreach (nint link in _links)
            {
                _ = LibBpf.LinkDestroy(link);
            }

            _links.Clear();
            if (_object != 0)
            {
                LibBpf.ObjectClose(_object);
            }

            if (_cgroupFd >= 0)
            {
                _ = LibC.Close(_cgroupFd);
            }

            if (_self.IsAllocated)
            {
                _self.Free();
            }
        }
    }

    /// <summary>
    /// Waits for a wake-up, then drains the ring again every <see cref="AfterWakeMilliseconds"/> until a pass finds
    /// nothing: the program wakes this thread at most once a millisecond (a wake-up is an interrupt on the sender's CPU)
    /// and writes the records in between without one, so they are picked up by these passes, not by the next sender.
    /// </summary>
    private void Drain()
    {
        int epoll = LibBpf.RingBufferEpollFd(_ring);
        var fd = new LibC.PollFd { Fd = epoll, Events = LibC.PollIn };
        while (!_stopping)
        {
            if (LibC.Poll(&fd, 1, PollMilliseconds) <= 0)
            {
                continue;
            }

            // Records taken by a lookup in between count too: what matters is that none came for a whole pass.
            long mark = -1;
            for (long handled = Consume(); handled != mark && !_stopping; handled = Consume())
            {
                mark = handled;
                Thread.Sleep(AfterWakeMilliseconds);
            }
        }
    }

    /// <summary>Drains the ring; returns how many records have been handled so far, by this thread or a lookup.</summary>
    private long Consume()
    {
        lock (_lock)
        {
            if (_ring != 0)
            {
                _ = LibBpf.RingBufferConsume(_ring);
            }

            return _handled;
        }
    }

    [UnmanagedCallersOnly]
    private static int OnSample(nint context, void* data, nuint size)
    {
        try
        {
            if (size >= (nuint)sizeof(DnswSendRecord) && GCHandle.FromIntPtr(context).Target is BpfSendTracker tracker)
            {
                tracker.OnRecord(in Unsafe.AsRef<DnswSendRecord>(data));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            // A record that cannot be read up is skipped; its flow falls back to sock_diag.
        }

        return 0;
    }

    /// <summary>Called under the lock, by whichever thread consumed the ring.</summary>
    private void OnRecord(in DnswSendRecord record)
    {
        _handled++;
        SendFlowKey key = SendFlowKey.Of(in record);
        if (!_table.IsOwn(in key))
        {
            return;
        }

        int tgid = (int)record.Tgid;
        ProcessFacts? live = _facts.Get(tgid);
        CgroupFacts? cgroup = live?.Cgroup is { } c && (c.Id == record.CgroupId || c.Id == 0) ? c : _facts.Cgroups?.Facts(record.CgroupId, null);
        IReadOnlyList<ProcessAncestorFacts>? moreParents = null;
        if (live is null)
        {
            uint last = 0;
            foreach (DnswAncestor a in record.Ancestors)
            {
                last = a.Tgid != 0 ? a.Tgid : last;
            }

            moreParents = last > 1 ? _facts.Get((int)last)?.Parents : null;
        }

        string exeName = SendRecordFacts.Comm(record.ExeName);
        string? exe = null;
        if (live?.Exe is { } seen && string.Equals(live.Name, SendRecordFacts.Comm(record.Process), StringComparison.Ordinal))
        {
            _exes.Learn(exeName, record.ExeInode, seen);
        }
        else
        {
            exe = _exes.Find(exeName, record.ExeInode);
        }

        ProcessFacts facts = SendRecordFacts.FromRecord(in record, live, cgroup, _facts.UserName((int)record.Uid), moreParents, exe);
        if (_table.Add(key, facts, Stopwatch.GetTimestamp()))
        {
            Records++;
        }
    }

    private long Counter(uint index)
    {
        ulong value = 0;
        return _countersFd >= 0 && LibBpf.MapLookup(_countersFd, &index, &value) == 0 ? (long)value : 0;
    }

    private static ulong OwnNetnsCookie(out string? reason)
    {
        reason = null;
        int fd = LibC.Socket(2 /* AF_INET */, LibC.SockDgram | LibC.SockCloexec, 0);
        if (fd < 0)
        {
            reason = "cannot open a socket to read this namespace's cookie: " + ErrorText(Marshal.GetLastPInvokeError());
            return 0;
        }

        ulong cookie = 0;
        uint length = sizeof(ulong);
        int rc = LibC.GetSockOpt(fd, LibC.SolSocket, SoNetnsCookie, &cookie, &length);
        int errno = Marshal.GetLastPInvokeError();
        _ = LibC.Close(fd);
        if (rc != 0)
        {
            reason = "the kernel has no SO_NETNS_COOKIE (Linux 5.14): records could not be told apart by namespace (" + ErrorText(errno) + ")";
        }

        return cookie;
    }

    private static int OpenDirectory(string path)
    {
        // fcntl.h O_RDONLY | O_DIRECTORY | O_CLOEXEC.
        const int Flags = 0 | 0x10000 | 0x80000;
        return LibC.Open(path, Flags);
    }

    private static string ErrorText(int errno)
    {
        byte* buffer = stackalloc byte[256];
        try
        {
            if (LibBpf.StrError(errno, buffer, 256) == 0)
            {
                return Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer)) + $" (errno {errno})";
            }
        }
        catch (EntryPointNotFoundException)
        {
        }

        return $"errno {errno}";
    }
}
