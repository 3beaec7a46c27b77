using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Sockets;

/// <summary>
/// Up to <see cref="Capacity"/> datagrams with their peers' addresses, moved in one system call: <see cref="Receive"/>
/// takes whatever is queued on a socket with recvmmsg(2), <see cref="TryAdd"/> and <see cref="Send"/> queue datagrams
/// and hand them to the kernel with sendmmsg(2). One call per batch instead of one per datagram is what a busy DNS
/// socket saves. The headers, addresses and buffers are one native block allocated once, so nothing is allocated or
/// pinned per datagram. Not thread-safe: one batch per thread.
/// </summary>
/// <remarks>
/// The socket must be in blocking mode (<see cref="Socket.Blocking"/>, and no asynchronous operation ever started on
/// it, which would turn the descriptor non-blocking): <see cref="Receive"/> then waits up to the socket's
/// <see cref="Socket.ReceiveTimeout"/> for the first datagram.
/// </remarks>
public sealed unsafe class UdpBatch : IDisposable
{
    /// <summary>Room for a peer's address: sizeof(struct sockaddr_in6), the largest of the two families.</summary>
    public const int AddressCapacity = 28;

    // Address slots 32 bytes apart: aligned for the kernel's sockaddr writes.
    private const int AddressStride = 32;

    private readonly int _datagramSize;
    private readonly LibC.MMsgHdr* _headers;
    private readonly LibC.IoVec* _vectors;
    private readonly byte* _addresses;
    private readonly byte* _buffers;
    private readonly void* _block;
    private int _count;
    private int _disposed;

    /// <param name="capacity">Datagrams per call.</param>
    /// <param name="datagramSize">The largest datagram kept; a longer one received is cut (and flagged by the kernel).</param>
    public UdpBatch(int capacity, int datagramSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(datagramSize, 1);
        Capacity = capacity;
        _datagramSize = datagramSize;
        nuint headers = (nuint)(capacity * sizeof(LibC.MMsgHdr));
        nuint vectors = (nuint)(capacity * sizeof(LibC.IoVec));
        nuint addresses = (nuint)(capacity * AddressStride);
        _block = NativeMemory.AlignedAlloc(headers + vectors + addresses + ((nuint)capacity * (nuint)datagramSize), 64);
        _headers = (LibC.MMsgHdr*)_block;
        _vectors = (LibC.IoVec*)((byte*)_block + headers);
        _addresses = (byte*)_block + headers + vectors;
        _buffers = _addresses + addresses;
        NativeMemory.Clear(_block, headers + vectors + addresses);
    }

    ~UdpBatch()
    {
        Dispose();
    }

    public int Capacity { get; }

    /// <summary>Datagrams received by the last <see cref="Receive"/>, or queued by <see cref="TryAdd"/> since the last send.</summary>
    public int Count => _count;

    /// <summary>
    /// Waits for at least one datagram (up to the socket's receive timeout) and takes every one already queued, up to
    /// <see cref="Capacity"/>. Returns how many (0 when the timeout passed or a signal interrupted the wait).
    /// </summary>
    /// <exception cref="SocketException">The socket reported an error (an ICMP error on a connected socket, and the like).</exception>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    [SupportedOSPlatform("linux")]
    public int Receive(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _count = 0;
        for (int i = 0; i < Capacity; i++)
        {
            Prepare(i, _datagramSize, AddressCapacity);
        }

        int received = Call(socket, receive: true, Capacity);
        _count = Math.Max(received, 0);
        return _count;
    }

    /// <summary>The <paramref name="index"/>th datagram received.</summary>
    public ReadOnlySpan<byte> Datagram(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
        return new ReadOnlySpan<byte>(_buffers + ((nint)index * _datagramSize), (int)Math.Min(_headers[index].Length, (uint)_datagramSize));
    }

    /// <summary>The address of the <paramref name="index"/>th datagram's peer, as the kernel's sockaddr_in or sockaddr_in6.</summary>
    public ReadOnlySpan<byte> Address(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
        return new ReadOnlySpan<byte>(_addresses + (index * AddressStride), (int)Math.Min(_headers[index].Header.NameLength, AddressCapacity));
    }

    /// <summary>
    /// Queues <paramref name="datagram"/> for <paramref name="address"/> (a sockaddr as <see cref="Address"/> gives
    /// it; empty on a connected socket). False when the batch is full or the datagram or address too long for it.
    /// </summary>
    public bool TryAdd(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> address)
    {
        if (_count == Capacity || datagram.Length > _datagramSize || address.Length > AddressCapacity)
        {
            return false;
        }

        int i = _count++;
        datagram.CopyTo(new Span<byte>(_buffers + ((nint)i * _datagramSize), _datagramSize));
        address.CopyTo(new Span<byte>(_addresses + (i * AddressStride), AddressCapacity));
        Prepare(i, datagram.Length, address.Length);
        return true;
    }

    /// <summary>
    /// Hands every queued datagram to the kernel, as few calls as it takes, and empties the batch. A datagram the
    /// kernel refuses (its peer's port closed, the send buffer full) is dropped, as a lost datagram is: the number
    /// sent is returned.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket is closed.</exception>
    [SupportedOSPlatform("linux")]
    public int Send(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        int sent = 0;
        int next = 0;
        try
        {
            while (next < _count)
            {
                int done = Call(socket, receive: false, _count - next, next, throwOnError: false);
                if (done > 0)
                {
                    sent += done;
                    next += done;
                }
                else
                {
                    next++;
                }
            }
        }
        finally
        {
            _count = 0;
        }

        return sent;
    }

    /// <summary>Forgets the queued datagrams without sending them.</summary>
    public void Clear() => _count = 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            NativeMemory.AlignedFree(_block);
            GC.SuppressFinalize(this);
        }
    }

    private void Prepare(int i, int length, int addressLength)
    {
        _vectors[i].Base = _buffers + ((nint)i * _datagramSize);
        _vectors[i].Length = (nuint)length;
        LibC.MMsgHdr* h = _headers + i;
        h->Header.Name = addressLength > 0 ? _addresses + (i * AddressStride) : null;
        h->Header.NameLength = (uint)addressLength;
        h->Header.Iov = _vectors + i;
        h->Header.IovLength = 1;
        h->Header.Control = null;
        h->Header.ControlLength = 0;
        h->Header.Flags = 0;
        h->Length = 0;
    }

    [SupportedOSPlatform("linux")]
    private int Call(Socket socket, bool receive, int count, int first = 0, bool throwOnError = true)
    {
        SafeHandle handle = socket.SafeHandle;
        bool held = false;
        try
        {
            // Held for the call: closing the socket meanwhile cannot hand its descriptor number to another file.
            handle.DangerousAddRef(ref held);
            int fd = (int)handle.DangerousGetHandle();
            int result = receive
                ? LibC.RecvMmsg(fd, _headers + first, (uint)count, LibC.MsgWaitForOne, null)
                : LibC.SendMmsg(fd, _headers + first, (uint)count, 0);
            if (result >= 0)
            {
                return result;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno is LibC.EAgain or LibC.EIntr || !throwOnError)
            {
                return 0;
            }

            if (errno == LibC.EBadF)
            {
                throw new ObjectDisposedException(nameof(Socket));
            }

            throw new SocketException((int)ToSocketError(errno));
        }
        finally
        {
            if (held)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static SocketError ToSocketError(int errno) => errno switch
    {
        LibC.EConnRefused => SocketError.ConnectionRefused,
        LibC.ENetUnreach => SocketError.NetworkUnreachable,
        LibC.EHostUnreach => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };
}
