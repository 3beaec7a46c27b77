using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Capture.Interop.Linux;

/// <summary>The few libpcap and libc calls the Linux capture loop and the capture-file filter make themselves (SharpPcap opens and filters the live handles).</summary>
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

    /// <summary>pcap/bpf.h struct bpf_program: u_int bf_len, then a pointer to the instructions (16 bytes on LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgram
    {
        public uint Length;
        public nint Instructions;
    }

    /// <summary>pcap_compile's netmask when none is known: only IPv4 broadcast tests need one (pcap/pcap.h).</summary>
    public const uint NetmaskUnknown = 0xFFFFFFFF;

    /// <summary>DLT_LINUX_SLL2 (pcap/dlt.h): the "any" device's header that carries the interface index.</summary>
    public const int DltLinuxSll2 = 276;

    [LibraryImport(Pcap, EntryPoint = "pcap_open_dead")]
    public static partial nint OpenDead(int linkType, int snapLength);

    [LibraryImport(Pcap, EntryPoint = "pcap_compile")]
    public static partial int Compile(nint handle, BpfProgram* program, byte* expression, int optimize, uint netmask);

    [LibraryImport(Pcap, EntryPoint = "pcap_geterr")]
    public static partial byte* GetError(nint handle);

    [LibraryImport(Pcap, EntryPoint = "pcap_offline_filter")]
    public static partial int OfflineFilter(BpfProgram* program, PacketHeader* header, byte* data);

    [LibraryImport(Pcap, EntryPoint = "pcap_freecode")]
    public static partial void FreeCode(BpfProgram* program);

    [LibraryImport(Pcap, EntryPoint = "pcap_close")]
    public static partial void ClosePcap(nint handle);

    /// <summary>pcap_set_datalink(3PCAP): 0, or PCAP_ERROR when the device does not offer the link type.</summary>
    [LibraryImport(Pcap, EntryPoint = "pcap_set_datalink")]
    public static partial int SetDatalink(nint handle, int linkType);

    [LibraryImport(Pcap, EntryPoint = "pcap_datalink")]
    public static partial int Datalink(nint handle);

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
