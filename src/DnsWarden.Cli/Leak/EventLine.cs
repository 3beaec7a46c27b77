using System.Globalization;
using DnsWarden.Leak.Events;

namespace DnsWarden.Cli.Leak;

/// <summary>One event as one human line (<c>leak watch</c>, <c>leak report --list</c>): what leaked, where, and which process sent it.</summary>
internal static class EventLine
{
    /// <summary>The line; times in the zone of the machine reading it, with its offset (the JSON stays UTC).</summary>
    public static string Format(LeakEvent e) => Format(e, TimeZoneInfo.Local);

    public static string Format(LeakEvent e, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(e);
        string time = TimeZoneInfo.ConvertTime(e.Timestamp, zone).ToString("HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        string type = e.Kind == "exfiltration" ? "EXFIL " : "Leak-" + e.LeakType;
        string what = e.Kind == "exfiltration" && e.Exfiltration is { } x
            ? $"{x.BaseDomain} score {x.Score}, {x.UniqueSubdomains} names"
            : e.LeakType == LeakType.D && e.Connection is { } c
                ? $"{e.QName ?? "-"} via {e.Interface}, then {c.Destination} via {c.Interface}"
                : e.QName is { } q ? $"{q} {e.QType}" : e.ServerName is { } sni ? "sni " + sni : e.Kind == "leak" && e.LeakType == LeakType.C ? "no SNI" : "";
        // A query seen along a host-internal path: the interfaces it crossed, the judged one with its route class.
        string where = e.Path is { Count: > 1 } path
            ? string.Join(">", path.Select(p => p == e.Interface ? $"{p}({e.RouteClass})" : p))
            : $"{e.Interface}({e.RouteClass})";
        return Printable($"{time} {type} {e.Severity} {e.Transport,-5} {e.Confidence.ToString().ToLowerInvariant(),-6} {where} {e.Source ?? "-"} > {e.Destination}  {what}  {Sender(e)}");
    }

    /// <summary>
    /// The line in its severity's colour when it goes to a terminal (P1 red, P2 yellow, the rest plain), never into a
    /// pipe or file, and not when NO_COLOR is set (no-color.org).
    /// </summary>
    public static string Coloured(LeakEvent e, bool terminal)
    {
        string line = Format(e);
        if (!terminal || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")))
        {
            return line;
        }

        return e.Severity switch
        {
            Severity.P1 => "\u001b[31m" + line + "\u001b[0m",
            Severity.P2 => "\u001b[33m" + line + "\u001b[0m",
            _ => line,
        };
    }

    /// <summary><c>name[pid]</c>, with <c>for name[pid]</c> behind a local stub, or why no process is named.</summary>
    public static string Sender(LeakEvent e)
    {
        if (e.Process is not { } p)
        {
            return $"(no process: {e.Attribution.Reason ?? "unknown"})";
        }

        string sender = string.Create(CultureInfo.InvariantCulture, $"{p.Name}[{p.Pid}]");
        return e.OnBehalfOf switch
        {
            { Process: { } asker } => string.Create(CultureInfo.InvariantCulture, $"{sender} for {asker.Name}[{asker.Pid}]"),
            { } => sender + " for ?",
            null => sender,
        };
    }

    /// <summary>Names and TXT data come from the network: control characters must not reach the terminal.</summary>
    private static string Printable(string text) =>
        text.Any(char.IsControl) ? string.Concat(text.Select(c => char.IsControl(c) ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : c.ToString())) : text;
}
