using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// A process named so that a recycled pid is not taken for it: the pid and its start time (field 22 of
/// /proc/PID/stat, clock ticks after boot). Written as "PID START" in the records a later run reads to tell a dead
/// owner from a live one.
/// </summary>
public readonly record struct ProcessIdentity(int Pid, ulong StartTime)
{
    /// <summary>The identity of the running process <paramref name="pid"/>; null when it is gone or a zombie.</summary>
    [SupportedOSPlatform("linux")]
    public static ProcessIdentity? Of(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ProcText.TryParseStatStateAndStart(stat, out char state, out ulong start) && !IsDead(state)
            ? new ProcessIdentity(pid, start)
            : null;
    }

    /// <summary>This process.</summary>
    [SupportedOSPlatform("linux")]
    public static ProcessIdentity Current => Of(Environment.ProcessId) ?? throw new InvalidOperationException("cannot read /proc/self/stat");

    /// <summary>
    /// Whether this very process still runs. A zombie does not: it has exited and only waits for its parent to reap
    /// it (a SIGKILLed owner stays a zombie until then), and a pid now held by another process is not it.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public bool IsAlive => Of(Pid) is { } now && now.StartTime == StartTime;

    /// <summary>
    /// Waits until this process has exited (a zombie has), at most <paramref name="timeout"/>; true when it has. Through
    /// a pidfd, which works for a process that is not our child and is opened before the start time is checked again,
    /// so a pid recycled meanwhile is not waited for.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public unsafe bool WaitForExit(TimeSpan timeout)
    {
        if (OpenPidfd() is not int fd)
        {
            return true;
        }

        try
        {
            // A pidfd polls readable once the process has exited.
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (true)
            {
                int left = (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
                var poll = new LibC.PollFd { Fd = fd, Events = LibC.PollIn };
                int n = LibC.Poll(&poll, 1, left);
                if (n > 0)
                {
                    return true;
                }

                if (n == 0)
                {
                    return false;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EIntr)
                {
                    throw new IOException("poll on a pidfd: " + Marshal.GetPInvokeErrorMessage(errno));
                }
            }
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    /// <summary>Sends <paramref name="signal"/> to this very process (through a pidfd: never to a pid recycled meanwhile); false when it has ended.</summary>
    [SupportedOSPlatform("linux")]
    public bool Signal(int signal)
    {
        if (OpenPidfd() is not int fd)
        {
            return false;
        }

        try
        {
            return LibC.Syscall4(LibC.SysPidfdSendSignal, fd, signal, 0, 0) == 0;
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    /// <summary>A pidfd of this very process; null when it has ended (or its pid is another process's now).</summary>
    [SupportedOSPlatform("linux")]
    private int? OpenPidfd()
    {
        int fd = (int)LibC.Syscall3(LibC.SysPidfdOpen, Pid, 0, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == LibC.ESrch ? null : throw new IOException($"pidfd_open({Pid.ToString(CultureInfo.InvariantCulture)}): {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        // Checked after the open: the pidfd then refers to the process whose start time matched.
        if (!IsAlive)
        {
            _ = LibC.Close(fd);
            return null;
        }

        return fd;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid} {StartTime}");

    /// <summary>Reads "PID START" as <see cref="ToString"/> writes it.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out ProcessIdentity identity)
    {
        identity = default;
        text = text.Trim();
        int space = text.IndexOf(' ');
        if (space <= 0
            || !int.TryParse(text[..space], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            || pid <= 0
            || !ulong.TryParse(text[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
        {
            return false;
        }

        identity = new ProcessIdentity(pid, start);
        return true;
    }

    // fs/proc/array.c task_state_array: Z (zombie) and X (dead) have exited.
    private static bool IsDead(char state) => state is 'Z' or 'X' or 'x';
}
