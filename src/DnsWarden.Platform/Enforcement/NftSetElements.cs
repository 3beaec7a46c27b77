using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux.Rtnetlink;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Adds address elements with timeouts to the sets of one nftables table, as one hand-built nf_tables batch per
/// <see cref="Commit"/> (BATCH_BEGIN, a NEWSETELEM per set, BATCH_END) on a netfilter netlink socket opened in the
/// calling thread's namespace. Hand-written rather than through libnftables because that parses text and refreshes
/// its whole ruleset cache for every command (~60 µs, milliseconds of tail under load), and the jail holds each DNS
/// answer for this call; here it is one send and one receive, no allocation. Not thread-safe: one caller at a time.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftSetElements : IDisposable
{
    private const int NetlinkNetfilter = 12;
    private const ushort SubsystemNftables = 10;
    private const ushort MessageNewSetElement = 12;      // NFT_MSG_NEWSETELEM
    private const ushort BatchBegin = 0x10;              // NFNL_MSG_BATCH_BEGIN
    private const ushort BatchEnd = 0x11;                // NFNL_MSG_BATCH_END
    private const ushort NlmsgError = 2;
    private const ushort FlagRequest = 0x1;
    private const ushort FlagAck = 0x4;
    private const ushort FlagCreate = 0x400;
    private const ushort Nested = 0x8000;                // NLA_F_NESTED
    private const ushort ListTable = 1;                  // NFTA_SET_ELEM_LIST_TABLE
    private const ushort ListSet = 2;                    // NFTA_SET_ELEM_LIST_SET
    private const ushort ListElements = 3;               // NFTA_SET_ELEM_LIST_ELEMENTS
    private const ushort ListElement = 1;                // NFTA_LIST_ELEM
    private const ushort ElementKey = 1;                 // NFTA_SET_ELEM_KEY
    private const ushort ElementTimeout = 4;             // NFTA_SET_ELEM_TIMEOUT (u64 ms, big-endian)
    private const ushort DataValue = 1;                  // NFTA_DATA_VALUE
    private const byte FamilyInet = 1;                   // NFPROTO_INET
    private const int HeaderLength = 16;

    /// <summary>Elements one batch holds (an answer has a handful of addresses).</summary>
    public const int MaxElements = 256;

    private readonly string _table;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly byte[] _reply = new byte[8 * 1024];
    private readonly string[] _sets = new string[MaxElements];
    /// <summary>The longest key: an IPv6 address and a port (an <c>ipv6_addr . inet_service</c> set), each padded to 4 bytes.</summary>
    private const int KeyStride = 20;

    private readonly byte[] _keys = new byte[MaxElements * KeyStride];
    private readonly byte[] _keyLengths = new byte[MaxElements];
    private readonly ulong[] _timeouts = new ulong[MaxElements];
    private int _count;
    private int _fd;
    private uint _sequence;

    private NftSetElements(int fd, string table)
    {
        _fd = fd;
        _table = table;
    }

    /// <summary>Opens the socket in the calling thread's namespace (call it from a thread inside the jail) for table <c>inet <paramref name="table"/></c>.</summary>
    public static unsafe NftSetElements Open(string table)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        int fd = NetlinkInterop.Socket(NetlinkInterop.AfNetlink, NetlinkInterop.SockRaw | NetlinkInterop.SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            throw new IOException("cannot open a netfilter netlink socket: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        // An answer is never held longer than this for the kernel's acknowledgement.
        var tv = new NetlinkInterop.TimeVal { Seconds = 1 };
        _ = NetlinkInterop.SetSockOpt(fd, NetlinkInterop.SolSocket, NetlinkInterop.SoRcvtimeo, &tv, (uint)sizeof(NetlinkInterop.TimeVal));
        return new NftSetElements(fd, table);
    }

    /// <summary>Queues an address (4 or 16 bytes, network order) for set <paramref name="set"/> (an ipv4_addr or ipv6_addr set with timeouts).</summary>
    /// <returns>False when this batch is full (commit first); the element is then not queued.</returns>
    public bool Add(string set, ReadOnlySpan<byte> address, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(set);
        if (address.Length is not (4 or 16))
        {
            throw new ArgumentException("an IPv4 or IPv6 address", nameof(address));
        }

        return Queue(set, address, timeout);
    }

    /// <summary>
    /// Queues an address and a port for an <c>ipv4_addr . inet_service</c> or <c>ipv6_addr . inet_service</c> set: the
    /// kernel's concatenated key is each field padded to a 4-byte register (the port in network order, then two zeros).
    /// </summary>
    /// <returns>False when this batch is full (commit first).</returns>
    public bool AddWithPort(string set, ReadOnlySpan<byte> address, ushort port, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(set);
        if (address.Length is not (4 or 16))
        {
            throw new ArgumentException("an IPv4 or IPv6 address", nameof(address));
        }

        Span<byte> key = stackalloc byte[KeyStride];
        key.Clear();
        address.CopyTo(key);
        BinaryPrimitives.WriteUInt16BigEndian(key[address.Length..], port);
        return Queue(set, key[..(address.Length + 4)], timeout);
    }

    private bool Queue(string set, ReadOnlySpan<byte> address, TimeSpan timeout)
    {
        if (_count == MaxElements)
        {
            return false;
        }

        _sets[_count] = set;
        address.CopyTo(_keys.AsSpan(_count * KeyStride));
        _keyLengths[_count] = (byte)address.Length;
        _timeouts[_count] = (ulong)Math.Max(1, (long)timeout.TotalMilliseconds);
        _count++;
        return true;
    }

    /// <summary>Sends what was queued as one batch and waits for the kernel to take it. Nothing queued: true at once.</summary>
    /// <param name="error">The kernel's refusal (errno text), when false.</param>
    public unsafe bool Commit(out string? error)
    {
        error = null;
        if (_count == 0)
        {
            return true;
        }

        int length = Marker(_buffer, BatchBegin);
        uint first = _sequence;
        int messages = 0;
        Span<byte> timeout = stackalloc byte[8];
        for (int i = 0; i < _count;)
        {
            // One NEWSETELEM per run of elements for the same set.
            var w = new NetlinkRequestWriter(_buffer.AsSpan(length), (ushort)((SubsystemNftables << 8) | MessageNewSetElement), (ushort)(FlagRequest | FlagCreate | FlagAck), _sequence++);
            w.AppendFixed(4)[0] = FamilyInet;   // nfgenmsg: family, version 0, res_id 0
            w.AddString(ListTable, _table);
            w.AddString(ListSet, _sets[i]);
            int elements = w.BeginNested(ListElements | Nested);
            string set = _sets[i];
            for (; i < _count && _sets[i] == set; i++)
            {
                int element = w.BeginNested(ListElement | Nested);
                int key = w.BeginNested(ElementKey | Nested);
                w.AddBytes(DataValue, _keys.AsSpan(i * KeyStride, _keyLengths[i]));
                w.EndNested(key);
                BinaryPrimitives.WriteUInt64BigEndian(timeout, _timeouts[i]);
                w.AddBytes(ElementTimeout, timeout);
                w.EndNested(element);
            }

            w.EndNested(elements);
            length += w.Finish().Length;
            messages++;
        }

        length += Marker(_buffer.AsSpan(length), BatchEnd);
        _count = 0;
        Array.Clear(_sets);
        if (_fd < 0)
        {
            error = "closed";
            return false;
        }

        fixed (byte* p = _buffer)
        {
            if (NetlinkInterop.Send(_fd, p, (nuint)length, 0) != length)
            {
                error = "send: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
                return false;
            }
        }

        // One acknowledgement (NLMSG_ERROR, 0 on success) per NEWSETELEM; a refused batch answers with the errno.
        int acknowledged = 0;
        while (acknowledged < messages)
        {
            nint n;
            fixed (byte* p = _reply)
            {
                n = NetlinkInterop.Recv(_fd, p, (nuint)_reply.Length, 0);
            }

            if (n <= 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4)
                {
                    continue; // EINTR
                }

                error = "no acknowledgement: " + Marshal.GetPInvokeErrorMessage(errno);
                return false;
            }

            ReadOnlySpan<byte> rest = _reply.AsSpan(0, (int)n);
            while (rest.Length >= HeaderLength)
            {
                int messageLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(rest);
                if (messageLength < HeaderLength || messageLength > rest.Length)
                {
                    break;
                }

                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(rest[4..]);
                uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]);
                if (type == NlmsgError && messageLength >= HeaderLength + 4 && sequence - first < (uint)messages)
                {
                    int code = BinaryPrimitives.ReadInt32LittleEndian(rest[HeaderLength..]);
                    if (code != 0)
                    {
                        error ??= Marshal.GetPInvokeErrorMessage(-code);
                    }

                    acknowledged++;
                }

                rest = rest[Math.Min(rest.Length, NetlinkPrimitives.Align(messageLength))..];
            }
        }

        return error is null;
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = NetlinkInterop.Close(_fd);
            _fd = -1;
        }
    }

    /// <summary>BATCH_BEGIN or BATCH_END: a bare header whose res_id names the nf_tables subsystem.</summary>
    private int Marker(Span<byte> destination, ushort type)
    {
        var w = new NetlinkRequestWriter(destination, type, FlagRequest, _sequence++);
        BinaryPrimitives.WriteUInt16BigEndian(w.AppendFixed(4)[2..], SubsystemNftables);
        return w.Finish().Length;
    }
}
