using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
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
    private const int MaxSets = 4;
    private const int BufferSize = 16 * 1024;

    private readonly byte[] _table;
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly byte[] _reply = new byte[8 * 1024];
    private readonly byte[][] _setNames = new byte[MaxSets][];
    private readonly int[] _setStart = new int[MaxSets];
    private readonly int[] _elementsStart = new int[MaxSets];
    private int _fd;
    private int _length;
    private int _openSet = -1;
    private int _sets;
    private uint _sequence;
    private uint _firstSequence;

    private NftSetElements(int fd, string table)
    {
        _fd = fd;
        _table = Encoding.ASCII.GetBytes(table + "\0");
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
        if (address.Length is not (4 or 16))
        {
            throw new ArgumentException("an IPv4 or IPv6 address", nameof(address));
        }

        int index = SetIndex(set);
        if (index < 0)
        {
            return false;
        }

        // LIST_ELEM { KEY { DATA_VALUE address } TIMEOUT u64 }
        int keyLength = address.Length;
        int needed = 4 + 4 + 4 + NetlinkPrimitives.Align(keyLength) + 4 + 8 + HeaderLength + 64;
        if (_length + needed > BufferSize)
        {
            return false;
        }

        int element = BeginAttribute(ListElement | Nested);
        int key = BeginAttribute(ElementKey | Nested);
        int value = BeginAttribute(DataValue);
        address.CopyTo(_buffer.AsSpan(_length, keyLength));
        _length += keyLength;
        EndAttribute(value);
        EndAttribute(key);
        int timeoutAttribute = BeginAttribute(ElementTimeout);
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.AsSpan(_length, 8), (ulong)Math.Max(1, (long)timeout.TotalMilliseconds));
        _length += 8;
        EndAttribute(timeoutAttribute);
        EndAttribute(element);
        return true;
    }

    /// <summary>Sends what was queued as one batch and waits for the kernel to take it. Nothing queued: true at once.</summary>
    /// <param name="error">The kernel's refusal (errno text), when false.</param>
    public unsafe bool Commit(out string? error)
    {
        error = null;
        if (_sets == 0)
        {
            return true;
        }

        CloseOpenSet();
        WriteBatchMarker(BatchEnd);
        int length = _length;
        int expected = _sets;
        uint first = _firstSequence;
        Reset();
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
        while (acknowledged < expected)
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
                if (type == NlmsgError && messageLength >= HeaderLength + 4 && sequence - first < (uint)expected)
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

    private int SetIndex(string set)
    {
        for (int i = 0; i < _sets; i++)
        {
            if (Encoding.ASCII.GetByteCount(set) + 1 == _setNames[i].Length && NameIs(_setNames[i], set))
            {
                if (i != _openSet)
                {
                    // Elements of one set are contiguous: a different set than the open one is a new message.
                    break;
                }

                return i;
            }
        }

        if (_sets == MaxSets || _length + 256 > BufferSize)
        {
            return -1;
        }

        if (_sets == 0)
        {
            WriteBatchMarker(BatchBegin);
        }

        CloseOpenSet();
        int index = _sets++;
        _setNames[index] = Encoding.ASCII.GetBytes(set + "\0");
        _setStart[index] = _length;
        if (index == 0)
        {
            _firstSequence = _sequence;
        }

        WriteHeader((ushort)((SubsystemNftables << 8) | MessageNewSetElement), (ushort)(FlagRequest | FlagCreate | FlagAck), FamilyInet, 0);
        WriteStringAttribute(ListTable, _table);
        WriteStringAttribute(ListSet, _setNames[index]);
        _elementsStart[index] = BeginAttribute(ListElements | Nested);
        _openSet = index;
        return index;
    }

    private static bool NameIs(byte[] name, string set)
    {
        for (int i = 0; i < set.Length; i++)
        {
            if (name[i] != set[i])
            {
                return false;
            }
        }

        return true;
    }

    private void CloseOpenSet()
    {
        if (_openSet < 0)
        {
            return;
        }

        EndAttribute(_elementsStart[_openSet]);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_setStart[_openSet]), (uint)(_length - _setStart[_openSet]));
        _openSet = -1;
    }

    private void WriteBatchMarker(ushort type)
    {
        int start = _length;
        WriteHeader(type, FlagRequest, 0, SubsystemNftables);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(_length - start));
    }

    private void WriteHeader(ushort type, ushort flags, byte family, ushort resourceId)
    {
        Span<byte> h = _buffer.AsSpan(_length, HeaderLength + 4);
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, HeaderLength + 4);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], _sequence++);
        h[16] = family;                                            // nfgenmsg: family, version 0,
        BinaryPrimitives.WriteUInt16BigEndian(h[18..], resourceId); // res_id in network order
        _length += HeaderLength + 4;
    }

    private void WriteStringAttribute(ushort type, byte[] value)
    {
        int start = BeginAttribute(type);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
        EndAttribute(start);
    }

    private int BeginAttribute(ushort type)
    {
        int start = _length;
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start + 2), type);
        _length += 4;
        return start;
    }

    private void EndAttribute(int start)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)(_length - start));
        int aligned = NetlinkPrimitives.Align(_length);
        _buffer.AsSpan(_length, aligned - _length).Clear();
        _length = aligned;
    }

    private void Reset()
    {
        _length = 0;
        _sets = 0;
        _openSet = -1;
    }
}
