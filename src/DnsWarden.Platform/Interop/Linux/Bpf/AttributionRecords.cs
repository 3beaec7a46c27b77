using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DnsWarden.Platform.Interop.Linux.Bpf;

/// <summary>16 bytes: an address (IPv4 as ::ffff:a.b.c.d) or a comm.</summary>
[InlineArray(16)]
internal struct Bytes16
{
    private byte _element0;
}

/// <summary>32 bytes: an executable's file name (DNSW_EXE_NAME_LEN).</summary>
[InlineArray(32)]
internal struct Bytes32
{
    private byte _element0;
}

/// <summary><c>struct dnsw_flow_key</c> (src/DnsWarden.Platform/Bpf/attribution.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnswFlowKey
{
    public ulong Netns;
    public Bytes16 DestinationAddress;
    public ushort DestinationPort;
    public ushort SourcePort;
    public byte Protocol;
    public byte Pad0;
    public byte Pad1;
    public byte Pad2;
}

/// <summary><c>struct dnsw_ancestor</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnswAncestor
{
    public uint Tgid;
    public Bytes16 Comm;
}

/// <summary>Four <c>struct dnsw_ancestor</c> (DNSW_ANCESTORS), parent first.</summary>
[InlineArray(4)]
internal struct DnswAncestors
{
    private DnswAncestor _element0;
}

/// <summary><c>struct dnsw_send_record</c>: one send, as the BPF program writes it to the ring buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnswSendRecord
{
    public DnswFlowKey Key;
    public ulong Cookie;
    public ulong BootNs;
    public ulong CgroupId;
    public uint Tgid;
    public uint Pid;
    public uint Uid;
    public uint Gid;
    public Bytes16 SourceAddress;
    public byte Hook;
    public byte Joined;
    public byte Pad0;
    public byte Pad1;
    public byte Pad2;
    public byte Pad3;
    public byte Pad4;
    public byte Pad5;
    public Bytes16 Thread;
    public Bytes16 Process;
    public Bytes32 ExeName;
    public ulong ExeInode;
    public DnswAncestors Ancestors;
}
