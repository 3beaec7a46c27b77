using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Windows;

internal static partial class IpHlpApi
{
    /// <summary>iphlpapi.h GetExtendedUdpTable; returns a Win32 error code rather than setting the last error.</summary>
    [SupportedOSPlatform("windows")]
    [LibraryImport(Library, SetLastError = true)]
    public static unsafe partial uint GetExtendedUdpTable(byte* pUdpTable, ref uint pdwSize, [MarshalAs(UnmanagedType.Bool)] bool bOrder, uint ulAf, int tableClass, uint reserved);
}
