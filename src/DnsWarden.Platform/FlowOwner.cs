using System.Net;

namespace DnsWarden.Platform;

/// <summary>Transport of the flow whose owner is looked up.</summary>
public enum SocketProtocol
{
    Tcp,
    Udp,
}

/// <summary>How sure a lookup is that the named process sent the flow.</summary>
public enum OwnerConfidence
{
    None,
    Low,
    Medium,
    High,
}

/// <summary>One process above the owner in the parent chain.</summary>
public sealed record ProcessAncestorFacts(int Pid, string Name);

/// <summary>What is known about the process holding a socket; <paramref name="Parents"/> nearest first, up to pid 1.</summary>
public sealed record ProcessFacts(int Pid, string Name, string? Exe, int? Uid, string? CommandLine, IReadOnlyList<ProcessAncestorFacts> Parents)
{
    /// <summary>The thread that sent (send-time attribution only): its id and name, which may differ from the process's.</summary>
    public int? Tid { get; init; }

    public string? Thread { get; init; }

    public int? Gid { get; init; }

    /// <summary>The user name of <see cref="Uid"/> (/etc/passwd).</summary>
    public string? User { get; init; }

    public CgroupFacts? Cgroup { get; init; }
}

/// <summary>The answer to "who owns this flow's socket"; <paramref name="Reason"/> is null only when the confidence is High.</summary>
public sealed record OwnerLookup(ProcessFacts? Process, OwnerConfidence Confidence, string? Reason)
{
    /// <summary>Which source named the process; <see cref="AttributionSource.None"/> when none did.</summary>
    public AttributionSource Source { get; init; }

    public static OwnerLookup Unknown(string reason) => new(null, OwnerConfidence.None, reason);
}

/// <summary>Finds the process that owns the local socket of a flow.</summary>
public interface IFlowOwnerProvider : IDisposable
{
    /// <summary>
    /// <paramref name="localAddress"/>/<paramref name="localPort"/> is this host's side (the source of an outgoing packet).
    /// Called on the capture thread, once per new flow; never throws.
    /// </summary>
    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort);
}

/// <summary>Reasons shared by the providers, so callers and tests can count them.</summary>
public static class OwnerReasons
{
    public const string SocketGone = "socket gone (process exited or socket closed before lookup)";
    public const string UnconnectedUdp = "unconnected UDP socket matched by local port";
    public const string FromProcNet = "from /proc/net (sock_diag unavailable)";
    public const string NotSupported = "not supported on this OS";

    public static string Shared(int processes) => $"socket shared by {processes} processes";

    public static string NoPermission(int pid) => $"no permission to read /proc/{pid}/fd (run as root)";

    /// <summary>The socket existed when the kernel was asked, but no readable process held it a moment later.</summary>
    public static string OwnerNotFound(int deniedPid) =>
        $"socket owner not found: its process closed it or exited during the lookup, or it is pid {deniedPid}, whose /proc/{deniedPid}/fd cannot be read (run as root)";
}
