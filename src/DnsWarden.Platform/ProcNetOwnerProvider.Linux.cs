using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace DnsWarden.Platform;

/// <summary>
/// Socket owners from /proc/net/{tcp,tcp6,udp,udp6}: works where sock_diag is refused (containers, old kernels) but
/// reads whole tables as text, so answers are at most Medium.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ProcNetOwnerProvider : IFlowOwnerProvider
{
    private readonly LinuxOwnerResolver _resolver;
    private readonly List<SocketEntry> _entries = [];
    private readonly Lock _lock = new();

    public ProcNetOwnerProvider()
        : this(new LinuxOwnerResolver(ProcSocketTable.DefaultRescanInterval))
    {
    }

    internal ProcNetOwnerProvider(LinuxOwnerResolver resolver) => _resolver = resolver;

    internal string ProcNetDirectory { get; init; } = "/proc/net";

    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        try
        {
            lock (_lock)
            {
                OwnerLookup answer = LookupCore(protocol, localAddress, localPort, remoteAddress, remotePort);
                return answer with { Source = answer.Process is null ? AttributionSource.None : AttributionSource.Proc };
            }
        }
        catch (Exception ex)
        {
            return OwnerLookup.Unknown($"lookup failed: {ex.Message}");
        }
    }

    public void Dispose()
    {
    }

    /// <summary>Unlocked; the sock_diag provider calls it under its own lock.</summary>
    internal OwnerLookup LookupCore(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        _entries.Clear();
        string name = protocol == SocketProtocol.Tcp ? "tcp" : "udp";
        bool v4 = localAddress.AddressFamily == AddressFamily.InterNetwork || localAddress.IsIPv4MappedToIPv6;

        // IPv4 flows may be on a dual-stack socket, listed in the "6" table as ::ffff:a.b.c.d.
        if (v4)
        {
            Read(Path.Combine(ProcNetDirectory, name));
        }

        Read(Path.Combine(ProcNetDirectory, name + "6"));
        SocketMatch match = SocketMatcher.Match(_entries, protocol, localAddress, localPort, remoteAddress, remotePort);
        if (!match.Found)
        {
            return OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        SocketEntry entry = _entries[match.Index];
        OwnerConfidence confidence = match.Confidence > OwnerConfidence.Medium ? OwnerConfidence.Medium : match.Confidence;
        string reason = match.Reason is null ? OwnerReasons.FromProcNet : LinuxOwnerResolver.Join(OwnerReasons.FromProcNet, match.Reason);
        return _resolver.Resolve(entry.Owner, entry.Uid, confidence, reason);
    }

    private void Read(string path)
    {
        StreamReader reader;
        try
        {
            reader = new StreamReader(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No IPv6 in this kernel or namespace: the table is simply absent.
            return;
        }

        using (reader)
        {
            while (reader.ReadLine() is { } line)
            {
                if (ProcNetParser.TryParseLine(line, out SocketEntry entry, out _))
                {
                    _entries.Add(entry);
                }
            }
        }
    }
}
