using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform.Interop.Linux;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Enforcement;

/// <summary>How <see cref="TunDevice.Open"/> sets a device up.</summary>
public sealed record TunOptions
{
    /// <summary>IFF_MULTI_QUEUE: more queues (file descriptors) on the same device with <see cref="TunDevice.OpenQueue"/>, one reader each.</summary>
    public bool MultiQueue { get; init; }

    /// <summary>
    /// IFF_VNET_HDR with a 10-byte header (TUNSETVNETHDRSZ) and TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: the
    /// kernel may hand over packets with the checksum left to do and TCP super-packets of up to 64 KiB, each read and
    /// write starting with a <c>struct virtio_net_hdr</c> (see <see cref="TunDevice.VnetHeaderLength"/>).
    /// </summary>
    public bool VnetHeader { get; init; }
}

/// <summary>
/// A layer-3 TUN device (IFF_TUN | IFF_NO_PI: every read and write is one bare IPv4 or IPv6 packet;
/// Documentation/networking/tuntap.rst). It is made in the network namespace of the thread that opens it and is
/// not persistent: the kernel removes the device when its last queue closes, so a filter built on it fails closed
/// when its process dies. <see cref="Read"/> blocks; <see cref="Dispose"/> wakes a blocked reader at once.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunDevice : IDisposable
{
    /// <summary>
    /// The length of <c>struct virtio_net_hdr</c> (include/uapi/linux/virtio_net.h) in front of every packet when
    /// <see cref="HasVnetHeader"/>; fields little-endian on little-endian hosts (legacy virtio is host order):
    /// <code>
    /// 0  u8  flags        1 = VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset is still to do
    ///                     (its field holds the pseudo-header sum); 2 = DATA_VALID (already checked)
    /// 1  u8  gso_type     0 NONE, 1 TCPV4, 3 UDP, 4 TCPV6, | 0x80 ECN: a super-packet to be cut into gso_size pieces
    /// 2  u16 hdr_len      bytes of headers (IP + TCP) repeated in each piece
    /// 4  u16 gso_size     payload bytes per piece (the MSS)
    /// 6  u16 csum_start   where checksumming starts, from the IP header
    /// 8  u16 csum_offset  where the result goes, from csum_start (16 for TCP, 6 for UDP)
    /// </code>
    /// Packets written carry the same header; all zeros is a plain, complete packet.
    /// </summary>
    public const int VnetHeaderLength = 10;

    // include/uapi/linux/if_tun.h; ioctl numbers are _IOW('T', nr, int) with the asm-generic encoding (x86, arm64).
    internal const nuint TunSetIff = 0x400454ca;
    internal const nuint TunSetOffload = 0x400454d0;
    internal const nuint TunSetVnetHeaderSize = 0x400454d8;
    internal const short IffTun = 0x0001;
    internal const short IffNoPi = 0x1000;
    internal const short IffMultiQueue = 0x0100;
    internal const short IffVnetHeader = 0x4000;
    internal const uint TunFeatureCsum = 0x01;
    internal const uint TunFeatureTso4 = 0x02;
    internal const uint TunFeatureTso6 = 0x04;

    /// <summary>sizeof(struct ifreq): IFNAMSIZ name then a 24-byte union whose first member here is ifr_flags (include/uapi/linux/if.h).</summary>
    internal const int IfReqLength = 40;
    internal const int IfReqFlagsOffset = 16;
    private const int IfNameSize = 16;

    /// <summary>EBADFD: the device was deleted under an open queue (ip link del).</summary>
    private const int EBadFd = 77;

    private const string ClonePath = "/dev/net/tun";

    private readonly SafeFileHandle _tun;
    private readonly SafeFileHandle _wake;
    private readonly short _flags;
    private volatile bool _disposed;

    /// <summary>Reads and writes in progress; Dispose waits for them so the descriptors close, and the device goes, on its thread.</summary>
    private int _busy;

    private TunDevice(SafeFileHandle tun, SafeFileHandle wake, string name, int index, short flags)
    {
        _tun = tun;
        _wake = wake;
        Name = name;
        Index = index;
        _flags = flags;
    }

    /// <summary>The name the kernel gave the device (a pattern such as <c>dnsw%d</c> is filled in).</summary>
    public string Name { get; }

    /// <summary>The interface index in the namespace the device was opened in.</summary>
    public int Index { get; }

    public bool HasVnetHeader => (_flags & IffVnetHeader) != 0;

    public bool IsMultiQueue => (_flags & IffMultiQueue) != 0;

    /// <summary>
    /// Opens (making it) TUN device <paramref name="name"/> in the calling thread's network namespace; an empty name
    /// or one with <c>%d</c> lets the kernel choose. With <see cref="TunOptions.MultiQueue"/> an existing multi-queue
    /// device of that name gets one more queue instead.
    /// </summary>
    /// <exception cref="IOException">No /dev/net/tun, no CAP_NET_ADMIN, or the name is taken by another kind of link.</exception>
    public static TunDevice Open(string name, TunOptions? options = null)
    {
        options ??= new TunOptions();
        short flags = (short)(IffTun | IffNoPi | (options.MultiQueue ? IffMultiQueue : 0) | (options.VnetHeader ? IffVnetHeader : 0));
        return OpenWithFlags(name ?? "", flags);
    }

    /// <summary>
    /// One more queue of this multi-queue device: packets are spread over the queues by flow, each read on its own.
    /// Call it from a thread in the device's namespace (the kernel looks the name up there).
    /// </summary>
    public TunDevice OpenQueue()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!IsMultiQueue)
        {
            throw new InvalidOperationException($"{Name} was not opened with MultiQueue");
        }

        return OpenWithFlags(Name, _flags);
    }

    /// <summary>
    /// Waits for the next packet and copies it into <paramref name="buffer"/> (after the virtio header when
    /// <see cref="HasVnetHeader"/>); returns its length, never 0, or -1 once the device is disposed or deleted.
    /// A packet longer than the buffer is cut short, so give it the MTU (64 KiB + header with GSO).
    /// </summary>
    public unsafe int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            throw new ArgumentException("a TUN read needs room for a packet", nameof(buffer));
        }

        bool tunHeld = false;
        bool wakeHeld = false;
        Interlocked.Increment(ref _busy);
        try
        {
            _tun.DangerousAddRef(ref tunHeld);
            _wake.DangerousAddRef(ref wakeHeld);
        }
        catch (ObjectDisposedException)
        {
            Release(tunHeld, wakeHeld);
            return -1;
        }

        try
        {
            int fd = (int)_tun.DangerousGetHandle();
            var fds = stackalloc LibC.PollFd[2];
            fds[0] = new LibC.PollFd { Fd = fd, Events = LibC.PollIn };
            fds[1] = new LibC.PollFd { Fd = (int)_wake.DangerousGetHandle(), Events = LibC.PollIn };
            fixed (byte* p = buffer)
            {
                while (!_disposed)
                {
                    nint n = LibC.Read(fd, p, (nuint)buffer.Length);
                    if (n > 0)
                    {
                        return (int)n;
                    }

                    int errno = n < 0 ? Marshal.GetLastPInvokeError() : LibC.EAgain;
                    if (errno == EBadFd || errno == LibC.EBadF)
                    {
                        return -1;
                    }

                    if (errno != LibC.EAgain && errno != LibC.EIntr)
                    {
                        throw new IOException($"read from TUN device {Name} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                    }

                    if (errno == LibC.EAgain)
                    {
                        // The eventfd turns readable on Dispose; a read that raced it finds _disposed set above.
                        fds[0].ReturnedEvents = 0;
                        fds[1].ReturnedEvents = 0;
                        if (LibC.Poll(fds, 2, -1) < 0 && Marshal.GetLastPInvokeError() != LibC.EIntr)
                        {
                            throw new IOException($"poll on TUN device {Name} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                        }

                        if (fds[1].ReturnedEvents != 0)
                        {
                            return -1;
                        }
                    }
                }
            }

            return -1;
        }
        finally
        {
            Release(tunHeld, wakeHeld);
        }
    }

    /// <summary>Hands one packet (with its virtio header first when <see cref="HasVnetHeader"/>) to the kernel as if it arrived on the device; -1 once disposed.</summary>
    /// <exception cref="IOException">The kernel refused it (EIO while the link is down, EINVAL for a malformed header).</exception>
    public unsafe int Write(ReadOnlySpan<byte> packet)
    {
        bool held = false;
        Interlocked.Increment(ref _busy);
        try
        {
            _tun.DangerousAddRef(ref held);
        }
        catch (ObjectDisposedException)
        {
            Release(held, false);
            return -1;
        }

        try
        {
            fixed (byte* p = packet)
            {
                while (true)
                {
                    nint n = LibC.Write((int)_tun.DangerousGetHandle(), p, (nuint)packet.Length);
                    if (n >= 0)
                    {
                        return (int)n;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EIntr)
                    {
                        continue;
                    }

                    if (errno == EBadFd || errno == LibC.EBadF)
                    {
                        return -1;
                    }

                    throw new IOException($"write to TUN device {Name} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
        finally
        {
            Release(held, false);
        }
    }

    /// <summary>Closes this queue; a reader blocked in <see cref="Read"/> returns -1 at once. The device goes with its last queue.</summary>
    public unsafe void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ulong one = 1;
        bool held = false;
        try
        {
            _wake.DangerousAddRef(ref held);
            _ = LibC.Write((int)_wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (held)
            {
                _wake.DangerousRelease();
            }
        }

        // A woken reader leaves at once; waiting for it keeps the close (and the device's removal, which waits for
        // RCU and takes milliseconds) on this thread. Past the bound, the last reader to let go closes instead.
        var spin = new SpinWait();
        long deadline = Environment.TickCount64 + 1000;
        while (Volatile.Read(ref _busy) != 0 && Environment.TickCount64 < deadline)
        {
            spin.SpinOnce(sleep1Threshold: 20);
        }

        _tun.Dispose();
        _wake.Dispose();
    }

    private static unsafe TunDevice OpenWithFlags(string name, short flags)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length >= IfNameSize || name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' is not an interface name (at most {IfNameSize - 1} bytes)", nameof(name));
        }

        int fd = LibC.Open(ClonePath, LibC.OpenReadWriteNonBlockingCloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open {ClonePath}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        var tun = new SafeFileHandle(fd, ownsHandle: true);
        SafeFileHandle? wake = null;
        try
        {
            byte* ifreq = stackalloc byte[IfReqLength];
            var request = new Span<byte>(ifreq, IfReqLength);
            request.Clear();
            nameBytes.CopyTo(request);
            MemoryMarshal.Write(request[IfReqFlagsOffset..], flags);
            if (LibC.Ioctl(fd, TunSetIff, ifreq) != 0)
            {
                throw new IOException($"TUNSETIFF {(name.Length == 0 ? "(any name)" : name)}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }

            string actual = Encoding.UTF8.GetString(request[..request[..IfNameSize].IndexOf((byte)0)]);
            if ((flags & IffVnetHeader) != 0)
            {
                int size = VnetHeaderLength;
                if (LibC.Ioctl(fd, TunSetVnetHeaderSize, &size) != 0)
                {
                    throw new IOException($"TUNSETVNETHDRSZ on {actual}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }

                // TUNSETOFFLOAD takes its flags as the argument itself, not through a pointer.
                if (LibC.Ioctl(fd, TunSetOffload, (void*)(nuint)(TunFeatureCsum | TunFeatureTso4 | TunFeatureTso6)) != 0)
                {
                    throw new IOException($"TUNSETOFFLOAD on {actual}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }
            }

            int wakeFd = LibC.EventFd(0, LibC.EventFdCloseOnExecNonBlocking);
            if (wakeFd < 0)
            {
                throw new IOException("cannot make an eventfd: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }

            wake = new SafeFileHandle(wakeFd, ownsHandle: true);
            int index = (int)LibC.IfNameToIndex(actual);
            return new TunDevice(tun, wake, actual, index, flags);
        }
        catch
        {
            tun.Dispose();
            wake?.Dispose();
            throw;
        }
    }

    private void Release(bool tunHeld, bool wakeHeld)
    {
        if (tunHeld)
        {
            _tun.DangerousRelease();
        }

        if (wakeHeld)
        {
            _wake.DangerousRelease();
        }

        Interlocked.Decrement(ref _busy);
    }
}
