namespace DnsWarden.Leak.Evidence;

/// <summary>
/// How much the evidence buffer keeps while it waits for events to name packets (docs/DECISIONS.md, "Evidence
/// buffer"). DNS transactions and other flows have budgets of their own: a Leak-D names a DNS answer that may be an
/// hour old, while a connection is named within a few packets of its start, and a busy host's connections must not
/// push the DNS out.
/// </summary>
public sealed record EvidenceLimits
{
    public static EvidenceLimits Default { get; } = new();

    /// <summary>Packets kept (and written) per flow: a DNS transaction's queries and answers, a connection's SYN, handshake and ClientHello.</summary>
    public int MaxFramesPerFlow { get; init; } = 10;

    /// <summary>Budget of the DNS transactions (UDP and TCP port 53): their frames plus an estimate of the bookkeeping.</summary>
    public long MaxDnsBytes { get; init; } = 8L << 20;

    /// <summary>Budget of every other flow (TLS, QUIC, connections Leak-D may name).</summary>
    public long MaxFlowBytes { get; init; } = 8L << 20;

    /// <summary>
    /// Bytes kept of a frame that is not DNS: enough for a SYN, a ClientHello with a post-quantum key share or a QUIC
    /// Initial; a bulk segment (64 KiB with offloads) is cut (its original length is kept, as any snapped capture).
    /// </summary>
    public int FlowSnapLength { get; init; } = 4096;

    /// <summary>The most the buffer holds, bookkeeping included.</summary>
    public long TotalBytes => MaxDnsBytes + MaxFlowBytes;
}
