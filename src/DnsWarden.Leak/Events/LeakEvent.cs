using DnsWarden.Indicators;

namespace DnsWarden.Leak.Events;

/// <summary>What kind of finding an event is.</summary>
public enum LeakType
{
    /// <summary>Leak-A: plaintext DNS outside the safe path.</summary>
    A,

    /// <summary>Leak-B: a proxy-required name resolved outside the safe path (split-policy intent leak).</summary>
    B,

    /// <summary>Leak-C: encrypted DNS (DoT/DoH/DoQ) outside approved egress.</summary>
    C,

    /// <summary>Leak-D: an answer's address contacted over a different egress than the DNS took.</summary>
    D,
}

/// <summary>How bad a finding is; the rules are in docs/EVENTS.md.</summary>
public enum Severity
{
    P0,
    P1,
    P2,
    P3,
}

/// <summary>How sure a classification or an attribution is.</summary>
public enum Confidence
{
    None,
    Low,
    Medium,
    High,
}

/// <summary>The process that owns the packet's socket, as far as it is known (issue-4 live attribution; null for files).</summary>
public sealed record ProcessInfo(
    int Pid,
    string Name,
    string? Exe,
    int? Uid,
    string? CommandLine,
    IReadOnlyList<ProcessAncestor> Parents)
{
    /// <summary>The thread that sent, when the kernel said (send-time attribution): its id and name.</summary>
    public int? Tid { get; init; }

    public string? Thread { get; init; }

    public int? Gid { get; init; }

    /// <summary>The user name of <see cref="Uid"/>.</summary>
    public string? User { get; init; }

    public CgroupInfo? Cgroup { get; init; }
}

/// <summary>The process's cgroup v2 group: the kernel's id, the path under the cgroup2 mount, the systemd unit and container it names.</summary>
public sealed record CgroupInfo(ulong Id, string? Path, string? Unit, ContainerInfo? Container);

/// <summary>A container named by a cgroup path: runtime (<c>docker</c>, <c>podman</c>, <c>containerd</c>, <c>crio</c>, <c>kubernetes</c>), id, Kubernetes pod uid.</summary>
public sealed record ContainerInfo(string Runtime, string Id, string? Pod);

/// <summary>
/// The process that asked a local stub resolver (dnsmasq, systemd-resolved, unbound, dnsw proxy …) for the name the
/// stub then sent upstream: matched by name, type and time to a query seen on loopback.
/// </summary>
/// <param name="Frame">The frame of the loopback query it was matched to; 0 when none was found.</param>
public sealed record OnBehalfOf(ProcessInfo? Process, Attribution Attribution, long Frame)
{
    /// <summary>The capture file <see cref="Frame"/> is in; null live.</summary>
    public string? File { get; init; }
}

/// <summary>One step of the parent chain, nearest first, up to init.</summary>
public sealed record ProcessAncestor(int Pid, string Name);

/// <summary>Who sent the packet and how sure that is.</summary>
public sealed record Attribution(Confidence Confidence, string? Reason)
{
    public static Attribution FromFile { get; } = new(Confidence.None, "capture file: no socket to ask");

    /// <summary>What named the process: <c>bpf</c> (the kernel at send time), <c>sock_diag</c> or <c>proc</c> (at packet time), <c>iphelper</c> (Windows), <c>none</c>.</summary>
    public string Source { get; init; } = "none";
}

/// <summary>GeoIP facts of the destination, from a MaxMind-format database the user supplied.</summary>
public sealed record GeoInfo(string? CountryCode, string? CountryName, long? Asn, string? AsOrganization);

/// <summary>The connection side of a Leak-D finding.</summary>
public sealed record ConnectionFacts(
    string Kind,
    string Interface,
    string RouteClass,
    string Destination,
    string? ServerName,
    long Frame)
{
    /// <summary>The capture file <see cref="Frame"/> is in (a Leak-D's connection may be in the next file); null live.</summary>
    public string? File { get; init; }
}

/// <summary>
/// One finding, written as one JSON line (docs/EVENTS.md). <see cref="Kind"/> is <c>leak</c> (with
/// <see cref="LeakType"/>) or <c>exfiltration</c>. Fields that do not apply are null.
/// </summary>
public sealed record LeakEvent
{
    public required string Kind { get; init; }

    public required DateTimeOffset Timestamp { get; init; }

    public LeakType? LeakType { get; init; }

    public required Severity Severity { get; init; }

    /// <summary><c>udp53 tcp53 dot doh doq unknown</c>.</summary>
    public required string Transport { get; init; }

    /// <summary>How sure the transport classification is.</summary>
    public required Confidence Confidence { get; init; }

    public string? QName { get; init; }

    public string? QType { get; init; }

    public required string Interface { get; init; }

    /// <summary><c>loopback tunnel physical unknown</c>.</summary>
    public required string RouteClass { get; init; }

    /// <summary>Source <c>ip:port</c> (<c>[v6]:port</c>).</summary>
    public string? Source { get; init; }

    /// <summary>Destination <c>ip:port</c> (<c>[v6]:port</c>).</summary>
    public required string Destination { get; init; }

    public ProcessInfo? Process { get; init; }

    public required Attribution Attribution { get; init; }

    /// <summary>Why this is a finding: the rule, what made the path unsafe, what the classification rested on.</summary>
    public required IReadOnlyList<string> Evidence { get; init; }

    /// <summary>Frame number in the capture (1-based, as in tshark) of the packet that is the evidence.</summary>
    public long Frame { get; init; }

    /// <summary>The capture file <see cref="Frame"/> numbers a packet of (as given on the command line); null live.</summary>
    public string? File { get; init; }

    /// <summary>Server name of a TLS/QUIC ClientHello, when one was seen.</summary>
    public string? ServerName { get; init; }

    /// <summary>Known public resolver the destination or server name belongs to.</summary>
    public string? Provider { get; init; }

    public GeoInfo? GeoIp { get; init; }

    /// <summary>Ties a DNS transaction to the connection that used its answer (Leak-D), and to any other event of the same transaction.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>Leak-D only: the connection that used the answer.</summary>
    public ConnectionFacts? Connection { get; init; }

    /// <summary>Exfiltration only: the indicator's figures.</summary>
    public ExfiltrationFigures? Exfiltration { get; init; }

    /// <summary>When <see cref="Process"/> is a local stub resolver: the process that asked it, if a loopback query shows who.</summary>
    public OnBehalfOf? OnBehalfOf { get; init; }

    /// <summary>
    /// One query seen on several interfaces of the host (a container's veth, its bridge, the uplink): the interfaces
    /// in the order it crossed them; null when it was seen on one. <see cref="Interface"/> is the most exposed hop.
    /// </summary>
    public IReadOnlyList<string>? Path { get; init; }

    /// <summary>The route class of each interface of <see cref="Path"/>, in the same order; null with it.</summary>
    public IReadOnlyList<string>? PathRouteClasses { get; init; }
}
