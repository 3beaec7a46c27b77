using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform.Interop.Linux.Rtnetlink;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Enforcement;

/// <summary>One packet nftables handed to an NFLOG group (<c>log group N</c>): the rule's prefix and the packet from its IP header.</summary>
public readonly ref struct NflogPacket(string prefix, byte family, ReadOnlySpan<byte> payload)
{
    public string Prefix { get; } = prefix;

    /// <summary>AF_INET (2) or AF_INET6 (10).</summary>
    public byte Family { get; } = family;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// A netfilter log socket (nfnetlink_log, linux/netfilter/nfnetlink_log.h): bound to one NFLOG group of the network
/// namespace it is opened in, receiving the first bytes of every packet a <c>log group N</c> rule logs. Hand-written
/// because no library speaks nfnetlink_log for .NET; the messages are plain netlink with attributes.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NflogSocket : IDisposable
{
    private const int NetlinkNetfilter = 12;
    private const ushort SubsystemUlog = 4;
    private const ushort MessagePacket = 0;
    private const ushort MessageConfig = 1;
    private const ushort FlagRequest = 1;
    private const ushort FlagAck = 4;
    private const ushort AttrConfigCommand = 1;
    private const ushort AttrConfigMode = 2;
    private const ushort AttrConfigQueueThreshold = 5;
    private const int DontWait = 0x40;
    private const byte CommandBind = 1;
    private const byte CopyPacket = 2;
    private const ushort AttrPayload = 9;
    private const ushort AttrPrefix = 10;
    private const int NlmsgHeaderLength = 16;
    private const int NfgenHeaderLength = 4;
    private const ushort NlmsgError = 2;

    private int _fd;

    private NflogSocket(int fd) => _fd = fd;

    /// <summary>Opens a socket in the calling thread's namespace and binds it to <paramref name="group"/>, copying <paramref name="copyRange"/> bytes of each packet.</summary>
    public static unsafe NflogSocket Open(ushort group, int copyRange = 128)
    {
        int fd = NetlinkInterop.Socket(NetlinkInterop.AfNetlink, NetlinkInterop.SockRaw | NetlinkInterop.SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            throw new IOException("cannot open a netfilter log socket: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        var socket = new NflogSocket(fd);
        try
        {
            var tv = new NetlinkInterop.TimeVal { Microseconds = 200_000 };
            _ = NetlinkInterop.SetSockOpt(fd, NetlinkInterop.SolSocket, NetlinkInterop.SoRcvtimeo, &tv, (uint)sizeof(NetlinkInterop.TimeVal));
            socket.Configure(group, 1, [CommandBind], AttrConfigCommand);
            byte[] mode = new byte[6];
            BinaryPrimitives.WriteUInt32BigEndian(mode, (uint)copyRange);
            mode[4] = CopyPacket;
            socket.Configure(group, 2, mode, AttrConfigMode);

            // The kernel batches up to 100 packets or 1 s by default; one per message means a refused packet is in
            // this socket by the time the command that sent it has exited, so the jail can report it without waiting.
            byte[] threshold = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(threshold, 1);
            socket.Configure(group, 3, threshold, AttrConfigQueueThreshold);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Waits up to 200 ms for log messages; returns the bytes received (0 when none came), negative once closed.</summary>
    public int Receive(Span<byte> buffer) => Receive(buffer, 0);

    /// <summary>Returns what is queued now without waiting (0 when nothing is), negative once closed.</summary>
    public int ReceiveQueued(Span<byte> buffer) => Receive(buffer, DontWait);

    private unsafe int Receive(Span<byte> buffer, int flags)
    {
        if (_fd < 0)
        {
            return -1;
        }

        fixed (byte* p = buffer)
        {
            nint n = NetlinkInterop.Recv(_fd, p, (nuint)buffer.Length, flags);
            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno is 11 or 4 ? 0 : -1; // EAGAIN (the timeout), EINTR
        }
    }

    /// <summary>Reads the next logged packet from a received buffer; false when none is left. Malformed messages are skipped.</summary>
    public static bool TryReadNext(ref ReadOnlySpan<byte> buffer, out NflogPacket packet)
    {
        packet = default;
        while (buffer.Length >= NlmsgHeaderLength)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(buffer[4..]);
            if (length < NlmsgHeaderLength || length > buffer.Length)
            {
                buffer = default;
                return false;
            }

            ReadOnlySpan<byte> message = buffer[..length];
            buffer = buffer[Math.Min(buffer.Length, NetlinkPrimitives.Align(length))..];
            if (type != ((SubsystemUlog << 8) | MessagePacket) || message.Length < NlmsgHeaderLength + NfgenHeaderLength)
            {
                continue;
            }

            byte family = message[NlmsgHeaderLength];
            string prefix = "";
            ReadOnlySpan<byte> payload = default;
            var reader = new NetlinkAttributeReader(message[(NlmsgHeaderLength + NfgenHeaderLength)..]);
            while (reader.TryRead(out NetlinkAttribute attribute))
            {
                if (attribute.Type == AttrPrefix)
                {
                    ReadOnlySpan<byte> text = attribute.Payload;
                    int nul = text.IndexOf((byte)0);
                    prefix = Encoding.ASCII.GetString(nul >= 0 ? text[..nul] : text);
                }
                else if (attribute.Type == AttrPayload)
                {
                    payload = attribute.Payload;
                }
            }

            packet = new NflogPacket(prefix, family, payload);
            return true;
        }

        return false;
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            NetlinkInterop.Close(_fd);
            _fd = -1;
        }
    }

    private unsafe void Configure(ushort group, uint sequence, ReadOnlySpan<byte> body, ushort attribute)
    {
        int attrLength = 4 + body.Length;
        int total = NlmsgHeaderLength + NfgenHeaderLength + NetlinkPrimitives.Align(attrLength);
        Span<byte> m = stackalloc byte[total];
        m.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)total);
        BinaryPrimitives.WriteUInt16LittleEndian(m[4..], (ushort)((SubsystemUlog << 8) | MessageConfig));
        BinaryPrimitives.WriteUInt16LittleEndian(m[6..], (ushort)(FlagRequest | FlagAck));
        BinaryPrimitives.WriteUInt32LittleEndian(m[8..], sequence);
        m[16] = 0; // AF_UNSPEC
        m[17] = 0; // NFNETLINK_V0
        BinaryPrimitives.WriteUInt16BigEndian(m[18..], group); // res_id: the group, network order
        BinaryPrimitives.WriteUInt16LittleEndian(m[20..], (ushort)attrLength);
        BinaryPrimitives.WriteUInt16LittleEndian(m[22..], attribute);
        body.CopyTo(m[24..]);
        fixed (byte* p = m)
        {
            if (NetlinkInterop.Send(_fd, p, (nuint)total, 0) < 0)
            {
                throw new IOException("cannot configure the netfilter log socket: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }
        }

        // The acknowledgement: an NLMSG_ERROR whose error field is 0 on success.
        Span<byte> reply = stackalloc byte[256];
        fixed (byte* p = reply)
        {
            nint n = NetlinkInterop.Recv(_fd, p, (nuint)reply.Length, 0);
            if (n >= NlmsgHeaderLength + 4 && BinaryPrimitives.ReadUInt16LittleEndian(reply[4..]) == NlmsgError)
            {
                int error = BinaryPrimitives.ReadInt32LittleEndian(reply[16..]);
                if (error != 0)
                {
                    throw new IOException($"the kernel refused the netfilter log configuration: {Marshal.GetPInvokeErrorMessage(-error)} (is nfnetlink_log available?)");
                }
            }
        }
    }
}
