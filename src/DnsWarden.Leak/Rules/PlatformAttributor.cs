using DnsWarden.Leak.Events;
using DnsWarden.Platform;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Leak.Rules;

/// <summary>
/// Live process attribution over the platform's socket-owner lookup (sock_diag with a /proc fallback on Linux, the
/// IP Helper tables on Windows). Results are kept per flow for a short while: a flow's packets cost one lookup, and a
/// process that exits right after its query keeps the name it had when the query was seen.
/// </summary>
public sealed class PlatformAttributor(IFlowOwnerProvider provider) : IProcessAttributor, IDisposable
{
    private const int MaxCachedFlows = 65536;
    private static readonly long s_cacheNs = TimeSpan.FromSeconds(2).Ticks * 100;

    private readonly Dictionary<FlowKey5, (long Ns, ProcessInfo? Process, Attribution Attribution)> _cache = [];

    // The platform hands out one facts object per process and record: its event form is built once.
    private ProcessFacts? _lastFacts;
    private ProcessInfo? _lastInfo;

    public long Lookups { get; private set; }

    /// <summary>
    /// Runs one UDP and one TCP lookup on loopback sockets of our own before capture starts: the lookup code is
    /// compiled and the socket-owner tables are built, so the first query seen is attributed as fast as the rest — a
    /// client like dig sends, gets its answer and exits within milliseconds.
    /// </summary>
    public void WarmUp()
    {
        try
        {
            using var udp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            udp.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            udp.Connect(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9)); // connect() on UDP sends nothing
            var local = (System.Net.IPEndPoint)udp.LocalEndPoint!;
            provider.Lookup(SocketProtocol.Udp, local.Address, (ushort)local.Port, System.Net.IPAddress.Loopback, 9);

            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect((System.Net.IPEndPoint)listener.LocalEndpoint);
            var cl = (System.Net.IPEndPoint)client.Client.LocalEndPoint!;
            var server = (System.Net.IPEndPoint)listener.LocalEndpoint;
            provider.Lookup(SocketProtocol.Tcp, cl.Address, (ushort)cl.Port, server.Address, (ushort)server.Port);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // No loopback (an odd namespace): the first real lookup pays the warm-up instead.
        }
    }

    public (ProcessInfo? Process, Attribution Attribution) Attribute(in FlowKey5 flow, long timestampNs)
    {
        if (_cache.TryGetValue(flow, out var hit) && timestampNs - hit.Ns < s_cacheNs)
        {
            return (hit.Process, hit.Attribution);
        }

        (ProcessInfo?, Attribution) result;
        if (flow.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp))
        {
            result = (null, new Attribution(Confidence.None, "not TCP or UDP: no socket to ask"));
        }
        else
        {
            Lookups++;
            OwnerLookup r = provider.Lookup(
                flow.Protocol == IpProtocol.Tcp ? SocketProtocol.Tcp : SocketProtocol.Udp,
                flow.Source.ToIPAddress(), flow.SourcePort, flow.Destination.ToIPAddress(), flow.DestinationPort);
            ProcessInfo? process = r.Process is { } p ? ToInfo(p) : null;
            result = (process, new Attribution(Map(r.Confidence), r.Reason) { Source = SourceName(r.Source) });
        }

        if (_cache.Count >= MaxCachedFlows)
        {
            _cache.Clear();
        }

        _cache[flow] = (timestampNs, result.Item1, result.Item2);
        return result;
    }

    public void Dispose() => provider.Dispose();

    /// <summary>The words <c>attribution.source</c> uses (docs/EVENTS.md).</summary>
    public static string SourceName(AttributionSource source) => source switch
    {
        AttributionSource.Bpf => "bpf",
        AttributionSource.SockDiag => "sock_diag",
        AttributionSource.Proc => "proc",
        AttributionSource.IpHelper => "iphelper",
        _ => "none",
    };

    private ProcessInfo ToInfo(ProcessFacts p)
    {
        if (ReferenceEquals(p, _lastFacts))
        {
            return _lastInfo!;
        }

        _lastInfo = new ProcessInfo(p.Pid, p.Name, p.Exe, p.Uid, p.CommandLine, [.. p.Parents.Select(a => new ProcessAncestor(a.Pid, a.Name))])
        {
            Tid = p.Tid,
            Thread = p.Thread,
            Gid = p.Gid,
            User = p.User,
            Cgroup = p.Cgroup is { } c
                ? new CgroupInfo(c.Id, c.Path, c.Unit, c.Container is { } k ? new ContainerInfo(k.Runtime, k.Id, k.Pod) : null)
                : null,
        };
        _lastFacts = p;
        return _lastInfo;
    }

    private static Confidence Map(OwnerConfidence c) => c switch
    {
        OwnerConfidence.High => Confidence.High,
        OwnerConfidence.Medium => Confidence.Medium,
        OwnerConfidence.Low => Confidence.Low,
        _ => Confidence.None,
    };
}
