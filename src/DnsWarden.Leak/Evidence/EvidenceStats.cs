namespace DnsWarden.Leak.Evidence;

/// <summary>What the evidence recorder wrote and what it could not find.</summary>
public sealed class EvidenceStats
{
    /// <summary>Packets written (a packet that is evidence for events decided at different times is written once per decision).</summary>
    public long PacketsWritten { get; internal set; }

    /// <summary>Events whose packets were all still in the buffer.</summary>
    public long EventsComplete { get; internal set; }

    /// <summary>Events for which some or all packets had left the buffer (evicted under its budget, or never captured).</summary>
    public long EventsIncomplete { get; internal set; }

    /// <summary>Flows dropped from the buffer to stay within its budget.</summary>
    public long FlowsEvicted { get; internal set; }

    /// <summary>The most the buffer held at once, bookkeeping included.</summary>
    public long PeakBytes { get; internal set; }
}
