using System.Globalization;

namespace DnsWarden.Platform;

/// <summary>A process's children as the kernel lists them (<c>/proc/PID/task/PID/children</c>, proc(5)).</summary>
public static class ProcessChildren
{
    /// <summary>The first child of <paramref name="pid"/>'s main thread; null before it forked, after, or when unreadable.</summary>
    public static int? First(int pid)
    {
        string id = pid.ToString(CultureInfo.InvariantCulture);
        try
        {
            string children = File.ReadAllText($"/proc/{id}/task/{id}/children").Trim();
            return int.TryParse(children.Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int child) ? child : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
