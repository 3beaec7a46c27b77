using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Capture.Interop.Linux;
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

    /// <summary>The live filter with the user's expression: what the watch needs, narrowed by what the user asked for.</summary>
    public static string FilterWith(string? userExpression) =>
        string.IsNullOrWhiteSpace(userExpression) ? DefaultFilter : "(" + DefaultFilter + ") and (" + userExpression + ")";

    private readonly List<LibPcapLiveDevice> _devices = [];
    private readonly Dictionary<LibPcapLiveDevice, int> _ids = [];
    private readonly Lock _gate = new();
    private readonly List<DeviceLoop> _loops = [];
    private FrameHandler? _handler;
    private int _stopFd = -1;
    private Exception? _failure;

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
    /// Opens the named interfaces, or every interface that is up when none is named (but those
    /// <paramref name="excluded"/> names). Linux's "any" device is opened with the SLL2 header, which carries each
    /// packet's interface index. Throws <see cref="CaptureOpenException"/> with a one-line reason when an interface
    /// cannot be opened or the filter does not compile for it.
    /// </summary>
    public static LiveCapture Open(
        IReadOnlyCollection<string> interfaces, string filter = DefaultFilter, int snapLength = 65535, Func<string, bool>? excluded = null)
    {
        var capture = new LiveCapture();
        try
        {
            var all = LibPcapLiveDeviceList.New();
            IEnumerable<LibPcapLiveDevice> chosen = interfaces.Count > 0
                ? interfaces.Select(n => all.FirstOrDefault(d => d.Name == n) ?? throw new CaptureOpenException($"no such interface: {n}"))
                : all.Where(d => IsUp(d) && d.Name != "any" && excluded?.Invoke(d.Name) != true && !d.Name.StartsWith("nf", StringComparison.Ordinal)
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
                    if (d.Name == "any" && OperatingSystem.IsLinux())
                    {
                        // Before the filter: libpcap compiles it for the link type in force. A libpcap older than
                        // 1.10 has no SLL2 and keeps SLL, without the index; packets are then named "any".
                        _ = LibPcap.SetDatalink(d.Handle.DangerousGetHandle(), LibPcap.DltLinuxSll2);
                    }

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

    /// <summary>
    /// Starts a capture thread per interface. On Linux each thread is dnsw's own: it waits on the handle's descriptor
    /// and a stop descriptor, reads with pcap_dispatch, and at <see cref="Stop"/> reads the kernel buffer to its end
    /// before it returns — a packet that was on the wire before Ctrl-C is judged, not lost with the last block, and
    /// no thread-pool thread is held by a blocking read. Elsewhere SharpPcap's own capture threads run.
    /// </summary>
    public void Start(FrameHandler handler)
    {
        _handler = handler;
        if (OperatingSystem.IsLinux())
        {
            StartLinux();
            return;
        }

        foreach (LibPcapLiveDevice d in _devices)
        {
            d.OnPacketArrival += OnPacketArrival;
            d.StartCapture();
        }
    }

    /// <summary>Stops capturing; on Linux every packet already in the kernel's buffers is handed over first.</summary>
    public void Stop()
    {
        if (OperatingSystem.IsLinux() && _loops.Count > 0)
        {
            StopLinux();
            if (_failure is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            return;
        }

        foreach (LibPcapLiveDevice d in _devices)
        {
            if (d.Started)
            {
                d.StopCapture();
            }
        }
    }

    public IReadOnlyList<CaptureDrops> Statistics()
    {
        var list = new List<CaptureDrops>(_devices.Count);
        foreach (LibPcapLiveDevice d in _devices)
        {
            try
            {
                // On Linux libpcap is asked directly: SharpPcap's drop count is always 0 there (LibPcap.PcapStat says why).
                if (OperatingSystem.IsLinux())
                {
                    list.Add(LinuxCounters(d));
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

    [SupportedOSPlatform("linux")]
    private static CaptureDrops LinuxCounters(LibPcapLiveDevice device)
    {
        SafeHandle handle = device.Handle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return LibPcap.Stats(handle.DangerousGetHandle(), out LibPcap.PcapStat s) == 0
                ? new CaptureDrops(device.Name, s.Received, s.Dropped, s.InterfaceDropped)
                : new CaptureDrops(device.Name, 0, 0, 0);
        }
        catch (ObjectDisposedException)
        {
            return new CaptureDrops(device.Name, 0, 0, 0);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
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

    [SupportedOSPlatform("linux")]
    private unsafe void StartLinux()
    {
        _stopFd = LibPcap.EventFd(0, 0x80000); // EFD_CLOEXEC
        if (_stopFd < 0)
        {
            throw new CaptureOpenException("cannot make the capture's stop descriptor: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        byte* error = stackalloc byte[LibPcap.ErrorBufferLength];
        foreach (LibPcapLiveDevice d in _devices)
        {
            nint handle = d.Handle.DangerousGetHandle();
            // libpcap's own answer: the "any" device's link type was changed to SLL2 after SharpPcap opened it.
            var device = new DeviceLoop(this, handle, _ids[d], d.Name, (LinkType)(ushort)LibPcap.Datalink(handle));

            // Non-blocking: pcap_dispatch returns with what the buffer holds; the waiting is poll's, on the stop descriptor too.
            _ = LibPcap.SetNonBlock(device.Handle, 1, error);
            device.Thread = new Thread(device.Run)
            {
                IsBackground = true,
                Name = "dnsw capture " + d.Name,
            };
            _loops.Add(device);
            device.Thread.Start();
        }
    }

    [SupportedOSPlatform("linux")]
    private unsafe void StopLinux()
    {
        ulong one = 1;
        _ = LibPcap.Write(_stopFd, (byte*)&one, sizeof(ulong));
        foreach (DeviceLoop loop in _loops)
        {
            loop.Thread!.Join();
            loop.Dispose();
        }

        _loops.Clear();
        _ = LibPcap.Close(_stopFd);
        _stopFd = -1;
    }

    private void OnPacketArrival(object sender, PacketCapture e)
    {
        var device = (LibPcapLiveDevice)e.Device;
        PosixTimeval tv = e.Header.Timeval;
        long ns = checked((long)tv.Seconds * 1_000_000_000L + (long)tv.MicroSeconds * 1000L);
        Deliver(new FrameOrigin(ns, _ids[device], device.Name, (LinkType)(ushort)device.LinkType, e.Data.Length), e.Data);
    }

    /// <summary>Runs <paramref name="action"/> between two frames, never during one: the handler's pipeline is single-threaded.</summary>
    public void BetweenFrames(Action action)
    {
        lock (_gate)
        {
            action();
        }
    }

    private void Deliver(in FrameOrigin origin, ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            _handler?.Invoke(in origin, frame);
        }
    }

    /// <summary>One interface's capture thread on Linux: poll, pcap_dispatch, and a last read of the buffer at stop.</summary>
    private sealed unsafe class DeviceLoop : IDisposable
    {
        private readonly LiveCapture _owner;
        private readonly int _id;
        private readonly string _name;
        private readonly LinkType _link;
        private GCHandle _self;

        public DeviceLoop(LiveCapture owner, nint handle, int id, string name, LinkType link)
        {
            _owner = owner;
            Handle = handle;
            _id = id;
            _name = name;
            _link = link;
            _self = GCHandle.Alloc(this);
        }

        public nint Handle { get; }

        public Thread? Thread { get; set; }

        [SupportedOSPlatform("linux")]
        public void Run()
        {
            LibPcap.PollFd* fds = stackalloc LibPcap.PollFd[2];
            fds[0] = new LibPcap.PollFd { Fd = LibPcap.GetSelectableFd(Handle), Events = LibPcap.PollIn };
            fds[1] = new LibPcap.PollFd { Fd = _owner._stopFd, Events = LibPcap.PollIn };
            while (true)
            {
                fds[0].Returned = 0;
                fds[1].Returned = 0;
                int ready = LibPcap.Poll(fds, 2, -1);
                if (ready < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 4)
                    {
                        continue; // EINTR
                    }

                    return;
                }

                if ((fds[1].Returned & LibPcap.PollIn) != 0)
                {
                    // Stopping: what the kernel buffer holds now still goes through, then the thread ends.
                    while (Dispatch() > 0)
                    {
                    }

                    return;
                }

                if (Dispatch() < 0)
                {
                    return; // the interface went away
                }
            }
        }

        public void Dispose()
        {
            if (_self.IsAllocated)
            {
                _self.Free();
            }
        }

        [SupportedOSPlatform("linux")]
        private int Dispatch() => LibPcap.Dispatch(Handle, -1, &OnPacket, GCHandle.ToIntPtr(_self));

        [UnmanagedCallersOnly]
        [SupportedOSPlatform("linux")]
        private static void OnPacket(nint user, LibPcap.PacketHeader* header, byte* data)
        {
            var loop = (DeviceLoop)GCHandle.FromIntPtr(user).Target!;
            long ns = checked((header->Seconds * 1_000_000_000L) + (header->Microseconds * 1000L));
            var origin = new FrameOrigin(ns, loop._id, loop._name, loop._link, (int)header->Length);
            try
            {
                loop._owner.Deliver(in origin, new ReadOnlySpan<byte>(data, (int)header->CapturedLength));
            }
            catch (Exception e)
            {
                // An exception must not unwind through libpcap's frames: the loop keeps going, the failure is kept.
                loop._owner._failure ??= e;
            }
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
