using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DnsWarden.Platform.Interop.Linux;
using DnsWarden.Platform.Sockets;

namespace DnsWarden.Platform.Tests;

/// <summary>Netlink layouts against the kernel UAPI headers (line numbers from linux-libc-dev's /usr/include/linux).</summary>
public sealed class NativeLayoutTests
{
    // netlink.h:52 struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }.
    [Fact]
    public void NlMsgHdr_Is16Bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<NlMsgHdr>());
        NlMsgHdr h = default;
        Assert.Equal(0, Offset(ref h, ref h.Length));
        Assert.Equal(4, Offset(ref h, ref h.Type));
        Assert.Equal(6, Offset(ref h, ref h.Flags));
        Assert.Equal(8, Offset(ref h, ref h.Seq));
        Assert.Equal(12, Offset(ref h, ref h.Pid));
    }

    // inet_diag.h:14 struct inet_diag_sockid { __be16 sport, dport; __be32 src[4], dst[4]; __u32 if; __u32 cookie[2]; }.
    [Fact]
    public void InetDiagSockId_Is48Bytes()
    {
        Assert.Equal(48, Unsafe.SizeOf<InetDiagSockId>());
        InetDiagSockId id = default;
        Assert.Equal(0, Offset(ref id, ref id.SPort));
        Assert.Equal(2, Offset(ref id, ref id.DPort));
        Assert.Equal(4, Offset(ref id, ref id.Src));
        Assert.Equal(20, Offset(ref id, ref id.Dst));
        Assert.Equal(36, Offset(ref id, ref id.If));
        Assert.Equal(40, Offset(ref id, ref id.Cookie));
    }

    // inet_diag.h:38 struct inet_diag_req_v2 { __u8 family, protocol, ext, pad; __u32 states; struct inet_diag_sockid id; }.
    [Fact]
    public void InetDiagReqV2_Is56Bytes()
    {
        Assert.Equal(56, Unsafe.SizeOf<InetDiagReqV2>());
        InetDiagReqV2 r = default;
        Assert.Equal(1, Offset(ref r, ref r.Protocol));
        Assert.Equal(4, Offset(ref r, ref r.States));
        Assert.Equal(8, Offset(ref r, ref r.Id));
    }

    // inet_diag.h:117 struct inet_diag_msg { __u8 family, state, timer, retrans; sockid id; __u32 expires, rqueue, wqueue, uid, inode; }.
    [Fact]
    public void InetDiagMsg_Is72Bytes()
    {
        Assert.Equal(72, Unsafe.SizeOf<InetDiagMsg>());
        InetDiagMsg m = default;
        Assert.Equal(4, Offset(ref m, ref m.Id));
        Assert.Equal(52, Offset(ref m, ref m.Expires));
        Assert.Equal(64, Offset(ref m, ref m.Uid));
        Assert.Equal(68, Offset(ref m, ref m.Inode));
    }

    // bits/socket.h struct msghdr and struct mmsghdr, bits/types/struct_iovec.h struct iovec (x86-64 and arm64 alike).
    [Fact]
    public void MMsgHdr_Is64Bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<LibC.IoVec>());
        Assert.Equal(56, Unsafe.SizeOf<LibC.MsgHdr>());
        Assert.Equal(64, Unsafe.SizeOf<LibC.MMsgHdr>());
        Assert.Equal(8, (int)Marshal.OffsetOf<LibC.MsgHdr>(nameof(LibC.MsgHdr.NameLength)));
        Assert.Equal(16, (int)Marshal.OffsetOf<LibC.MsgHdr>(nameof(LibC.MsgHdr.Iov)));
        Assert.Equal(24, (int)Marshal.OffsetOf<LibC.MsgHdr>(nameof(LibC.MsgHdr.IovLength)));
        Assert.Equal(32, (int)Marshal.OffsetOf<LibC.MsgHdr>(nameof(LibC.MsgHdr.Control)));
        Assert.Equal(48, (int)Marshal.OffsetOf<LibC.MsgHdr>(nameof(LibC.MsgHdr.Flags)));
        Assert.Equal(56, (int)Marshal.OffsetOf<LibC.MMsgHdr>(nameof(LibC.MMsgHdr.Length)));
    }

    // inet_diag.h:21 "#define INET_DIAG_NOCOOKIE (~0U)"; sock_diag.h:7 SOCK_DIAG_BY_FAMILY 20; netlink.h:13 NETLINK_SOCK_DIAG 4.
    [Fact]
    public void Constants_MatchHeaders()
    {
        Assert.Equal(uint.MaxValue, SockDiag.NoCookie);
        Assert.Equal(20, SockDiag.SockDiagByFamily);
        Assert.Equal(4, SockDiag.NetlinkSockDiag);
    }

    /// <summary>The same figures from the C compiler over the installed headers, where gcc and the headers exist.</summary>
    [Fact]
    public void Layouts_AgreeWithCompiledHeaders()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/include/linux/inet_diag.h") || !ToolExists("gcc"))
        {
            Assert.Skip("needs gcc and linux-libc-dev (/usr/include/linux/inet_diag.h)");
        }

        string dir = Directory.CreateTempSubdirectory("dnsw-layout").FullName;
        try
        {
            string source = Path.Combine(dir, "layout.c");
            File.WriteAllText(source, """
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/netlink.h>
                #include <linux/inet_diag.h>
                #include <linux/stat.h>
                #include <fcntl.h>
                #include <sys/socket.h>
                #include <sys/uio.h>
                #include <netinet/in.h>
                int main(void)
                {
                    printf("%zu %zu %zu %zu %zu %zu %zu %zu\n",
                        sizeof(struct nlmsghdr), sizeof(struct inet_diag_req_v2), sizeof(struct inet_diag_msg),
                        sizeof(struct inet_diag_sockid), offsetof(struct inet_diag_sockid, idiag_cookie),
                        offsetof(struct inet_diag_msg, idiag_uid), offsetof(struct inet_diag_msg, idiag_inode),
                        offsetof(struct inet_diag_req_v2, id));
                    printf("%zu %zu %d %u %u\n", sizeof(struct statx), offsetof(struct statx, stx_mode), AT_EMPTY_PATH, STATX_TYPE, STATX_MODE);
                    printf("%zu %zu %zu %zu %zu %zu %zu %d\n", sizeof(struct iovec), sizeof(struct msghdr), sizeof(struct mmsghdr),
                        offsetof(struct msghdr, msg_iov), offsetof(struct msghdr, msg_flags), offsetof(struct mmsghdr, msg_len),
                        sizeof(struct sockaddr_in6), MSG_WAITFORONE);
                    return 0;
                }
                """);
            string exe = Path.Combine(dir, "layout");
            Run("gcc", $"-o {exe} {source}");
            string[] output = Run(exe, "").Trim().Split('\n');
            Assert.Equal("16 56 72 48 40 64 68 8", output[0]);
            Assert.Equal(
                string.Create(CultureInfo.InvariantCulture, $"{LibC.StatxBufferLength} 28 {LibC.AtEmptyPath} {LibC.StatxType} {LibC.StatxMode}"),
                output[1]);
            Assert.Equal(
                string.Create(CultureInfo.InvariantCulture, $"{Unsafe.SizeOf<LibC.IoVec>()} {Unsafe.SizeOf<LibC.MsgHdr>()} {Unsafe.SizeOf<LibC.MMsgHdr>()} 16 48 56 {UdpBatch.AddressCapacity} {LibC.MsgWaitForOne}"),
                output[2]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    private static bool ToolExists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        using StreamReader stdoutReader = p.StandardOutput;
        using StreamReader stderrReader = p.StandardError;
        string stdout = stdoutReader.ReadToEnd();
        string stderr = stderrReader.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed: {stderr}");
        return stdout;
    }
}
