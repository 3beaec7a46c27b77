using System.Globalization;
using System.Runtime.Versioning;

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
