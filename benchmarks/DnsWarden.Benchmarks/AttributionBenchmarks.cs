using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using DnsWarden.Platform;

namespace DnsWarden.Benchmarks;

/// <summary>
/// One socket-owner lookup on loopback, in µs: a flow seen for the first time (the provider keeps no per-flow cache, so
/// this is a sock_diag query against a warm inode map and facts cache) and the same flow repeated. Linux only.
/// </summary>
[MemoryDiagnoser]
public class AttributionBenchmarks
{
    private const int Flows = 64;

    private readonly List<IDisposable> _sockets = [];
    private IFlowOwnerProvider _provider = new UnsupportedOwnerProvider();
    private (IPEndPoint Local, IPEndPoint Remote)[] _tcp = [];
    private (IPEndPoint Local, IPEndPoint Remote)[] _udp = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _sockets.Add(new Disposer(listener.Stop));
        var server = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _sockets.Add(server);
        var serverEndPoint = (IPEndPoint)server.Client.LocalEndPoint!;
        _tcp = new (IPEndPoint, IPEndPoint)[Flows];
        _udp = new (IPEndPoint, IPEndPoint)[Flows];
        for (int i = 0; i < Flows; i++)
        {
            var client = new TcpClient();
            client.Connect((IPEndPoint)listener.LocalEndpoint);
            _sockets.Add(client);
            _sockets.Add(listener.AcceptTcpClient());
            _tcp[i] = ((IPEndPoint)client.Client.LocalEndPoint!, (IPEndPoint)client.Client.RemoteEndPoint!);

            var udp = new UdpClient();
            udp.Connect(serverEndPoint);
            _sockets.Add(udp);
            _udp[i] = ((IPEndPoint)udp.Client.LocalEndPoint!, serverEndPoint);
        }

        _provider = FlowOwnerProviders.CreateDefault();

        // Warm the inode map and the process facts, as a capture that has run for a while would have them.
        foreach ((IPEndPoint local, IPEndPoint remote) in _tcp)
        {
            Require(_provider.Lookup(SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider.Dispose();
        foreach (IDisposable socket in _sockets)
        {
            socket.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "TCP, new flow")]
    public OwnerConfidence TcpNewFlow()
    {
        (IPEndPoint local, IPEndPoint remote) = _tcp[_next++ % Flows];
        return _provider.Lookup(SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port).Confidence;
    }

    [Benchmark(Description = "TCP, repeated flow")]
    public OwnerConfidence TcpRepeatedFlow()
    {
        (IPEndPoint local, IPEndPoint remote) = _tcp[0];
        return _provider.Lookup(SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port).Confidence;
    }

    [Benchmark(Description = "UDP, new flow (dump)")]
    public OwnerConfidence UdpNewFlow()
    {
        (IPEndPoint local, IPEndPoint remote) = _udp[_next++ % Flows];
        return _provider.Lookup(SocketProtocol.Udp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port).Confidence;
    }

    [Benchmark(Description = "UDP, repeated flow (dump)")]
    public OwnerConfidence UdpRepeatedFlow()
    {
        (IPEndPoint local, IPEndPoint remote) = _udp[0];
        return _provider.Lookup(SocketProtocol.Udp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port).Confidence;
    }

    private static void Require(OwnerLookup lookup)
    {
        if (lookup.Process is null && OperatingSystem.IsLinux())
        {
            throw new InvalidOperationException($"benchmark socket not attributed: {lookup.Reason}");
        }
    }

    private sealed class Disposer(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
