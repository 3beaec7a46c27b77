using System.Globalization;
using System.Text.Json;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Report;

/// <summary>One timeline bucket.</summary>
public sealed record TimelineBucket(DateTimeOffset Start, int Events)
{
    /// <summary>The bucket's events by type (<c>A B C D exfiltration</c>; types with none left out).</summary>
    public IReadOnlyDictionary<string, int> ByType { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);
}


/// <summary>A bucket that stands out from the rest, with what dominated it.</summary>
public sealed record BurstHint(DateTimeOffset Start, double Seconds, int Events, string Hint);

/// <summary>
/// The summary of a run (or of a saved events file): counts by type and severity, top processes, top resolver
/// destinations, a timeline and burst hints. Built the same way by <c>leak watch</c> and <c>leak report</c>.
/// </summary>
public sealed class LeakSummary
{
    /// <summary>Bucket widths the timeline picks from: the smallest that gives at most 30 buckets.</summary>
    private static readonly int[] s_bucketSeconds = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600, 86400];

    /// <summary>The top-process entry of the events no process was named for.</summary>
    public const string Unattributed = "(unattributed)";

    private const int MaxTimestamps = 1 << 20;
    private const int TopCount = 10;

    /// <summary>Distinct process → interface → resolver paths counted one by one; later new ones are counted together.</summary>
    public const int MaxPaths = 4096;

    /// <summary>What stands for the paths past <see cref="MaxPaths"/>, and for an event no process was named for.</summary>
    public const string OtherPaths = "(other paths)";

    public const string NoProcess = "(no process)";

    private readonly Dictionary<string, int> _byType = new(StringComparer.Ordinal) { ["A"] = 0, ["B"] = 0, ["C"] = 0, ["D"] = 0, ["exfiltration"] = 0 };
    private readonly Dictionary<string, int> _bySeverity = new(StringComparer.Ordinal) { ["P0"] = 0, ["P1"] = 0, ["P2"] = 0, ["P3"] = 0 };
    private readonly Dictionary<string, int> _processes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _destinations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _transports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _interfaces = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Process, string Interface, string Destination), int> _paths = [];
    private readonly List<(DateTimeOffset Time, string Type, string Label)> _times = [];

    public int Events { get; private set; }

    /// <summary>Events no process was named for (capture files, sockets gone, no permission).</summary>
    public int UnattributedEvents { get; private set; }

    public IReadOnlyDictionary<string, int> ByType => _byType;

    public IReadOnlyDictionary<string, int> BySeverity => _bySeverity;

    public IReadOnlyDictionary<string, int> ByTransport => _transports;

    /// <summary>Events by the interface the DNS (or the encrypted-DNS connection) left by.</summary>
    public IReadOnlyDictionary<string, int> ByInterface => _interfaces;

    public DateTimeOffset? First { get; private set; }

    public DateTimeOffset? Last { get; private set; }

    public void Add(LeakEvent e)
    {
        Events++;
        string type = e.Kind == "exfiltration" ? "exfiltration" : e.LeakType?.ToString() ?? "?";
        _byType[type] = _byType.GetValueOrDefault(type) + 1;
        _bySeverity[e.Severity.ToString()] = _bySeverity.GetValueOrDefault(e.Severity.ToString()) + 1;
        _transports[e.Transport] = _transports.GetValueOrDefault(e.Transport) + 1;
        string process = e.Process?.Name ?? Unattributed;
        _processes[process] = _processes.GetValueOrDefault(process) + 1;
        if (e.Process is null)
        {
            UnattributedEvents++;
        }

        _destinations[e.Destination] = _destinations.GetValueOrDefault(e.Destination) + 1;
        _interfaces[e.Interface] = _interfaces.GetValueOrDefault(e.Interface) + 1;
        var path = (e.Process?.Name ?? NoProcess, e.Interface, e.Destination);
        if (_paths.Count >= MaxPaths && !_paths.ContainsKey(path))
        {
            path = (OtherPaths, OtherPaths, OtherPaths);
        }

        _paths[path] = _paths.GetValueOrDefault(path) + 1;
        First = First is { } f && f <= e.Timestamp ? f : e.Timestamp;
        Last = Last is { } l && l >= e.Timestamp ? l : e.Timestamp;
        if (_times.Count < MaxTimestamps)
        {
            _times.Add((e.Timestamp, type, (type == "exfiltration" ? "exfiltration" : "Leak-" + type) + " to " + e.Destination));
        }
    }

    public IReadOnlyList<KeyValuePair<string, int>> TopProcesses => Top(_processes);

    public IReadOnlyList<KeyValuePair<string, int>> TopDestinations => Top(_destinations);

    /// <summary>Every process → interface → resolver path with its count, most first.</summary>
    public IReadOnlyList<LeakPath> Paths =>
        [.. _paths.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Process, StringComparer.Ordinal)
            .ThenBy(kv => kv.Key.Interface, StringComparer.Ordinal).ThenBy(kv => kv.Key.Destination, StringComparer.Ordinal)
            .Select(kv => new LeakPath(kv.Key.Process, kv.Key.Interface, kv.Key.Destination, kv.Value))];

    public int BucketSeconds
    {
        get
        {
            double span = First is { } f && Last is { } l ? (l - f).TotalSeconds : 0;
            foreach (int s in s_bucketSeconds)
            {
                if (span / s < 30)
                {
                    return s;
                }
            }

            return s_bucketSeconds[^1];
        }
    }

    public IReadOnlyList<TimelineBucket> Timeline()
    {
        if (First is not { } first)
        {
            return [];
        }

        int width = BucketSeconds;
        DateTimeOffset start = Floor(first, width);
        var counts = new SortedDictionary<long, Dictionary<string, int>>();
        foreach ((DateTimeOffset t, string type, _) in _times)
        {
            long index = (long)((t - start).TotalSeconds / width);
            if (!counts.TryGetValue(index, out Dictionary<string, int>? byType))
            {
                byType = new Dictionary<string, int>(StringComparer.Ordinal);
                counts[index] = byType;
            }

            byType[type] = byType.GetValueOrDefault(type) + 1;
        }

        return [.. counts.Select(kv => new TimelineBucket(start.AddSeconds(kv.Key * width), kv.Value.Values.Sum()) { ByType = kv.Value })];
    }

    /// <summary>Buckets with at least 5 events and at least three times the median of the non-empty buckets.</summary>
    public IReadOnlyList<BurstHint> Bursts()
    {
        IReadOnlyList<TimelineBucket> buckets = Timeline();
        if (buckets.Count == 0)
        {
            return [];
        }

        int[] sorted = [.. buckets.Select(b => b.Events).Order()];
        int median = sorted[sorted.Length / 2];
        int width = BucketSeconds;
        var hints = new List<BurstHint>();
        foreach (TimelineBucket b in buckets)
        {
            if (b.Events < 5 || (buckets.Count > 1 && b.Events < 3 * median))
            {
                continue;
            }

            DateTimeOffset end = b.Start.AddSeconds(width);
            var top = _times.Where(t => t.Time >= b.Start && t.Time < end).GroupBy(t => t.Label)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First();
            hints.Add(new BurstHint(b.Start, width, b.Events, $"{b.Events} events in {width} s, mostly {top.Key} ({top.Count()})"));
        }

        return hints;
    }

    /// <summary>Writes the summary object (the last JSON line of <c>leak watch --format json</c>).</summary>
    /// <param name="capture">Capture-side figures (frames, DNS messages, malformed by reason, drops); null for a report from a file.</param>
    public void WriteJson(Utf8JsonWriter w, string? policy, string? privacy, CaptureTotals? capture)
    {
        w.WriteStartObject();
        w.WriteString("event", "summary");
        if (policy is not null)
        {
            w.WriteString("policy", policy);
        }

        if (privacy is not null)
        {
            w.WriteString("privacy", privacy);
        }

        if (capture is not null)
        {
            w.WriteNumber("frames", capture.Frames);
            w.WriteNumber("dns_messages", capture.DnsMessages);
            w.WriteNumber("tls_client_hellos", capture.TlsClientHellos);
            w.WriteNumber("quic_initials", capture.QuicInitials);
            w.WriteNumber("flows_dropped", capture.FlowsDropped);
        }

        w.WriteNumber("events", Events);
        WriteCounts(w, "by_type", _byType);
        WriteCounts(w, "by_severity", _bySeverity);
        WriteCounts(w, "by_transport", _transports);
        WriteTop(w, "top_processes", "name", TopProcesses);
        w.WriteNumber("unattributed", UnattributedEvents);
        WriteTop(w, "top_destinations", "destination", TopDestinations);
        w.WriteStartObject("timeline");
        if (First is { } f && Last is { } l)
        {
            w.WriteString("first", LeakEventJson.FormatTime(f));
            w.WriteString("last", LeakEventJson.FormatTime(l));
        }

        w.WriteNumber("bucket_seconds", BucketSeconds);
        w.WriteStartArray("buckets");
        foreach (TimelineBucket b in Timeline())
        {
            w.WriteStartObject();
            w.WriteString("start", LeakEventJson.FormatTime(b.Start));
            w.WriteNumber("events", b.Events);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartArray("bursts");
        foreach (BurstHint h in Bursts())
        {
            w.WriteStartObject();
            w.WriteString("start", LeakEventJson.FormatTime(h.Start));
            w.WriteNumber("seconds", h.Seconds);
            w.WriteNumber("events", h.Events);
            w.WriteString("hint", h.Hint);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (capture is not null)
        {
            WriteCounts(w, "malformed", capture.Malformed);
            w.WriteNumber("malformed_total", capture.Malformed.Values.Sum());
            w.WriteStartArray("drops");
            foreach ((string iface, long kernel, long pcap) in capture.Drops)
            {
                w.WriteStartObject();
                w.WriteString("iface", iface);
                w.WriteNumber("kernel", kernel);
                w.WriteNumber("pcap", pcap);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (capture.AttributionSource is { } source)
            {
                w.WriteStartObject("attribution");
                w.WriteString("source", source);
                if (capture.AttributionReason is { } reason)
                {
                    w.WriteString("reason", reason);
                }
                else
                {
                    w.WriteNull("reason");
                }

                if (capture.SendRecords is { } records)
                {
                    w.WriteNumber("send_records", records);
                    w.WriteNumber("send_records_lost", capture.SendRecordsLost ?? 0);
                }

                w.WriteEndObject();
            }
        }

        w.WriteEndObject();
    }

    private static void WriteCounts<T>(Utf8JsonWriter w, string name, IEnumerable<KeyValuePair<string, T>> counts)
        where T : struct, IConvertible
    {
        w.WriteStartObject(name);
        foreach (KeyValuePair<string, T> kv in counts.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            w.WriteNumber(kv.Key, kv.Value.ToInt64(CultureInfo.InvariantCulture));
        }

        w.WriteEndObject();
    }

    private static void WriteTop(Utf8JsonWriter w, string name, string key, IReadOnlyList<KeyValuePair<string, int>> top)
    {
        w.WriteStartArray(name);
        foreach (KeyValuePair<string, int> kv in top)
        {
            w.WriteStartObject();
            w.WriteString(key, kv.Key);
            w.WriteNumber("events", kv.Value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static List<KeyValuePair<string, int>> Top(Dictionary<string, int> counts) =>
        [.. counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(TopCount)];

    private static DateTimeOffset Floor(DateTimeOffset t, int seconds) =>
        DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds() / seconds * seconds);
}

/// <summary>What the capture side saw, for the summary.</summary>
public sealed record CaptureTotals(
    long Frames,
    long DnsMessages,
    long TlsClientHellos,
    long QuicInitials,
    long FlowsDropped,
    IReadOnlyDictionary<string, long> Malformed,
    IReadOnlyList<(string Interface, long Kernel, long Pcap)> Drops)
{
    /// <summary>Live: how processes were named (<c>bpf</c>, <c>sock_diag</c>, <c>iphelper</c>, <c>none</c>); null for files.</summary>
    public string? AttributionSource { get; init; }

    /// <summary>Why send-time attribution was off, when it was.</summary>
    public string? AttributionReason { get; init; }

    /// <summary>Send-time records kept, and lost in the kernel (ring buffer full), when send-time attribution ran.</summary>
    public long? SendRecords { get; init; }

    public long? SendRecordsLost { get; init; }
}
