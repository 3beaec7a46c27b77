using System.Buffers.Binary;
using System.Net;

namespace DnsWarden.Platform;

/// <summary>Which GetExtendedTcpTable / GetExtendedUdpTable result a buffer holds.</summary>
internal enum IpHelperTableKind
{
    Tcp4,
    Tcp6,
    Udp4,
    Udp6,
}

/// <summary>
/// Parser of the owner-pid tables iphlpapi returns (tcpmib.h, udpmib.h): a DWORD dwNumEntries then packed rows.
/// Addresses are in network order; ports are in network order in the low 16 bits of a DWORD, so the first two bytes
/// big-endian. Windows is little-endian, so the other DWORDs are read little-endian. Pure, so it is tested anywhere.
/// </summary>
internal static class IpHelperTableParser
{
    // MIB_TCPROW_OWNER_PID: dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid.
    public const int Tcp4RowSize = 24;

    // MIB_TCP6ROW_OWNER_PID: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid.
    public const int Tcp6RowSize = 56;

    // MIB_UDPROW_OWNER_PID: dwLocalAddr, dwLocalPort, dwOwningPid.
    public const int Udp4RowSize = 12;

    // MIB_UDP6ROW_OWNER_PID: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, dwOwningPid.
    public const int Udp6RowSize = 28;

    public static int RowSize(IpHelperTableKind kind) => kind switch
    {
        IpHelperTableKind.Tcp4 => Tcp4RowSize,
        IpHelperTableKind.Tcp6 => Tcp6RowSize,
        IpHelperTableKind.Udp4 => Udp4RowSize,
        _ => Udp6RowSize,
    };

    /// <summary>
    /// Appends each row as a <see cref="SocketEntry"/> whose Owner is the pid. False (and nothing appended) when the
    /// buffer is shorter than its entry count says. UDP rows have no remote side: remote is the unspecified address, port 0.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, IpHelperTableKind kind, List<SocketEntry> entries)
    {
        if (buffer.Length < 4)
        {
            return false;
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(buffer);
        int rowSize = RowSize(kind);
        if (count > (uint)((buffer.Length - 4) / rowSize))
        {
            return false;
        }

        for (int i = 0; i < (int)count; i++)
        {
            ReadOnlySpan<byte> row = buffer.Slice(4 + (i * rowSize), rowSize);
            entries.Add(kind switch
            {
                IpHelperTableKind.Tcp4 => new SocketEntry(
                    new IPAddress(row.Slice(4, 4)), Port(row[8..]), new IPAddress(row.Slice(12, 4)), Port(row[16..]), Pid(row[20..]), -1),
                IpHelperTableKind.Tcp6 => new SocketEntry(
                    new IPAddress(row[..16], ScopeId(row[16..])), Port(row[20..]), new IPAddress(row.Slice(24, 16), ScopeId(row[40..])), Port(row[44..]), Pid(row[52..]), -1),
                IpHelperTableKind.Udp4 => new SocketEntry(
                    new IPAddress(row[..4]), Port(row[4..]), IPAddress.Any, 0, Pid(row[8..]), -1),
                _ => new SocketEntry(
                    new IPAddress(row[..16], ScopeId(row[16..])), Port(row[20..]), IPAddress.IPv6Any, 0, Pid(row[24..]), -1),
            });
        }

        return true;
    }

    /// <summary>The TCP state of a row (MIB_TCP_STATE), for callers that filter listeners.</summary>
    public static uint TcpState(ReadOnlySpan<byte> row, IpHelperTableKind kind) =>
        BinaryPrimitives.ReadUInt32LittleEndian(kind == IpHelperTableKind.Tcp6 ? row[48..] : row);

    private static ushort Port(ReadOnlySpan<byte> dword) => BinaryPrimitives.ReadUInt16BigEndian(dword);

    private static ulong Pid(ReadOnlySpan<byte> dword) => BinaryPrimitives.ReadUInt32LittleEndian(dword);

    private static long ScopeId(ReadOnlySpan<byte> dword) => BinaryPrimitives.ReadUInt32LittleEndian(dword);
}
