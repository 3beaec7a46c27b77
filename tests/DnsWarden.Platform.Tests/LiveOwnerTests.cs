using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Tests;

/// <summary>Real sockets on loopback in this process and a child; needs root to read every /proc/[pid]/fd (CI is root).</summary>
/// <remarks>
/// Alone in its collection, run with no other test: a process another test forks holds copies of every descriptor of
/// this one until it execs, and a socket seen with two holders is rightly judged Low instead of Medium or High.
/// </remarks>
[SupportedOSPlatform("linux")]
[Collection(nameof(LiveOwnerTests))]
public sealed class LiveOwnerTests
{
    private static readonly int s_pid = Environment.ProcessId;

    public LiveOwnerTests()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Linux socket attribution");
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Tcp_ClientSide_IsThisProcess_High(string loopback)
    {
        IPAddress address = IPAddress.Parse(loopback);
        using var listener = new TcpListener(address, 0);
        listener.Start();
        var client = new TcpClient(address.AddressFamily);
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        using TcpClient accepted = listener.AcceptTcpClient();
        var local = (IPEndPoint)client.Client.LocalEndPoint!;
        var remote = (IPEndPoint)client.Client.RemoteEndPoint!;

        using var provider = new SockDiagOwnerProvider();
        OwnerLookup lookup = provider.Lookup(SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port);
        AssertThisProcess(lookup, OwnerConfidence.High);
        Assert.Null(lookup.Reason);
        Assert.Null(provider.UnavailableReason);
        Assert.Equal(0, provider.FallbackLookups);

        client.Dispose();
        OwnerLookup gone = AfterClose(() => provider.Lookup(SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port));
        Assert.Equal(OwnerConfidence.None, gone.Confidence);
        Assert.Equal(OwnerReasons.SocketGone, gone.Reason);
    }

    [Fact]
    public void Tcp_Ipv4FlowOnDualStackSocket()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        client.Connect(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), ((IPEndPoint)listener.LocalEndpoint).Port));
        using TcpClient accepted = listener.AcceptTcpClient();
        var local = (IPEndPoint)client.LocalEndPoint!;
        var remote = (IPEndPoint)client.RemoteEndPoint!;

        using var provider = new SockDiagOwnerProvider();
        OwnerLookup lookup = provider.Lookup(SocketProtocol.Tcp, local.Address.MapToIPv4(), (ushort)local.Port, remote.Address.MapToIPv4(), (ushort)remote.Port);
        AssertThisProcess(lookup, OwnerConfidence.High);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Udp_ConnectedAndUnconnected(string loopback)
    {
        IPAddress address = IPAddress.Parse(loopback);
        using var server = new UdpClient(new IPEndPoint(address, 0));
        var serverEndPoint = (IPEndPoint)server.Client.LocalEndPoint!;
        var unconnected = new UdpClient(new IPEndPoint(address, 0));
        var connected = new UdpClient(address.AddressFamily);
        connected.Connect(serverEndPoint);
        var unconnectedEndPoint = (IPEndPoint)unconnected.Client.LocalEndPoint!;
        var connectedEndPoint = (IPEndPoint)connected.Client.LocalEndPoint!;

        using var provider = new SockDiagOwnerProvider();

        // The only socket on its port: the design answers High for it (Medium only when the port is shared).
        OwnerLookup u = provider.Lookup(SocketProtocol.Udp, address, (ushort)unconnectedEndPoint.Port, address, (ushort)serverEndPoint.Port);
        AssertThisProcess(u, OwnerConfidence.High);
        OwnerLookup c = provider.Lookup(SocketProtocol.Udp, address, (ushort)connectedEndPoint.Port, address, (ushort)serverEndPoint.Port);
        AssertThisProcess(c, OwnerConfidence.High);

        unconnected.Dispose();
        connected.Dispose();
        Assert.Equal(OwnerReasons.SocketGone, AfterClose(() => provider.Lookup(SocketProtocol.Udp, address, (ushort)unconnectedEndPoint.Port, address, (ushort)serverEndPoint.Port)).Reason);
        Assert.Equal(OwnerReasons.SocketGone, AfterClose(() => provider.Lookup(SocketProtocol.Udp, address, (ushort)connectedEndPoint.Port, address, (ushort)serverEndPoint.Port)).Reason);
    }

    [Fact]
    public void Udp_UnconnectedPortSharedBySeveralSockets_IsMedium()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        a.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        b.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)a.LocalEndPoint!).Port;
        b.Bind(new IPEndPoint(IPAddress.Any, port));

        using var provider = new SockDiagOwnerProvider();
        OwnerLookup lookup = provider.Lookup(SocketProtocol.Udp, IPAddress.Loopback, (ushort)port, IPAddress.Loopback, 9);
        AssertThisProcess(lookup, OwnerConfidence.Medium);
        Assert.Equal(OwnerReasons.UnconnectedUdp, lookup.Reason);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ProcNetFallback_SamePid_Medium(bool udp)
    {
        using var server = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var serverEndPoint = (IPEndPoint)server.Client.LocalEndPoint!;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var tcp = new TcpClient();
        tcp.Connect((IPEndPoint)listener.LocalEndpoint);
        using TcpClient accepted = listener.AcceptTcpClient();
        using var connected = new UdpClient();
        connected.Connect(serverEndPoint);

        using var provider = new ProcNetOwnerProvider();
        Socket socket = udp ? connected.Client : tcp.Client;
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        OwnerLookup lookup = provider.Lookup(udp ? SocketProtocol.Udp : SocketProtocol.Tcp, local.Address, (ushort)local.Port, remote.Address, (ushort)remote.Port);
        AssertThisProcess(lookup, OwnerConfidence.Medium);
        Assert.Equal(OwnerReasons.FromProcNet, lookup.Reason);
    }

    [Fact]
    public void ChildBashConnectedUdp_IsTheChild()
    {
        using var server = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int serverPort = ((IPEndPoint)server.Client.LocalEndPoint!).Port;
        server.Client.ReceiveTimeout = 5000;

        // bash's /dev/udp redirection opens a connected UDP socket; the datagram tells us its local port.
        using var child = Process.Start(new ProcessStartInfo("bash", ["-c", $"exec 3<>/dev/udp/127.0.0.1/{serverPort}; echo hi >&3; sleep 3"]))!;
        try
        {
            var from = new IPEndPoint(IPAddress.Any, 0);
            _ = server.Receive(ref from);

            using var provider = new SockDiagOwnerProvider();
            OwnerLookup lookup = provider.Lookup(SocketProtocol.Udp, IPAddress.Loopback, (ushort)from.Port, IPAddress.Loopback, (ushort)serverPort);
            Assert.NotNull(lookup.Process);

            // bash forks sleep with fd 3 inherited, so both hold the socket: Low, naming sleep (the holder that is nobody's parent).
            Assert.Contains(lookup.Process.Name, new[] { "bash", "sleep" });
            Assert.True(lookup.Process.Pid == child.Id || lookup.Process.Parents.Any(p => p.Pid == child.Id), $"pid {lookup.Process.Pid} is not bash {child.Id} or its child");
            if (lookup.Confidence == OwnerConfidence.Low)
            {
                Assert.Equal("sleep", lookup.Process.Name);
                Assert.Equal(OwnerReasons.Shared(2), lookup.Reason);
            }
            else
            {
                Assert.Equal(OwnerConfidence.High, lookup.Confidence);
            }

            Assert.Contains(lookup.Process.Parents, p => p.Pid == s_pid);
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }
    }

    [Fact]
    public void DefaultProvider_OnLinux_IsSockDiag()
    {
        using IFlowOwnerProvider provider = FlowOwnerProviders.CreateDefault();
        Assert.IsType<SockDiagOwnerProvider>(provider);
    }

    private static void AssertThisProcess(OwnerLookup lookup, OwnerConfidence confidence)
    {
        Assert.True(lookup.Process is not null, lookup.Reason);
        Assert.Equal(confidence, lookup.Confidence);
        ProcessFacts p = lookup.Process;
        Assert.Equal(s_pid, p.Pid);
        using var self = Process.GetCurrentProcess();
        Assert.Equal(File.ReadAllText("/proc/self/comm").TrimEnd('\n'), p.Name);
        Assert.Equal(Environment.ProcessPath, p.Exe);
        Assert.Equal(RealUid(), p.Uid);
        Assert.NotNull(p.CommandLine);
        Assert.NotEmpty(p.Parents);
        Assert.Equal(1, p.Parents[^1].Pid);
    }

    private static int RealUid()
    {
        string status = File.ReadAllText("/proc/self/status");
        Assert.True(ProcText.TryParseStatus(status, out _, out _, out int? uid));
        return uid!.Value;
    }

    /// <summary>
    /// A closed socket can outlive its Dispose for a moment: a process another test starts at that instant holds a copy
    /// of every descriptor between fork and exec. The lookup is repeated until it says gone, for up to 2 s.
    /// </summary>
    private static OwnerLookup AfterClose(Func<OwnerLookup> lookup)
    {
        OwnerLookup result = lookup();
        for (int i = 0; i < 100 && result.Reason != OwnerReasons.SocketGone; i++)
        {
            Thread.Sleep(20);
            result = lookup();
        }

        return result;
    }
}
