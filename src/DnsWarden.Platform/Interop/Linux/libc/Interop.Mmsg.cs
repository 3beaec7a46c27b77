using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // sys/socket.h MSG_WAITFORONE: block for the first datagram only, take whatever else is queued without waiting.
    public const int MsgWaitForOne = 0x10000;
    public const int EConnRefused = 111;
    public const int ENetUnreach = 101;
    public const int EHostUnreach = 113;

    /// <summary>bits/types/struct_iovec.h struct iovec { void *iov_base; size_t iov_len; } (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>
    /// bits/socket.h struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
    /// void *msg_control; size_t msg_controllen; int msg_flags; } (56 bytes on 64-bit).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>bits/socket.h struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; } (64 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "recvmmsg", SetLastError = true)]
    public static unsafe partial int RecvMmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "sendmmsg", SetLastError = true)]
    public static unsafe partial int SendMmsg(int fd, MMsgHdr* messages, uint count, int flags);
}
