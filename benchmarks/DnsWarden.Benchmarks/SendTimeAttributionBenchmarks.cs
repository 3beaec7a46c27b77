using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Platform;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// Attribution per event with send-time records, against the kernel's own records: the BPF program is loaded and
/// attached as <c>leak watch</c> does it (root, Linux), this process's loopback sockets send, and each lookup is what
/// the pipeline does for a flow it has not seen — the table alone (65,536 flows), the provider (key from the packet's
/// addresses, lock, table), and <see cref="PlatformAttributor"/> on top (its per-flow cache missed, the event's process
/// built). Beside them, in the same run: the packet-time lookup of the path before (sock_diag), and what a flow with no
/// send record costs (a socket that connected before the watch: the table misses, the ring is drained, sock_diag answers).
/// </summary>
[MemoryDiagnoser]
[SupportedOSPlatform("linux")]
public class SendTimeAttributionBenchmarks
{
    private const int Flows = 64;
    private const int TableFlows = 65536;
    private const int Probes = 1024;

    private readonly List<IDisposable> _sockets = [];
    private SendTimeOwnerProvider _provider = null!;
    private SockDiagOwnerProvider _sockDiag = null!;
    private PlatformAttributor _attributor = null!;
    private (IPEndPoint Local, IPEndPoint Remote)[] _udp = [];
    private (IPEndPoint Local, IPEndPoint Remote)[] _tcp = [];
    private (IPEndPoint Local, IPEndPoint Remote)[] _older = [];
    private FlowKey5[] _events = [];
    private SendRecordTable _table = null!;
    private SendFlowKey[] _tableKeys = [];
    private IPAddress[] _tableAddresses = [];
    private int _next;
    private long _ns;

    [GlobalSetup]
    public void Setup()
    {
        var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _sockets.Add(receiver);
        var receiverEndPoint = (IPEndPoint)receiver.Client.LocalEndPoint!;
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _sockets.Add(new Disposer(listener.Stop));
        var listenerEndPoint = (IPEndPoint)listener.LocalEndpoint;

        // Sockets that sent before the program was attached: the kernel has no record of them.
        _older = new (IPEndPoint, IPEndPoint)[Flows];
        for (int i = 0; i < Flows; i++)
        {
            var udp = new UdpClient();
            udp.Connect(receiverEndPoint);
            _ = udp.Send([0]);
            _sockets.Add(udp);
            _older[i] = ((IPEndPoint)udp.Client.LocalEndPoint!, receiverEndPoint);
        }

        _provider = SendTimeOwnerProvider.Create(useBpf: true);
        if (_provider.UnavailableReason is { } reason)
        {
            throw new InvalidOperationException("send-time attribution is off, nothing to measure: " + reason);
        }

        _sockDiag = new SockDiagOwnerProvider();

        // Unconnected UDP (sendmsg4, port known at the hook) and TCP (connect4, port joined from the SYN at egress).
        _udp = new (IPEndPoint, IPEndPoint)[Flows];
        _tcp = new (IPEndPoint, IPEndPoint)[Flows];
        for (int i = 0; i < Flows; i++)
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            _ = udp.SendTo([0], receiverEndPoint);
            _sockets.Add(udp);
            _udp[i] = ((IPEndPoint)udp.LocalEndPoint!, receiverEndPoint);

            var tcp = new TcpClient();
            tcp.Connect(listenerEndPoint);
            _sockets.Add(tcp);
            _sockets.Add(listener.AcceptTcpClient());
            _tcp[i] = ((IPEndPoint)tcp.Client.LocalEndPoint!, listenerEndPoint);
        }

        foreach ((IPEndPoint local, IPEndPoint remote) in _udp)
        {
            RequireSendTime(Lookup(_provider, SocketProtocol.Udp, local, remote));
        }

        foreach ((IPEndPoint local, IPEndPoint remote) in _tcp)
        {
            RequireSendTime(Lookup(_provider, SocketProtocol.Tcp, local, remote));
        }

        foreach ((IPEndPoint local, IPEndPoint remote) in _older)
        {
            if (Lookup(_provider, SocketProtocol.Udp, local, remote) is { Source: AttributionSource.Bpf })
            {
                throw new InvalidOperationException("a socket that sent before the program was attached has a send record");
            }
        }

        _attributor = new PlatformAttributor(_provider);
        _events = [.. _udp.Select(f => Flow(IpProtocol.Udp, f)), .. _tcp.Select(f => Flow(IpProtocol.Tcp, f))];

        // A full table of synthetic flows (one process's facts), probed at keys spread through it.
        var facts = new ProcessFacts(Environment.ProcessId, "bench", null, 0, null, []);
        _table = new SendRecordTable(1, TableFlows, TimeSpan.FromMinutes(10));
        long stamp = Stopwatch.GetTimestamp();
        var all = new SendFlowKey[TableFlows];
        for (int i = 0; i < TableFlows; i++)
        {
            all[i] = SendFlowKey.Of(1, SocketProtocol.Udp, TableAddress(i), 53, (ushort)(1024 + (i % 60000)));
            _ = _table.Add(all[i], facts, stamp);
        }

        _tableKeys = [.. Enumerable.Range(0, Probes).Select(p => all[(int)((long)p * TableFlows / Probes)])];
        _tableAddresses = [.. Enumerable.Range(0, Probes).Select(p => TableAddress((int)((long)p * TableFlows / Probes)))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _attributor.Dispose();
        _sockDiag.Dispose();
        foreach (IDisposable socket in _sockets)
        {
            socket.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "sock_diag at packet time (the path before), connected UDP")]
    public OwnerConfidence SockDiag()
    {
        (IPEndPoint local, IPEndPoint remote) = _older[_next++ % Flows];
        return Lookup(_sockDiag, SocketProtocol.Udp, local, remote).Confidence;
    }

    [Benchmark(OperationsPerInvoke = Probes, Description = "send-time table, 65,536 flows: TryFind")]
    public int TableFind()
    {
        int found = 0;
        long now = Stopwatch.GetTimestamp();
        foreach (SendFlowKey key in _tableKeys)
        {
            found += _table.TryFind(key, now, out _) ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Probes, Description = "send-time table, 65,536 flows: key from the packet's address + TryFind")]
    public int TableKeyAndFind()
    {
        int found = 0;
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < Probes; i++)
        {
            SendFlowKey key = SendFlowKey.Of(1, SocketProtocol.Udp, _tableAddresses[i], 53, _tableKeys[i].SourcePort);
            found += _table.TryFind(key, now, out _) ? 1 : 0;
        }

        return found;
    }

    [Benchmark(Description = "provider, kernel record: unconnected UDP (sendmsg4)")]
    public OwnerConfidence ProviderUdp()
    {
        (IPEndPoint local, IPEndPoint remote) = _udp[_next++ % Flows];
        return Lookup(_provider, SocketProtocol.Udp, local, remote).Confidence;
    }

    [Benchmark(Description = "provider, kernel record: TCP (connect4, port joined at egress)")]
    public OwnerConfidence ProviderTcp()
    {
        (IPEndPoint local, IPEndPoint remote) = _tcp[_next++ % Flows];
        return Lookup(_provider, SocketProtocol.Tcp, local, remote).Confidence;
    }

    [Benchmark(Description = "per event: PlatformAttributor, new flow, kernel record")]
    public Confidence AttributorNewFlow()
    {
        // Each call is past the attributor's per-flow cache (2 s of packet time): the provider is asked every time.
        _ns += 3_000_000_000;
        return _attributor.Attribute(in _events[_next++ % _events.Length], _ns).Attribution.Confidence;
    }

    [Benchmark(Description = "provider, no record (socket older than the watch): drain + sock_diag")]
    public OwnerConfidence ProviderFallback()
    {
        (IPEndPoint local, IPEndPoint remote) = _older[_next++ % Flows];
        return Lookup(_provider, SocketProtocol.Udp, local, remote).Confidence;
    }

    private static OwnerLookup Lookup(IFlowOwnerProvider provider, SocketProtocol protocol, IPEndPoint local, IPEndPoint remote) =>
        provider.Lookup(protocol, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port);

    private static FlowKey5 Flow(IpProtocol protocol, (IPEndPoint Local, IPEndPoint Remote) f) =>
        new(IpAddr.FromIPAddress(f.Local.Address), IpAddr.FromIPAddress(f.Remote.Address), (ushort)f.Local.Port, (ushort)f.Remote.Port, protocol);

    private static IPAddress TableAddress(int i) => new([198, 51, 100, (byte)(i / 60000)]);

    private static void RequireSendTime(OwnerLookup lookup)
    {
        if (lookup.Source != AttributionSource.Bpf || lookup.Process?.Pid != Environment.ProcessId)
        {
            throw new InvalidOperationException($"a benchmark socket was not named from its send record: {lookup.Source}, {lookup.Reason}");
        }
    }

    private sealed class Disposer(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
