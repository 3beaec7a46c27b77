using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Guard.Jail;

/// <summary>What <see cref="JailInit"/> sets up and starts.</summary>
public sealed record JailInitOptions
{
    public required int Uid { get; init; }

    public required int Gid { get; init; }

    public required string UserName { get; init; }

    public required string Home { get; init; }

    public required string Shell { get; init; }

    /// <summary>Directories the command may write beneath (the project); private /tmp, /var/tmp, /dev/shm and /run/user/UID are added.</summary>
    public IReadOnlyList<string> Writable { get; init; } = [];

    /// <summary>The read end of a pipe whose write end only the jail's dnsw holds: end of file there means dnsw is gone.</summary>
    public int WatchDescriptor { get; init; } = -1;

    /// <summary>
    /// With <c>--intercept</c>: the host's trust directory (<see cref="Interception.JailTrustFiles"/>), under /run, which
    /// the private /run hides: its files are read first and written again at the same path inside.
    /// </summary>
    public string? TrustDirectory { get; init; }

    public required IReadOnlyList<string> Command { get; init; }
}

/// <summary>
/// Init of the jail's PID namespace (<c>dnsw jail-init</c>, started by the jail as
/// <c>ip netns exec JAIL unshare --pid --fork --kill-child --mount-proc dnsw jail-init … -- CMD</c>): in the jail's
/// network namespace and a mount namespace of its own, as root, pid 1. It
/// <list type="number">
/// <item>mounts private, empty tmpfs over /tmp, /var/tmp, /dev/shm and /run (with /run/user/UID for the user): the
/// user's sockets there — tmux, ssh-agent, D-Bus, X11, gpg-agent, the Docker socket — are out of reach, and
/// nothing written there outlives the jail;</item>
/// <item>restricts itself with Landlock (<see cref="Landlock.RestrictSelf"/>): writes only beneath the project
/// directories and those private mounts, no signals or abstract sockets across the sandbox's edge;</item>
/// <item>starts the command as the user through setpriv (no groups, no capabilities, no_new_privs), passes on
/// SIGINT, SIGTERM, SIGHUP and SIGQUIT, reaps every orphan, and exits with the command's status — taking every
/// process left in the namespace with it (the kernel kills them when pid 1 ends), a <c>setsid</c> daemon too;</item>
/// <item>ends everything at once if the jail's dnsw is gone (the watch pipe reads end of file).</item>
/// </list>
/// </summary>
[SupportedOSPlatform("linux")]
public static class JailInit
{
    // The signals a terminal or a supervisor sends that the command must get (signal.h numbers).
    private static readonly PosixSignal[] s_forwarded = [PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT];

    /// <summary>Runs the jail's init; returns the command's exit status (128 + signal when a signal ended it).</summary>
    public static int Run(JailInitOptions options, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stderr);
        if (options.Uid == 0 || options.Gid == 0)
        {
            stderr.WriteLine("dnsw jail-init: the command never runs as uid 0 or gid 0");
            return 125;
        }

        if (System.Environment.ProcessId != 1)
        {
            stderr.WriteLine("dnsw jail-init: must be pid 1 of a new PID namespace (dnsw jail starts it)");
            return 125;
        }

        WatchParent(options.WatchDescriptor);
        string runUser = "/run/user/" + options.Uid.ToString(CultureInfo.InvariantCulture);
        List<string> writable;
        try
        {
            (string Name, string Text)[] trust = options.TrustDirectory is null ? []
                : [.. new[] { Interception.JailTrustFiles.CaFileName, Interception.JailTrustFiles.BundleFileName }.Select(n => (n, File.ReadAllText(Path.Combine(options.TrustDirectory, n))))];
            PrivateMounts.Tmpfs("/tmp", "mode=1777");
            if (Directory.Exists("/var/tmp"))
            {
                PrivateMounts.Tmpfs("/var/tmp", "mode=1777");
            }

            PrivateMounts.Tmpfs("/dev/shm", "mode=1777");
            PrivateMounts.Tmpfs("/run", "mode=755");
            Directory.CreateDirectory(runUser);
            File.SetUnixFileMode(runUser, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            PrivateMounts.ChangeOwner(runUser, options.Uid, options.Gid);
            if (options.TrustDirectory is not null)
            {
                // Root's, 0755 and 0644 (the private /run is root's 0755): the command reads them and can change nothing.
                Directory.CreateDirectory(options.TrustDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                foreach ((string name, string text) in trust)
                {
                    string path = Path.Combine(options.TrustDirectory, name);
                    File.WriteAllText(path, text);
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }
            }

            // /dev and /proc for the device files (/dev/null, a terminal) and a process's own /proc files; both are
            // guarded by permissions the user does not have for anything else.
            writable = [.. options.Writable.Where(Directory.Exists), "/tmp", "/dev/shm", runUser, "/dev", "/proc"];
            if (Directory.Exists("/var/tmp"))
            {
                writable.Add("/var/tmp");
            }
        }
        catch (IOException e)
        {
            stderr.WriteLine("dnsw jail-init: " + e.Message);
            return 125;
        }

        try
        {
            Landlock.RestrictSelf(writable);
        }
        catch (PlatformNotSupportedException e)
        {
            // Namespaces still hold; only the write restriction and scoping are missing. Said once, at start.
            stderr.WriteLine($"dnsw jail: no Landlock ({e.Message}): the command can write wherever its user can");
        }
        catch (IOException e)
        {
            stderr.WriteLine("dnsw jail-init: " + e.Message);
            return 125;
        }

        int child;
        try
        {
            child = ChildProcess.Spawn(SetprivCommand(options), CommandEnvironment(options, runUser, writable));
        }
        catch (IOException e)
        {
            stderr.WriteLine("dnsw jail: " + e.Message);
            return 126;
        }

        var registrations = s_forwarded.Select(s => PosixSignalRegistration.Create(s, c =>
        {
            c.Cancel = true;
            ChildProcess.Signal(child, (int)SignalNumber(c.Signal));
        })).ToArray();
        try
        {
            while (ChildProcess.WaitAny() is (int pid, int status))
            {
                if (pid == child)
                {
                    return ChildProcess.ExitCode(status);
                }
            }

            return 125;
        }
        finally
        {
            foreach (PosixSignalRegistration r in registrations)
            {
                r.Dispose();
            }
        }
    }

    private static IReadOnlyList<string> SetprivCommand(JailInitOptions o) =>
    [
        "setpriv",
        "--reuid=" + o.Uid.ToString(CultureInfo.InvariantCulture), "--regid=" + o.Gid.ToString(CultureInfo.InvariantCulture),
        "--clear-groups", "--nnp", "--bounding-set=-all", "--inh-caps=-all", "--",
        .. o.Command,
    ];

    /// <summary>
    /// The user's identity (HOME, USER, LOGNAME, SHELL), the private runtime directory and temporary directory; the
    /// rest of dnsw's environment except what sudo adds and what points at the user's sockets (now out of reach).
    /// A home that is not writable gets caches in the private /tmp.
    /// </summary>
    private static List<string> CommandEnvironment(JailInitOptions o, string runUser, IReadOnlyList<string> writable)
    {
        string[] dropped = ["SUDO_", "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY", "DISPLAY", "WAYLAND_DISPLAY", "TMUX", "GPG_AGENT_INFO"];
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
        {
            string key = (string)e.Key;
            if (!dropped.Any(d => key.StartsWith(d, StringComparison.Ordinal)))
            {
                env[key] = (string?)e.Value ?? "";
            }
        }

        env["HOME"] = o.Home;
        env["USER"] = o.UserName;
        env["LOGNAME"] = o.UserName;
        env["SHELL"] = o.Shell;
        env["XDG_RUNTIME_DIR"] = runUser;
        env["TMPDIR"] = "/tmp";
        if (o.TrustDirectory is not null)
        {
            // The variables OpenSSL (curl, python, git's libcurl), requests and git read for their roots get the bundle
            // (the CA and the system roots); Node adds NODE_EXTRA_CA_CERTS to its own roots, so it gets the CA alone.
            string bundle = Path.Combine(o.TrustDirectory, Interception.JailTrustFiles.BundleFileName);
            foreach (string name in (string[])["SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"])
            {
                env[name] = bundle;
            }

            env["NODE_EXTRA_CA_CERTS"] = Path.Combine(o.TrustDirectory, Interception.JailTrustFiles.CaFileName);
        }

        bool homeWritable = writable.Any(w => o.Home == w || o.Home.StartsWith(w.TrimEnd('/') + "/", StringComparison.Ordinal));
        if (!homeWritable)
        {
            env["XDG_CACHE_HOME"] = "/tmp/.cache";
        }

        return [.. env.Select(kv => kv.Key + "=" + kv.Value)];
    }

    /// <summary>A thread that waits for end of file on the watch pipe, then ends pid 1 and so the whole namespace.</summary>
    private static void WatchParent(int fd)
    {
        if (fd < 0)
        {
            return;
        }

        WatchPipe.SetCloseOnExec(fd);
        var watcher = new Thread(() =>
        {
            WatchPipe.WaitForEnd(fd);
            System.Environment.Exit(137);
        })
        {
            IsBackground = true,
            Name = "dnsw jail watch",
        };
        watcher.Start();
    }

    // The .NET PosixSignal values for these four are negative placeholders; the numbers the kernel uses are signal.h's.
    private static int SignalNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => (int)signal,
    };
}
