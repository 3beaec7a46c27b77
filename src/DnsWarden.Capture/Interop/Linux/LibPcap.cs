using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Capture.Interop.Linux;

/// <summary>The few libpcap and libc calls the Linux capture loop makes itself (SharpPcap opens and filters the handles).</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class LibPcap
{
    private const string Pcap = "libpcap.so.0.8";
    private const string C = "libc";

    /// <summary>pcap.h: struct pcap_pkthdr on LP64 — struct timeval (two longs), caplen, len.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketHeader
    {
        public long Seconds;
        public long Microseconds;
        public uint CapturedLength;
        public uint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    public const short PollIn = 0x1;
    public const int ErrorBufferLength = 256;

    /// <summary>
    /// pcap/pcap.h struct pcap_stat outside Windows: three u_int, 12 bytes. SharpPcap declares them pointer-sized, so on
    /// a 64-bit system its drop count is ps_ifdrop, which Linux never sets: a watch that fell behind reported no drops.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PcapStat
    {
        public uint Received;
        public uint Dropped;
        public uint InterfaceDropped;
    }

    /// <summary>pcap_stats(3PCAP): 0, or PCAP_ERROR.</summary>
    [LibraryImport(Pcap, EntryPoint = "pcap_stats")]
    public static partial int Stats(nint handle, out PcapStat stats);

    [LibraryImport(Pcap, EntryPoint = "pcap_get_selectable_fd")]
    public static partial int GetSelectableFd(nint handle);

    [LibraryImport(Pcap, EntryPoint = "pcap_setnonblock")]
    public static partial int SetNonBlock(nint handle, int nonBlock, byte* errorBuffer);

    [LibraryImport(Pcap, EntryPoint = "pcap_dispatch")]
    public static partial int Dispatch(nint handle, int count, delegate* unmanaged<nint, PacketHeader*, byte*, void> callback, nint user);

    [LibraryImport(C, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(C, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(C, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(C, EntryPoint = "close")]
    public static partial int Close(int fd);
}
