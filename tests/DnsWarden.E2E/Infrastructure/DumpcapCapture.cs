using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.E2E;

/// <summary>
/// A running <c>dumpcap</c> inside a namespace, writing pcapng (one IDB per interface, with names), proven to capture:
/// it is returned only once a marker datagram sent on every interface is in its file, and <see cref="StopAsync"/>
/// stops it only once a second round of markers is there, so every packet sent before on those interfaces is in the
/// file too (each interface's packets reach dumpcap in order). The markers are then taken out of the file: what the
/// tests read holds only the scenario's packets. dumpcap printing "Capturing on" is not such proof.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class DumpcapCapture : IAsyncDisposable
{
    /// <summary>UDP "discard" (RFC 863): nothing listens, nothing answers a broadcast to it.</summary>
    public const int MarkerPort = 9;

    private static readonly TimeSpan s_proofTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_resendInterval = TimeSpan.FromMilliseconds(100);
    private static readonly byte[] s_markerPrefix = Encoding.ASCII.GetBytes("dnsw-capture-marker ");

    private readonly NetnsProcess _process;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private readonly List<(string Interface, Socket Socket)> _senders = [];
    private long? _packetsCaptured;
    private int _markersRemoved;

    private DumpcapCapture(NetnsProcess process, string outputPath, IReadOnlyList<string> interfaces)
    {
        _process = process;
        OutputPath = outputPath;
        Interfaces = interfaces;
    }

    public string Namespace => _process.Namespace;

    public string OutputPath { get; }

    public IReadOnlyList<string> Interfaces { get; }

    public bool IsStopped => _process.HasExited;

    /// <summary>The packets in the file once stopped: dumpcap's "Packets captured: N" less the markers taken out; null until stopped.</summary>
    public long? PacketsCaptured => _packetsCaptured;

    internal static async Task<DumpcapCapture> StartAsync(
        string netns,
        IReadOnlyList<string> interfaces,
        string outputPath,
        string? captureFilter,
        TimeSpan readyTimeout)
    {
        var args = new List<string>();
        foreach (string iface in interfaces)
        {
            args.Add("-i");
            args.Add(iface);

            // A kernel buffer of 32 MiB for each interface (dumpcap's default is 2; -B applies to the -i before it): a
            // busy phase on a loaded machine would otherwise lose packets before dumpcap reads them, which no marker
            // can prove absent.
            args.Add("-B");
            args.Add("32");
            if (captureFilter is not null)
            {
                args.Add("-f");
                args.Add($"({captureFilter}) or (udp dst port {MarkerPort})");
            }
        }

        args.AddRange(["-w", outputPath, "-q"]);
        NetnsProcess process = NetnsProcess.Start(netns, "dumpcap", "dumpcap", args);
        var capture = new DumpcapCapture(process, outputPath, interfaces);
        try
        {
            await process.WaitForOutputAsync("Capturing on", readyTimeout);
            foreach (string iface in interfaces)
            {
                capture._senders.Add((iface, await OpenSenderAsync(netns, iface)));
            }

            await capture.ProveAsync("start");
        }
        catch
        {
            await capture.DisposeAsync();
            throw;
        }

        return capture;
    }

    /// <summary>
    /// Proves every packet sent so far is in the file (a marker per interface, waited for), stops dumpcap with SIGINT
    /// (it then closes the file), takes the markers out of the file and returns the packet count.
    /// </summary>
    public async Task<long> StopAsync()
    {
        await ProveAsync("end");
        await _process.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        CloseSenders();
        Match m = PacketsCapturedRegex().Match(_process.StdErr);
        if (!File.Exists(OutputPath) || !m.Success)
        {
            throw new InvalidOperationException($"dumpcap left no complete file at {OutputPath}.\n{_process.Describe()}");
        }

        _markersRemoved = PcapNgTail.RemovePackets(OutputPath, IsMarker);
        _packetsCaptured = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) - _markersRemoved;
        return _packetsCaptured.Value;
    }

    /// <summary>Stops dumpcap at once, without proof: for a scenario that already failed.</summary>
    public async Task AbortAsync()
    {
        await _process.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        CloseSenders();
    }

    public string Describe() => _process.Describe();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await _process.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        }

        CloseSenders();
        await _process.DisposeAsync();
    }

    /// <summary>A marker (a marker's ICMP error on lo quotes it, and goes too).</summary>
    private static bool IsMarker(ReadOnlySpan<byte> packet) => packet.IndexOf(s_markerPrefix) >= 0;

    /// <summary>Sends "dnsw-capture-marker ID TAG IFACE" on each interface until the file holds one from each.</summary>
    private async Task ProveAsync(string tag)
    {
        DateTime deadline = DateTime.UtcNow + s_proofTimeout;
        while (!File.Exists(OutputPath))
        {
            // dumpcap creates its file after it says it captures.
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"dumpcap made no file at {OutputPath}.\n{_process.Describe()}");
            }

            await Task.Delay(10);
        }

        using var tail = new PcapNgTail(OutputPath);
        var missing = new HashSet<string>(Interfaces, StringComparer.Ordinal);
        string prefix = $"dnsw-capture-marker {_id} {tag} ";
        while (missing.Count > 0)
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"dumpcap did not record the {tag} marker on {string.Join(", ", missing)} within {s_proofTimeout.TotalSeconds:F0} s.\n{_process.Describe()}");
            }

            foreach ((string iface, Socket socket) in _senders.Where(s => missing.Contains(s.Interface)))
            {
                byte[] payload = Encoding.ASCII.GetBytes(prefix + iface);
                IPAddress to = iface == "lo" ? IPAddress.Loopback : IPAddress.Broadcast;
                await socket.SendToAsync(payload, new IPEndPoint(to, MarkerPort));
            }

            // Polling the file for what the markers prove; the resend covers an interface not yet capturing.
            DateTime resend = DateTime.UtcNow + s_resendInterval;
            while (missing.Count > 0 && DateTime.UtcNow < resend)
            {
                tail.Poll((name, packet) =>
                {
                    int at = packet.IndexOf(Encoding.ASCII.GetBytes(prefix));
                    if (at >= 0 && name is not null && packet[(at + prefix.Length)..].StartsWith(Encoding.ASCII.GetBytes(name)))
                    {
                        missing.Remove(name);
                    }
                });
                await Task.Delay(10);
            }
        }
    }

    /// <summary>A UDP socket made inside the namespace and bound to <paramref name="iface"/>, allowed to broadcast.</summary>
    private static async Task<Socket> OpenSenderAsync(string netns, string iface)
    {
        Socket socket = await NetworkNamespace.OpenSocketAsync(netns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // SOL_SOCKET, SO_BINDTODEVICE (asm-generic/socket.h): the name, NUL-terminated.
            socket.SetRawSocketOption(1, 25, Encoding.ASCII.GetBytes(iface + "\0"));
            socket.EnableBroadcast = true;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void CloseSenders()
    {
        foreach ((_, Socket s) in _senders)
        {
            s.Dispose();
        }

        _senders.Clear();
    }

    [GeneratedRegex(@"Packets captured: (\d+)")]
    private static partial Regex PacketsCapturedRegex();
}
