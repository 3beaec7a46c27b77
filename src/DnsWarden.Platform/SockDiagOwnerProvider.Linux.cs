using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// Socket owners through netlink NETLINK_SOCK_DIAG (linux/inet_diag.h): TCP by the exact-socket request on the
/// 4-tuple, UDP by a dump matched by <see cref="SocketMatcher"/>, then inode → pid via /proc/[pid]/fd.
/// Falls back to <see cref="ProcNetOwnerProvider"/> for any lookup sock_diag cannot answer.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SockDiagOwnerProvider : IFlowOwnerProvider
{
    // A dump reply is split into messages that each fit the kernel's skb; 64 KiB holds any of them.
    private const int ReceiveBufferSize = 64 * 1024;
    private const int RequestSize = 16 + 56;

    // The kernel answers at once; the timeout only keeps a wedged socket from stalling the capture thread.
    private const long ReceiveTimeoutMicroseconds = 500_000;

    private readonly Lock _lock = new();
    private readonly LinuxOwnerResolver _resolver;
    private readonly ProcNetOwnerProvider _fallback;
    private readonly List<SocketEntry> _udp = [];
    private readonly byte[] _receive = new byte[ReceiveBufferSize];
    private int _fd = -1;
    private uint _seq;
    private bool _disposed;

    public SockDiagOwnerProvider()
        : this(ProcSocketTable.DefaultRescanInterval)
    {
    }

    internal SockDiagOwnerProvider(TimeSpan rescanInterval)
    {
        _resolver = new LinuxOwnerResolver(rescanInterval);
        _fallback = new ProcNetOwnerProvider(_resolver);
        UnavailableReason = Open();
    }

    /// <summary>Why sock_diag could not be opened (every lookup then uses /proc/net), or null.</summary>
    public string? UnavailableReason { get; private set; }

    /// <summary>Lookups that sock_diag could not answer and /proc/net did.</summary>
    public long FallbackLookups { get; private set; }

    internal LinuxOwnerResolver Resolver => _resolver;

    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        try
        {
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                OwnerLookup? answer = _fd >= 0 ? LookupCore(protocol, localAddress, localPort, remoteAddress, remotePort) : null;
                AttributionSource source = AttributionSource.SockDiag;
                if (answer is null)
                {
                    FallbackLookups++;
                    answer = _fallback.LookupCore(protocol, localAddress, localPort, remoteAddress, remotePort);
                    source = AttributionSource.Proc;
                }

                return answer with { Source = answer.Process is null ? AttributionSource.None : source };
            }
        }
        catch (Exception ex)
        {
            return OwnerLookup.Unknown($"lookup failed: {ex.Message}");
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_fd >= 0)
            {
                _ = LibC.Close(_fd);
                _fd = -1;
            }

            _disposed = true;
        }
    }

    private unsafe string? Open()
    {
        int fd = LibC.Socket(LibC.AfNetlink, LibC.SockDgram | LibC.SockCloexec, SockDiag.NetlinkSockDiag);
        if (fd < 0)
        {
            return $"netlink sock_diag socket failed: errno {Marshal.GetLastPInvokeError()}";
        }

        // struct timeval { time_t tv_sec; suseconds_t tv_usec; } on 64-bit Linux.
        long* timeout = stackalloc long[2] { 0, ReceiveTimeoutMicroseconds };
        if (LibC.SetSockOpt(fd, LibC.SolSocket, LibC.SoRcvtimeo, timeout, (uint)(2 * sizeof(long))) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = LibC.Close(fd);
            return $"netlink sock_diag SO_RCVTIMEO failed: errno {errno}";
        }

        _fd = fd;
        return null;
    }

    /// <summary>Null when sock_diag failed and /proc/net should answer instead.</summary>
    private OwnerLookup? LookupCore(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        bool v4 = IsV4(localAddress) && IsV4(remoteAddress);
        if (protocol == SocketProtocol.Tcp)
        {
            // IPv4 flows may be on an AF_INET6 dual-stack socket as ::ffff:a.b.c.d.
            InetDiagMsg msg;
            int errno;
            if (v4)
            {
                if (QueryTcp(SockDiag.AfInet, localAddress, localPort, remoteAddress, remotePort, out msg, out errno))
                {
                    return _resolver.Resolve(msg.Inode, (int)msg.Uid, OwnerConfidence.High, null);
                }

                if (errno != 0)
                {
                    return null;
                }
            }

            if (QueryTcp(SockDiag.AfInet6, localAddress, localPort, remoteAddress, remotePort, out msg, out errno))
            {
                return _resolver.Resolve(msg.Inode, (int)msg.Uid, OwnerConfidence.High, null);
            }

            return errno != 0 ? null : OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        // Fast path for connected UDP sockets (most clients): the kernel's own exact lookup, one round trip instead of a
        // dump of every UDP socket. udp_dump_one demultiplexes as for an arriving packet, so the request's source is the
        // peer and its destination is this host's side (net/ipv4/udp_diag.c).
        byte family = v4 ? SockDiag.AfInet : SockDiag.AfInet6;
        if (QueryUdp(family, localAddress, localPort, remoteAddress, remotePort, out InetDiagMsg udpMsg, out _)
            && udpMsg.Id.DPort != 0
            && FromNetwork(udpMsg.Id.DPort) == remotePort
            && FromNetwork(udpMsg.Id.SPort) == localPort)
        {
            return _resolver.Resolve(udpMsg.Inode, (int)udpMsg.Uid, OwnerConfidence.High, null);
        }

        _udp.Clear();
        if ((v4 && DumpUdp(SockDiag.AfInet) != 0) || DumpUdp(SockDiag.AfInet6) != 0)
        {
            return null;
        }

        SocketMatch match = SocketMatcher.Match(_udp, protocol, localAddress, localPort, remoteAddress, remotePort);
        if (!match.Found)
        {
            return OwnerLookup.Unknown(OwnerReasons.SocketGone);
        }

        SocketEntry entry = _udp[match.Index];
        return _resolver.Resolve(entry.Owner, entry.Uid, match.Confidence, match.Reason);
    }

    /// <summary>True with the socket; false with errno 0 when there is no such socket, or the errno of a failure.</summary>
    private bool QueryTcp(byte family, IPAddress local, ushort localPort, IPAddress remote, ushort remotePort, out InetDiagMsg msg, out int errno)
    {
        InetDiagReqV2 req = default;
        req.Family = family;
        req.Protocol = SockDiag.IpProtoTcp;
        req.States = SockDiag.AllStates;

        // inet_diag_find_one_icsk: idiag_src/sport is the socket's own side, idiag_dst/dport the peer.
        WriteSockId(ref req.Id, family, local, localPort, remote, remotePort);
        return Transact(ref req, dump: false, out msg, out errno);
    }

    private bool QueryUdp(byte family, IPAddress local, ushort localPort, IPAddress remote, ushort remotePort, out InetDiagMsg msg, out int errno)
    {
        InetDiagReqV2 req = default;
        req.Family = family;
        req.Protocol = SockDiag.IpProtoUdp;
        req.States = SockDiag.AllStates;
        WriteSockId(ref req.Id, family, remote, remotePort, local, localPort);
        return Transact(ref req, dump: false, out msg, out errno);
    }

    private int DumpUdp(byte family)
    {
        InetDiagReqV2 req = default;
        req.Family = family;
        req.Protocol = SockDiag.IpProtoUdp;
        req.States = SockDiag.AllStates;
        req.Id.Cookie[0] = SockDiag.NoCookie;
        req.Id.Cookie[1] = SockDiag.NoCookie;
        _ = Transact(ref req, dump: true, out _, out int errno);
        return errno;
    }

    private static void WriteSockId(ref InetDiagSockId id, byte family, IPAddress local, ushort localPort, IPAddress remote, ushort remotePort)
    {
        id.SPort = ToNetwork(localPort);
        id.DPort = ToNetwork(remotePort);
        id.If = 0;
        id.Cookie[0] = SockDiag.NoCookie;
        id.Cookie[1] = SockDiag.NoCookie;
        WriteAddress(id.Src, family, local);
        WriteAddress(id.Dst, family, remote);
    }

    private static void WriteAddress(Span<byte> destination, byte family, IPAddress address)
    {
        destination.Clear();
        if (family == SockDiag.AfInet)
        {
            _ = (IsV4(address) ? ToV4(address) : address).TryWriteBytes(destination, out _);
        }
        else
        {
            _ = (address.AddressFamily == AddressFamily.InterNetwork ? address.MapToIPv6() : address).TryWriteBytes(destination, out _);
        }
    }

    private unsafe bool Transact(ref InetDiagReqV2 req, bool dump, out InetDiagMsg found, out int errno)
    {
        found = default;
        uint seq = ++_seq;
        Span<byte> request = stackalloc byte[RequestSize];
        var header = new NlMsgHdr
        {
            Length = RequestSize,
            Type = SockDiag.SockDiagByFamily,
            Flags = (ushort)(SockDiag.NlmFRequest | (dump ? SockDiag.NlmFDump : 0)),
            Seq = seq,
        };
        MemoryMarshal.Write(request, in header);
        MemoryMarshal.Write(request[16..], in req);
        fixed (byte* p = request)
        {
            if (LibC.Send(_fd, p, (nuint)request.Length, 0) < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return false;
            }
        }

        while (true)
        {
            nint n;
            fixed (byte* r = _receive)
            {
                n = LibC.Recv(_fd, r, (nuint)_receive.Length, 0);
            }

            if (n < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EIntr)
                {
                    continue;
                }

                return false;
            }

            ReadOnlySpan<byte> buffer = _receive.AsSpan(0, (int)n);
            while (buffer.Length >= 16)
            {
                NlMsgHdr h = MemoryMarshal.Read<NlMsgHdr>(buffer);
                if (h.Length < 16 || h.Length > buffer.Length)
                {
                    errno = -1;
                    return false;
                }

                ReadOnlySpan<byte> payload = buffer[16..(int)h.Length];
                buffer = buffer[Math.Min(SockDiag.Align((int)h.Length), buffer.Length)..];

                // A reply to an earlier request that timed out.
                if (h.Seq != seq)
                {
                    continue;
                }

                if (h.Type == SockDiag.NlmsgDone)
                {
                    errno = 0;
                    return false;
                }

                if (h.Type == SockDiag.NlmsgError)
                {
                    int error = payload.Length >= 4 ? -BinaryPrimitives.ReadInt32LittleEndian(payload) : -1;

                    // ENOENT from the exact-socket request is "no such socket".
                    errno = !dump && error == LibC.ENoEnt ? 0 : error;
                    return false;
                }

                if (h.Type != SockDiag.SockDiagByFamily || payload.Length < Marshal.SizeOf<InetDiagMsg>())
                {
                    continue;
                }

                InetDiagMsg msg = MemoryMarshal.Read<InetDiagMsg>(payload);
                if (!dump)
                {
                    found = msg;
                    errno = 0;
                    return true;
                }

                _udp.Add(ToEntry(in msg));
            }
        }
    }

    internal static SocketEntry ToEntry(in InetDiagMsg msg)
    {
        int length = msg.Family == SockDiag.AfInet ? 4 : 16;
        return new SocketEntry(
            new IPAddress(((ReadOnlySpan<byte>)msg.Id.Src)[..length]),
            FromNetwork(msg.Id.SPort),
            new IPAddress(((ReadOnlySpan<byte>)msg.Id.Dst)[..length]),
            FromNetwork(msg.Id.DPort),
            msg.Inode,
            (int)msg.Uid);
    }

    private static bool IsV4(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork || a.IsIPv4MappedToIPv6;

    private static IPAddress ToV4(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    private static ushort ToNetwork(ushort port) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(port) : port;

    private static ushort FromNetwork(ushort port) => ToNetwork(port);
}
