namespace DnsWarden.Capture.Dissect;

/// <summary>Counters of a dissection run; every frame lands in exactly one of decoded / not IP / malformed / excluded.</summary>
public sealed class DissectorStats
{
    private readonly Dictionary<string, long> _malformed = new(StringComparer.Ordinal);

    public long Frames { get; internal set; }

    public long Decoded { get; internal set; }

    public long NotIp { get; internal set; }

    /// <summary>Frames on an interface the watch was told to leave out (<c>--exclude-iface</c>), not read further.</summary>
    public long Excluded { get; internal set; }

    public long Fragments { get; internal set; }

    public long Reassembled { get; internal set; }

    public long DnsMessages { get; internal set; }

    public long TlsClientHellos { get; internal set; }

    public long QuicInitials { get; internal set; }

    /// <summary>Client Initials of a connection already reported (retransmissions), not reported again.</summary>
    public long QuicRepeats { get; internal set; }

    /// <summary>Malformed observations by reason (e.g. "frame:Truncated", "dns:ForwardPointer", "tls:Malformed").</summary>
    public IReadOnlyDictionary<string, long> Malformed => _malformed;

    public long MalformedTotal { get; private set; }

    internal void CountMalformed(string reason)
    {
        _malformed[reason] = _malformed.GetValueOrDefault(reason) + 1;
        MalformedTotal++;
    }
}
