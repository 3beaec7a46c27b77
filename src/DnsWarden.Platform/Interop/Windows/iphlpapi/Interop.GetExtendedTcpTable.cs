using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Windows;

internal static partial class IpHlpApi
{
    private const string Library = "iphlpapi.dll";

    // iprtrmib.h TCP_TABLE_CLASS / UDP_TABLE_CLASS.
    public const int TcpTableOwnerPidAll = 5;
    public const int UdpTableOwnerPid = 1;

    // ws2def.h.
    public const int AfInet = 2;
    public const int AfInet6 = 23;

    // winerror.h.
    public const uint NoError = 0;
    public const uint ErrorInsufficientBuffer = 122;

    /// <summary>iphlpapi.h GetExtendedTcpTable; returns a Win32 error code rather than setting the last error.</summary>
    [SupportedOSPlatform("windows")]
    [LibraryImport(Library, SetLastError = true)]
    public static unsafe partial uint GetExtendedTcpTable(byte* pTcpTable, ref uint pdwSize, [MarshalAs(UnmanagedType.Bool)] bool bOrder, uint ulAf, int tableClass, uint reserved);
}
