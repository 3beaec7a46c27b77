using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Capture.Dissect;

/// <summary>What a frame carried that matters to DNS: a DNS message, a TLS ClientHello or a QUIC client Initial.</summary>
public enum ObservationKind
{
    Dns,
    TlsClientHello,
    QuicInitial,
}

/// <summary>One resource record of an answer section, rendered for people and JSON.</summary>
/// <param name="Data">A/AAAA: the address; CNAME/NS/PTR: the target name; TXT: the strings concatenated; MX: "preference exchange"; SOA: the primary server; otherwise empty.</param>
public sealed record DnsAnswer(string Name, ushort Type, uint Ttl, string Data)
{
    /// <summary>A/AAAA: the address itself (what the leak rules match connections against); otherwise none.</summary>
    public IpAddr Address { get; init; }
}

/// <summary>The facts of one DNS message.</summary>
public sealed record DnsFacts(
    ushort Id,
    bool IsResponse,
    string? QName,
    ushort QType,
    ushort Rcode,
    bool Truncated,
    IReadOnlyList<DnsAnswer> Answers);

/// <summary>
/// Evidence from one frame. DNS over TCP and TLS ClientHellos are reported at the frame that completes
/// them (the same frame tshark names), with that frame's origin and 5-tuple.
/// </summary>
public sealed record Observation(
    long FrameNumber,
    FrameOrigin Origin,
    FlowKey5 Flow,
    ObservationKind Kind,
    string Transport,
    DnsFacts? Dns,
    string? ServerName,
    IReadOnlyList<string> Alpn,
    bool HasEch,
    uint QuicVersion);
