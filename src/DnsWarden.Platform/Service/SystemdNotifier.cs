using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace DnsWarden.Platform.Service;

/// <summary>
/// The service manager's readiness protocol (sd_notify(3)): datagrams such as "READY=1" to the unix socket named by
/// $NOTIFY_SOCKET ('@' for the abstract namespace), and "WATCHDOG=1" at half of $WATCHDOG_USEC when the watchdog is
/// on for this process. Hand-written: the protocol is one datagram per state, and libsystemd is not always present.
/// Without $NOTIFY_SOCKET every call does nothing.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private Timer? _watchdog;

    private SystemdNotifier(string? socketPath)
    {
        if (string.IsNullOrEmpty(socketPath) || (socketPath[0] != '/' && socketPath[0] != '@'))
        {
            return;
        }

        // An abstract socket's name starts with a NUL byte where the variable has '@'.
        _endPoint = new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>Whether a service manager listens (NOTIFY_SOCKET was set).</summary>
    public bool Enabled => _socket is not null;

    /// <summary>The interval WATCHDOG=1 is sent at, or null when the manager asked for no watchdog.</summary>
    public TimeSpan? WatchdogInterval { get; private set; }

    /// <summary>From this process's environment.</summary>
    public static SystemdNotifier FromEnvironment()
    {
        var notifier = new SystemdNotifier(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));
        // WATCHDOG_PID, when set, names the process the watchdog is for (sd_watchdog_enabled(3)).
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        bool ours = string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (notifier.Enabled && ours
            && long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out long usec) && usec > 0)
        {
            notifier.WatchdogInterval = TimeSpan.FromTicks(usec * 10 / 2);
        }

        return notifier;
    }

    /// <summary>
    /// Whether standard error goes to the journal (systemd.exec(5): $JOURNAL_STREAM is "device:inode" of that stream),
    /// so lines may carry a "&lt;N&gt;" syslog priority prefix and need no timestamp of their own.
    /// </summary>
    public static bool StandardErrorIsJournal()
    {
        string? stream = Environment.GetEnvironmentVariable("JOURNAL_STREAM");
        int colon = stream?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (colon < 0 || !OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            // "socket:[INODE]": the inode is what identifies the journal's stream socket here.
            // The link's text as the kernel gives it (a FileSystemInfo of it would make the text a path below fd/).
            string? target = new FileInfo("/proc/self/fd/2").LinkTarget;
            return target is not null && target == $"socket:[{stream![(colon + 1)..]}]";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>READY=1 with a status line, and the watchdog started if one was asked for.</summary>
    public void Ready(string status)
    {
        Send($"READY=1\nSTATUS={OneLine(status)}\nMAINPID={Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        if (WatchdogInterval is TimeSpan every && _watchdog is null)
        {
            _watchdog = new Timer(_ => Send("WATCHDOG=1"), null, TimeSpan.Zero, every);
        }
    }

    public void Reloading() => Send("RELOADING=1");

    public void Status(string status) => Send($"READY=1\nSTATUS={OneLine(status)}");

    public void Stopping()
    {
        _watchdog?.Dispose();
        _watchdog = null;
        Send("STOPPING=1");
    }

    public void Dispose()
    {
        _watchdog?.Dispose();
        _socket?.Dispose();
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private void Send(string message)
    {
        if (_socket is null || _endPoint is null)
        {
            return;
        }

        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), _endPoint);
        }
        catch (SocketException)
        {
            // The manager went away (or never listened): the service goes on; readiness is the manager's concern.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
