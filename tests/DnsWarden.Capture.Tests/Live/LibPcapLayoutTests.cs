using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using DnsWarden.Capture.Interop.Linux;

namespace DnsWarden.Capture.Tests.Live;

/// <summary>The structs the Linux capture loop shares with libpcap, against pcap/pcap.h on LP64.</summary>
[SupportedOSPlatform("linux")]
public sealed class LibPcapLayoutTests
{
    // pcap.h struct pcap_stat { u_int ps_recv; u_int ps_drop; u_int ps_ifdrop; } (ps_capt follows on Windows only).
    [Fact]
    public void PcapStat_IsThree32BitCounts()
    {
        Assert.Equal(12, Unsafe.SizeOf<LibPcap.PcapStat>());
        LibPcap.PcapStat s = default;
        Assert.Equal(0, Offset(ref s, ref s.Received));
        Assert.Equal(4, Offset(ref s, ref s.Dropped));
        Assert.Equal(8, Offset(ref s, ref s.InterfaceDropped));
    }

    // pcap.h struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }: two longs, then two u_int.
    [Fact]
    public void PacketHeader_IsTimevalThenTwoLengths()
    {
        Assert.Equal(24, Unsafe.SizeOf<LibPcap.PacketHeader>());
        LibPcap.PacketHeader h = default;
        Assert.Equal(8, Offset(ref h, ref h.Microseconds));
        Assert.Equal(16, Offset(ref h, ref h.CapturedLength));
        Assert.Equal(20, Offset(ref h, ref h.Length));
    }

    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));
}
