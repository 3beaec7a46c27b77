using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Makes, removes and runs code inside named network namespaces (<c>/run/netns/NAME</c>, as <c>ip netns</c> makes them,
/// so <c>ip netns list/exec</c> see and use ours and we see theirs).
/// Runs code inside a named network namespace (<c>/run/netns/NAME</c>, as <c>ip netns</c> makes them). setns(2)
/// moves only the calling thread, so the work runs on a thread of its own that enters the namespace first and ends
/// with the work: sockets it opens and nftables changes it makes belong to that namespace, and no pool thread is
/// ever left in it.
/// </summary>
[SupportedOSPlatform("linux")]
public static class NetworkNamespace
{
    public const string RunDirectory = "/run/netns";

    /// <summary>The path of a named namespace; the name is checked to be a plain file name.</summary>
    public static string PathOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a network namespace name", nameof(name));
        }

        return Path.Combine(RunDirectory, name);
    }

    /// <summary>
    /// Makes a new, empty network namespace named <paramref name="name"/>, as <c>ip netns add</c> does: the namespace
    /// lives as long as its bind mount on <c>/run/netns/NAME</c>, not as long as any process or thread.
    /// </summary>
    /// <exception cref="IOException">The name is taken, or the namespace cannot be made or mounted (needs CAP_SYS_ADMIN).</exception>
    public static void Create(string name)
    {
        string path = PathOf(name);
        StartRuntimeThreadsHere();
        PrepareRunDirectory();
        int fd = LibC.OpenMode(path, LibC.OpenReadOnlyCloseOnExec | LibC.OpenCreateExclusive, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno == LibC.EExist
                ? $"cannot create network namespace {name}: {path} already exists"
                : $"cannot create network namespace {name}: {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        LibC.Close(fd);
        Exception? failure = null;

        // unshare(2) gives the new namespace to the calling thread only; this thread holds it just long enough to
        // bind-mount it, then ends, so no thread that runs other work ever lives in it.
        var thread = new Thread(() =>
        {
            try
            {
                BindNewNamespace(path);
            }
            catch (IOException e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "dnsw netns add " + name,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            _ = LibC.Unlink(path);
            throw failure;
        }
    }

    /// <summary>Removes namespace <paramref name="name"/> as <c>ip netns del</c> does; false when there was none.</summary>
    /// <remarks>The namespace itself lives on while a process, thread or open handle still holds it.</remarks>
    public static bool Delete(string name)
    {
        string path = PathOf(name);

        // EINVAL (not mounted: a half-made namespace) and ENOENT are left to unlink to decide.
        _ = LibC.Umount2(path, LibC.MntDetach);
        if (LibC.Unlink(path) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.ENoEnt)
        {
            return false;
        }

        throw new IOException($"cannot delete network namespace {name}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>True when <c>/run/netns/NAME</c> exists.</summary>
    public static bool Exists(string name) => File.Exists(PathOf(name));

    /// <summary>
    /// The ids (nsfs inode numbers, as <see cref="CurrentId"/> gives them) of every network namespace that still exists:
    /// the namespace of any thread of any process, and every one kept by a bind mount (the names under <see cref="RunDirectory"/>). A namespace not
    /// in the set is gone, and with it everything made inside it (interfaces, nftables tables, its sysctls).
    /// </summary>
    public static IReadOnlySet<string> LiveIds()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (string task in Entries("/proc", directories: true).Where(IsPid).SelectMany(p => Entries(p + "/task", directories: true)))
        {
            AddId(ids, new FileInfo(task + "/ns/net"));
        }

        // Named namespaces (and any other kept by a bind mount) are nsfs mounts: /proc/self/mountinfo gives each one's
        // root as "net:[ID]" (a descriptor opened on the mount point would only name the path).
        try
        {
            foreach (string line in File.ReadLines("/proc/self/mountinfo"))
            {
                string[] f = line.Split(' ', 6);
                if (f.Length > 4 && IdOf(f[3]) is { } id)
                {
                    ids.Add(id);
                }
            }
        }
        catch (IOException)
        {
        }

        return ids;
    }

    /// <summary>The id in an nsfs name such as "net:[4026531833]"; null for anything else.</summary>
    private static string? IdOf(string nsfsName) =>
        nsfsName.StartsWith("net:[", StringComparison.Ordinal) && nsfsName.EndsWith(']') ? nsfsName["net:[".Length..^1] : null;

    private static void AddId(HashSet<string> ids, FileInfo link)
    {
        try
        {
            if (link.LinkTarget is { } target && IdOf(target) is { } id)
            {
                ids.Add(id);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A process that ended while we looked.
        }
    }

    private static bool IsPid(string path) => char.IsAsciiDigit(path[^1]) && path[(path.LastIndexOf('/') + 1)..].All(char.IsAsciiDigit);

    private static string[] Entries(string directory, bool directories)
    {
        try
        {
            return directories ? Directory.GetDirectories(directory) : Directory.GetFiles(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The calling thread's network namespace as the kernel numbers it (the inode of /proc/thread-self/ns/net).</summary>
    public static string CurrentId()
    {
        string link = new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? throw new IOException("cannot read /proc/thread-self/ns/net");
        return IdOf(link) ?? link;
    }

    /// <summary>
    /// An open handle on namespace <paramref name="name"/>: what <see cref="RtnetlinkSocket.CreateVeth(string, string, int)"/>
    /// needs (IFLA_NET_NS_FD) to make a link directly inside it. Holding it keeps the namespace alive.
    /// </summary>
    public static SafeFileHandle OpenHandle(string name)
    {
        string path = PathOf(name);
        int fd = LibC.Open(path, LibC.OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// iproute2's netns_add: /run/netns must be a shared mount so a namespace mounted there is seen from every mount
    /// namespace (a process in another one, a container). The first time, that takes a bind mount of the directory on itself.
    /// </summary>
    private static void PrepareRunDirectory()
    {
        Directory.CreateDirectory(RunDirectory);
        bool boundOnItself = false;
        while (LibC.Mount("none", RunDirectory, "none", LibC.MsShared | LibC.MsRec, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EInval || boundOnItself)
            {
                throw new IOException($"cannot make {RunDirectory} a shared mount: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            // EINVAL: not a mount point yet.
            if (LibC.Mount(RunDirectory, RunDirectory, "none", LibC.MsBind | LibC.MsRec, 0) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot bind-mount {RunDirectory} on itself: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            boundOnItself = true;
        }
    }

    private static void BindNewNamespace(string path)
    {
        if (LibC.Unshare(LibC.CloneNewNet) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot make a network namespace for {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if (LibC.Mount("/proc/thread-self/ns/net", path, "none", LibC.MsBind, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot bind-mount the new network namespace on {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Runs <paramref name="work"/> inside namespace <paramref name="name"/> on a dedicated thread.</summary>
    /// <exception cref="IOException">The namespace does not exist or cannot be entered (needs CAP_SYS_ADMIN).</exception>
    public static Task<T> RunAsync<T>(string name, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        StartRuntimeThreadsHere();
        string path = PathOf(name);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            // Back to where it came from before completing the task: completing may make the runtime start a thread
            // pool worker from this thread, and a new thread inherits its creator's namespace — a pool thread left in
            // the jail would open upstream sockets and nftables contexts there from then on.
            SafeFileHandle? home = null;
            T result = default!;
            Exception? failure = null;
            try
            {
                home = OpenCurrent();
                Enter(path);
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }

            if (home is not null)
            {
                using (home)
                {
                    if (LibC.SetNs(home.DangerousGetHandle().ToInt32(), LibC.CloneNewNet) != 0)
                    {
                        // Cannot happen with the rights that entered; if it does, no thread of this process may go on
                        // in the wrong namespace: stop (the jail fails closed).
                        Environment.FailFast("cannot return to the original network namespace: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
                    }
                }
            }

            if (failure is null)
            {
                done.TrySetResult(result);
            }
            else
            {
                done.TrySetException(failure);
            }
        })
        {
            IsBackground = true,
            Name = "dnsw netns " + name,
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>
    /// A socket that belongs to namespace <paramref name="name"/>: only the descriptor is made there (socket(2) on a
    /// thread inside it), the managed <see cref="Socket"/> around it here. Making a managed socket on a thread inside
    /// the namespace is not safe: the runtime may start its socket event thread from that thread, and a thread inherits
    /// its creator's namespace — every later pool thread it feeds would then live in the jail.
    /// </summary>
    public static async Task<Socket> OpenSocketAsync(string name, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        int domain = family switch
        {
            AddressFamily.InterNetwork => 2,
            AddressFamily.InterNetworkV6 => 10,
            _ => throw new ArgumentOutOfRangeException(nameof(family), family, "IPv4 or IPv6"),
        };
        int kind = type switch
        {
            SocketType.Stream => 1,
            SocketType.Dgram => 2,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "stream or datagram"),
        };
        SafeSocketHandle handle = await RunAsync(name, () =>
        {
            int fd = LibC.Socket(domain, kind | LibC.SockCloexec, (int)protocol);
            return fd < 0
                ? throw new IOException($"cannot open a socket in network namespace {name}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}")
                : new SafeSocketHandle(fd, ownsHandle: true);
        }).ConfigureAwait(false);
        return new Socket(handle);
    }

    private static int s_runtimeThreadsStarted;

    /// <summary>
    /// The runtime starts some of its own long-lived threads lazily, from whichever thread first needs them — the socket
    /// event thread that feeds the thread pool among them — and a new thread inherits its creator's namespace. Started
    /// here first, from a thread in this process's own namespace, none of them can be born inside a jail.
    /// </summary>
    private static void StartRuntimeThreadsHere()
    {
        if (Interlocked.Exchange(ref s_runtimeThreadsStarted, 1) != 0)
        {
            return;
        }

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        using var cancel = new CancellationTokenSource();
        ValueTask<int> pending = socket.ReceiveAsync(new byte[1].AsMemory(), SocketFlags.None, cancel.Token);
        cancel.Cancel();
        try
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        using var timer = new Timer(static _ => { }, null, Timeout.Infinite, Timeout.Infinite);
        timer.Change(0, Timeout.Infinite);
    }

    private static SafeFileHandle OpenCurrent()
    {
        int fd = LibC.Open("/proc/thread-self/ns/net", LibC.OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            throw new IOException("cannot open this thread's network namespace: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    internal static void Enter(string path)
    {
        int fd = LibC.Open(path, LibC.OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            if (LibC.SetNs(fd, LibC.CloneNewNet) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot enter network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
