using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

/// <summary>libpcap (Debian's libpcap0.8): only what the capture library's own binding reads wrongly.</summary>
internal static partial class LibPcap
{
    private const string Library = "libpcap.so.0.8";

    /// <summary>
    /// pcap/pcap.h struct pcap_stat outside Windows: three u_int, 12 bytes. (A binding that declares them pointer-sized
    /// reads ps_ifdrop as the drop count on a 64-bit system: always 0 on Linux.)
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PcapStat
    {
        public uint Received;
        public uint Dropped;
        public uint InterfaceDropped;
    }

    /// <summary>pcap_stats(3PCAP): 0, or PCAP_ERROR.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "pcap_stats")]
    public static partial int Stats(nint pcap, out PcapStat stats);
}
