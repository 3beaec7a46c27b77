using DnsWarden.Leak.Report;

namespace DnsWarden.Report.Leak;

/// <summary>What a leak report page says about where its events came from, besides the events and their summary.</summary>
public sealed record LeakReportContext
{
    /// <summary>Where the events came from, in words (<c>capture files a.pcapng, b.pcapng</c>, <c>live on eth0, tun0</c>, <c>events file x.jsonl</c>).</summary>
    public required string Source { get; init; }

    /// <summary>The policy in force (<c>profile full-tunnel</c>, or a file).</summary>
    public string? Policy { get; init; }

    /// <summary>The privacy mode the events were written with.</summary>
    public string? Privacy { get; init; }

    /// <summary>The evidence pcapng written alongside (<c>--write-pcap</c>), if any.</summary>
    public string? EvidenceFile { get; init; }

    /// <summary>What the capture held (a watch only).</summary>
    public CaptureTotals? Capture { get; init; }
}
