using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

/// <summary>
/// libpcap's counters of a live capture handle — packets the kernel passed the filter, and those it dropped because the
/// capture's buffer was full — read through pcap_stats with the struct libpcap declares. SharpPcap's statistics declare
/// the fields pointer-sized, so on 64-bit Linux its drop count is libpcap's ps_ifdrop, which Linux never sets: a full
/// buffer went unreported.
/// </summary>
[SupportedOSPlatform("linux")]
public static class PcapCounters
{
    /// <summary>False when libpcap reports an error for the handle (it is closed, or not a live capture).</summary>
    public static bool TryRead(SafeHandle pcap, out uint received, out uint dropped, out uint interfaceDropped)
    {
        received = dropped = interfaceDropped = 0;
        bool added = false;
        try
        {
            pcap.DangerousAddRef(ref added);
            if (LibPcap.Stats(pcap.DangerousGetHandle(), out LibPcap.PcapStat stats) != 0)
            {
                return false;
            }

            (received, dropped, interfaceDropped) = (stats.Received, stats.Dropped, stats.InterfaceDropped);
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                pcap.DangerousRelease();
            }
        }
    }
}
