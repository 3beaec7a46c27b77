using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DnsWarden.Platform.Interop.Linux;

/// <summary>Netlink sock_diag layouts and constants (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h).</summary>
internal static class SockDiag
{
    // linux/netlink.h.
    public const int NetlinkSockDiag = 4;
    public const ushort NlmFRequest = 0x1;
    public const ushort NlmFDump = 0x300;
    public const ushort NlmsgError = 0x2;
    public const ushort NlmsgDone = 0x3;

    // linux/sock_diag.h.
    public const ushort SockDiagByFamily = 20;

    // linux/in.h, linux/socket.h.
    public const byte IpProtoTcp = 6;
    public const byte IpProtoUdp = 17;
    public const byte AfInet = 2;
    public const byte AfInet6 = 10;

    // linux/inet_diag.h: "#define INET_DIAG_NOCOOKIE (~0U)".
    public const uint NoCookie = uint.MaxValue;
    public const uint AllStates = uint.MaxValue;

    /// <summary>NLMSG_ALIGN: messages in a netlink buffer start on 4-byte boundaries.</summary>
    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>linux/netlink.h struct nlmsghdr (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NlMsgHdr
{
    public uint Length;
    public ushort Type;
    public ushort Flags;
    public uint Seq;
    public uint Pid;
}

/// <summary>linux/inet_diag.h struct inet_diag_sockid (48 bytes); ports and addresses in network order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InetDiagSockId
{
    public ushort SPort;
    public ushort DPort;
    public Address16 Src;
    public Address16 Dst;
    public uint If;
    public Cookie2 Cookie;
}

/// <summary>__be32 idiag_src[4] / idiag_dst[4]: an IPv4 address uses the first four bytes.</summary>
[InlineArray(16)]
internal struct Address16
{
    private byte _element0;
}

/// <summary>__u32 idiag_cookie[2].</summary>
[InlineArray(2)]
internal struct Cookie2
{
    private uint _element0;
}

/// <summary>linux/inet_diag.h struct inet_diag_req_v2 (56 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InetDiagReqV2
{
    public byte Family;
    public byte Protocol;
    public byte Ext;
    public byte Pad;
    public uint States;
    public InetDiagSockId Id;
}

/// <summary>linux/inet_diag.h struct inet_diag_msg (72 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InetDiagMsg
{
    public byte Family;
    public byte State;
    public byte Timer;
    public byte Retrans;
    public InetDiagSockId Id;
    public uint Expires;
    public uint RQueue;
    public uint WQueue;
    public uint Uid;
    public uint Inode;
}

/// <summary>linux/netlink.h struct nlmsgerr: a negative errno then the request's header.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NlMsgErr
{
    public int Error;
    public NlMsgHdr Msg;
}
