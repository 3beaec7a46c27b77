using System.Globalization;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;

namespace DnsWarden.Cli.Leak;

/// <summary><c>leak report</c>'s filters: event types, process names or pids (the sender or the process behind a stub), a time span.</summary>
internal sealed class EventFilter(IReadOnlyCollection<string> types, IReadOnlyCollection<string> processes, DateTimeOffset? since, DateTimeOffset? until)
{
    private const string Unattributed = "unattributed";

    public bool Matches(LeakEvent e)
    {
        if ((since is { } from && e.Timestamp < from) || (until is { } to && e.Timestamp > to))
        {
            return false;
        }

        if (types.Count > 0 && !types.Contains(e.Kind == "exfiltration" ? "exfiltration" : e.LeakType?.ToString() ?? ""))
        {
            return false;
        }

        return processes.Count == 0 || processes.Any(p => Names(e.Process, p) || Names(e.OnBehalfOf?.Process, p)
            || (e.Process is null && (p == Unattributed || p == LeakSummary.Unattributed)));
    }

    private static bool Names(ProcessInfo? process, string wanted) =>
        process is not null && (string.Equals(process.Name, wanted, StringComparison.Ordinal)
            || process.Pid.ToString(CultureInfo.InvariantCulture) == wanted);
}
