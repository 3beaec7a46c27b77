using DnsWarden.Leak.Events;

namespace DnsWarden.Report.Leak;

/// <summary>
/// The events a report page lists one by one: the first <see cref="MaxListed"/>, in the order they were written (so
/// row N is line N of the events file and event N of the evidence pcapng); the rest are counted. The summary cards
/// and charts always cover every event.
/// </summary>
public sealed class LeakReportEvents
{
    /// <summary>Rows in a page: about 1 KB each, so a page stays a few megabytes.</summary>
    public const int MaxListed = 10_000;

    private readonly List<LeakEvent> _events = [];

    public IReadOnlyList<LeakEvent> Listed => _events;

    /// <summary>Events seen but not listed.</summary>
    public long NotListed { get; private set; }

    public void Add(LeakEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (_events.Count < MaxListed)
        {
            _events.Add(e);
        }
        else
        {
            NotListed++;
        }
    }
}
