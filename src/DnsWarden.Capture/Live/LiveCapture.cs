using DnsWarden.Platform;
using DnsWarden.Wire.Frames;
using SharpPcap;
using SharpPcap.LibPcap;

namespace DnsWarden.Capture.Live;

/// <summary>Why an interface could not be opened, or null when it was.</summary>
public sealed record InterfaceProbe(string Name, string? Description, bool IsUp, bool IsLoopback, string? Error);

/// <summary>Totals from the kernel and libpcap for one interface.</summary>
public readonly record struct CaptureDrops(string Interface, ulong Received, ulong Dropped, ulong InterfaceDropped);

/// <summary>
/// Live capture through libpcap (SharpPcap) on one or more interfaces. Frames are handed to the
/// handler straight from libpcap's buffer (PacketCapture.Data); nothing is copied. Each device
/// captures on its own thread, so calls are serialized here: the pipeline behind the handler is
/// single-threaded.
/// </summary>
public sealed class LiveCapture : IDisposable
{
    /// <summary>
    /// Keeps what the observe plane needs: DNS on 53, DoT/DoQ on 853, HTTPS and QUIC on 443, and the
    /// first packets of every TCP connection (SYN) plus all UDP, so that a connection to an address DNS
    /// handed out can be tied to its query. IP fragments are kept so reassembly can happen.
    /// </summary>
    public const string DefaultFilter =
        "port 53 or port 853 or port 443 or port 5353 or port 5355 or (tcp[tcpflags] & tcp-syn != 0) or udp " +
        "or (ip6 and ip6[6] == 6 and (ip6[53] & 0x02 != 0)) or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)";

    private readonly List<LibPcapLiveDevice> _devices = [];
    private readonly Dictionary<LibPcapLiveDevice, int> _ids = [];
    private readonly Lock _gate = new();
    private FrameHandler? _handler;

    private LiveCapture()
    {
    }

    public IReadOnlyList<string> Interfaces => _devices.ConvertAll(d => d.Name);

    /// <summary>Every interface libpcap knows, with whether it can be opened for capture.</summary>
    public static IReadOnlyList<InterfaceProbe> Probe()
    {
        var result = new List<InterfaceProbe>();
        foreach (LibPcapLiveDevice d in LibPcapLiveDeviceList.New())
        {
            string? error = null;
            try
            {
                d.Open(new DeviceConfiguration { Mode = DeviceModes.None, ReadTimeout = 10, Snaplen = 128 });
                d.Close();
            }
            catch (Exception e) when (e is PcapException or DeviceNotReadyException or InvalidOperationException)
            {
                error = e.Message;
            }

            result.Add(new InterfaceProbe(d.Name, d.Description, IsUp(d), IsLoopback(d), error));
        }

        return result;
    }

    /// <summary>
    /// Opens the named interfaces, or every interface that is up when none is named. Throws
    /// <see cref="CaptureOpenException"/> with a one-line reason when an interface cannot be opened.
    /// </summary>
    public static LiveCapture Open(IReadOnlyCollection<string> interfaces, string filter = DefaultFilter, int snapLength = 65535)
    {
        var capture = new LiveCapture();
        try
        {
            var all = LibPcapLiveDeviceList.New();
            IEnumerable<LibPcapLiveDevice> chosen = interfaces.Count > 0
                ? interfaces.Select(n => all.FirstOrDefault(d => d.Name == n) ?? throw new CaptureOpenException($"no such interface: {n}"))
                : all.Where(d => IsUp(d) && d.Name != "any" && !d.Name.StartsWith("nf", StringComparison.Ordinal)
                                 && !d.Name.StartsWith("bluetooth", StringComparison.Ordinal) && !d.Name.StartsWith("dbus", StringComparison.Ordinal));
            foreach (LibPcapLiveDevice d in chosen)
            {
                try
                {
                    d.Open(new DeviceConfiguration
                    {
                        Mode = DeviceModes.None,
                        ReadTimeout = 100,
                        Snaplen = snapLength,
                        Immediate = true,
                        BufferSize = 32 * 1024 * 1024,
                    });
                    d.Filter = filter;
                }
                catch (Exception e) when (e is PcapException or DeviceNotReadyException or InvalidOperationException)
                {
                    throw new CaptureOpenException($"cannot capture on {d.Name}: {Explain(e.Message)}");
                }

                capture._ids[d] = capture._devices.Count;
                capture._devices.Add(d);
            }

            if (capture._devices.Count == 0)
            {
                throw new CaptureOpenException("no interface is up to capture on");
            }

            return capture;
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    public void Start(FrameHandler handler)
    {
        _handler = handler;
        foreach (LibPcapLiveDevice d in _devices)
        {
            d.OnPacketArrival += OnPacketArrival;
            d.StartCapture();
        }
    }

    /// <summary>
    /// Stops the capture threads, then hands over what each interface's kernel buffer still holds: a packet that was
    /// on the wire before Ctrl-C is judged, not lost with the last buffer block.
    /// </summary>
    public void Stop()
    {
        foreach (LibPcapLiveDevice d in _devices)
        {
            if (d.Started)
            {
                d.StopCapture();
                Drain(d);
            }
        }
    }

    private void Drain(LibPcapLiveDevice device)
    {
        try
        {
            device.NonBlockingMode = true;
            while (device.GetNextPacket(out PacketCapture e) == GetPacketStatus.PacketRead)
            {
                OnPacketArrival(device, e);
            }
        }
        catch (Exception e) when (e is PcapException or DeviceNotReadyException or InvalidOperationException)
        {
            // The interface went away meanwhile: nothing left to read from it.
        }
    }

    public IReadOnlyList<CaptureDrops> Statistics()
    {
        var list = new List<CaptureDrops>(_devices.Count);
        foreach (LibPcapLiveDevice d in _devices)
        {
            try
            {
                // On Linux libpcap is asked directly: SharpPcap's drop count is always 0 there (PcapCounters says why).
                if (OperatingSystem.IsLinux())
                {
                    list.Add(PcapCounters.TryRead(d.Handle, out uint received, out uint dropped, out uint interfaceDropped)
                        ? new CaptureDrops(d.Name, received, dropped, interfaceDropped)
                        : new CaptureDrops(d.Name, 0, 0, 0));
                    continue;
                }

                ICaptureStatistics s = d.Statistics;
                list.Add(new CaptureDrops(d.Name, s.ReceivedPackets, s.DroppedPackets, s.InterfaceDroppedPackets));
            }
            catch (Exception e) when (e is PcapException or DeviceNotReadyException or InvalidOperationException)
            {
                list.Add(new CaptureDrops(d.Name, 0, 0, 0));
            }
        }

        return list;
    }

    public void Dispose()
    {
        Stop();
        foreach (LibPcapLiveDevice d in _devices)
        {
            d.OnPacketArrival -= OnPacketArrival;
            d.Close();
        }

        _devices.Clear();
    }

    private void OnPacketArrival(object sender, PacketCapture e)
    {
        var device = (LibPcapLiveDevice)e.Device;
        PosixTimeval tv = e.Header.Timeval;
        long ns = checked((long)tv.Seconds * 1_000_000_000L + (long)tv.MicroSeconds * 1000L);
        var origin = new FrameOrigin(ns, _ids[device], device.Name, (LinkType)(ushort)device.LinkType, e.Data.Length);
        lock (_gate)
        {
            _handler?.Invoke(in origin, e.Data);
        }
    }

    private static bool IsUp(LibPcapLiveDevice d) => (d.Flags & 0x2) != 0 || d.Name == "lo"; // PCAP_IF_UP

    private static bool IsLoopback(LibPcapLiveDevice d) => d.Loopback;

    private static string Explain(string message) =>
        message.Contains("ermission", StringComparison.Ordinal) || message.Contains("not permitted", StringComparison.Ordinal)
            ? "permission denied — run as root or grant CAP_NET_RAW and CAP_NET_ADMIN to dnsw"
            : message;
}

/// <summary>A capture that could not be opened; the message is one line meant for the user.</summary>
public sealed class CaptureOpenException : Exception
{
    public CaptureOpenException(string message)
        : base(message)
    {
    }

    public CaptureOpenException()
    {
    }

    public CaptureOpenException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
