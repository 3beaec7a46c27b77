using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>
/// TUN devices opened inside throwaway namespaces: where they appear, that they go with their last queue, and that
/// packets cross them both ways, checked against real UDP sockets in the same namespace.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunDeviceTests
{
    private const int Port = 5301;

    /// <summary>Longer than any test needs; a device still read after it is disposed so a lost packet fails instead of hanging.</summary>
    private static readonly TimeSpan s_watchdog = TimeSpan.FromSeconds(10);

    private static readonly IPAddress s_tunV4 = IPAddress.Parse("10.77.0.1");
    private static readonly IPAddress s_peerV4 = IPAddress.Parse("10.77.0.9");
    private static readonly IPAddress s_tunV6 = IPAddress.Parse("fd00:77::1");
    private static readonly IPAddress s_peerV6 = IPAddress.Parse("fd00:77::9");

    private static string? SkipReason() =>
        HostTool.SkipReason() ?? (File.Exists("/dev/net/tun") ? null : "no /dev/net/tun: the kernel lacks CONFIG_TUN");

    private static string LinkName(char role) => string.Create(CultureInfo.InvariantCulture, $"dt{Environment.ProcessId % 1_000_000}{role}");

    [Fact]
    public async Task Open_AppearsInItsNamespaceOnly_AndVanishesOnDispose()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("tun");
        string pattern = LinkName('a') + "%d";
        TunDevice tun = await NetworkNamespace.RunAsync(ns.Name, () => TunDevice.Open(pattern));
        try
        {
            Assert.Equal(LinkName('a') + "0", tun.Name);
            Assert.False(tun.HasVnetHeader);
            JsonElement link = Assert.Single(ns.IpJson("-d", "link", "show", tun.Name).EnumerateArray());
            Assert.Equal(tun.Index, link.GetProperty("ifindex").GetInt32());
            JsonElement info = link.GetProperty("linkinfo").GetProperty("info_data");
            Assert.Equal("tun", info.GetProperty("type").GetString());
            Assert.False(info.GetProperty("pi").GetBoolean());
            Assert.False(info.GetProperty("persist").GetBoolean());
            Assert.DoesNotContain(tun.Name, HostTool.Names(HostTool.IpJson(["link", "show"])));
        }
        finally
        {
            tun.Dispose();
        }

        Assert.Equal(["lo"], HostTool.Names(ns.IpJson("link", "show")));
        Assert.Equal(-1, tun.Read(new byte[1500]));
        Assert.Equal(-1, tun.Write(new byte[20]));
    }

    [Fact]
    public async Task PacketsCrossTheDevice_BothWays_IPv4AndIPv6()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("tunio");
        (TunDevice tun, Socket udp4, Socket udp6) = await OpenWithSocketsAsync(ns, LinkName('b'), new TunOptions());
        using (tun)
        using (udp4)
        using (udp6)
        using (new Timer(_ => tun.Dispose(), null, s_watchdog, Timeout.InfiniteTimeSpan))
        {
            // Written to the device: the namespace's stack delivers it to the socket bound there.
            byte[] hello4 = Encoding.ASCII.GetBytes("in through tun v4");
            Assert.Equal(20 + 8 + hello4.Length, tun.Write(BuildUdp(s_peerV4, 40000, s_tunV4, Port, hello4)));
            AssertReceives(udp4, hello4, new IPEndPoint(s_peerV4, 40000));
            byte[] hello6 = Encoding.ASCII.GetBytes("in through tun v6");
            Assert.Equal(40 + 8 + hello6.Length, tun.Write(BuildUdp(s_peerV6, 40001, s_tunV6, Port, hello6)));
            AssertReceives(udp6, hello6, new IPEndPoint(s_peerV6, 40001));

            // Sent to an address routed into the device: read back whole, from its IP header. The datagrams are queued
            // before the reads start, so the reads only wait for what is already there.
            byte[] out4 = Encoding.ASCII.GetBytes("out through tun v4");
            byte[] out6 = Encoding.ASCII.GetBytes("out through tun v6");
            udp4.SendTo(out4, new IPEndPoint(s_peerV4, 6000));
            udp6.SendTo(out6, new IPEndPoint(s_peerV6, 6001));
            byte[] packet4 = await Task.Run(() => ReadUdp(tun, 0, 4, 6000));
            AssertUdp(packet4, s_tunV4, Port, s_peerV4, 6000, out4);
            byte[] packet6 = await Task.Run(() => ReadUdp(tun, 0, 6, 6001));
            AssertUdp(packet6, s_tunV6, Port, s_peerV6, 6001, out6);
        }
    }

    [Fact]
    public async Task WithVnetHeader_EveryReadStartsWithTheVirtioHeader()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("tunvh");
        (TunDevice tun, Socket udp4, Socket udp6) = await OpenWithSocketsAsync(ns, LinkName('c'), new TunOptions { VnetHeader = true });
        using (tun)
        using (udp4)
        using (udp6)
        using (new Timer(_ => tun.Dispose(), null, s_watchdog, Timeout.InfiniteTimeSpan))
        {
            Assert.True(tun.HasVnetHeader);
            JsonElement info = ns.IpJson("-d", "link", "show", tun.Name)[0].GetProperty("linkinfo").GetProperty("info_data");
            Assert.True(info.GetProperty("vnet_hdr").GetBoolean());

            byte[] data = Encoding.ASCII.GetBytes("with a virtio header");
            udp4.SendTo(data, new IPEndPoint(s_peerV4, 6002));
            byte[] read = await Task.Run(() => ReadUdp(tun, TunDevice.VnetHeaderLength, 4, 6002));
            ReadOnlySpan<byte> header = read.AsSpan(0, TunDevice.VnetHeaderLength);
            Assert.Equal(0, header[1]); // gso_type NONE: one small datagram is no super-packet
            if ((header[0] & 1) != 0)
            {
                // NEEDS_CSUM (TUN_F_CSUM let the kernel skip it): the UDP checksum is at IP header + 6.
                Assert.Equal(20, BinaryPrimitives.ReadUInt16LittleEndian(header[6..]));
                Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(header[8..]));
            }

            AssertUdp(read.AsSpan(TunDevice.VnetHeaderLength), s_tunV4, Port, s_peerV4, 6002, data);

            // A write carries the header too; all zeros is a plain, complete packet.
            byte[] hello = Encoding.ASCII.GetBytes("written after a zero header");
            byte[] packet = [.. new byte[TunDevice.VnetHeaderLength], .. BuildUdp(s_peerV4, 40002, s_tunV4, Port, hello)];
            Assert.Equal(packet.Length, tun.Write(packet));
            AssertReceives(udp4, hello, new IPEndPoint(s_peerV4, 40002));
        }
    }

    [Fact]
    public async Task Dispose_WakesABlockedReader()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("tunwake");
        TunDevice tun = await NetworkNamespace.RunAsync(ns.Name, () => TunDevice.Open(LinkName('d')));
        int result = 0;
        long returnedAt = 0;
        using var entered = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            entered.Set();
            result = tun.Read(new byte[2048]);
            returnedAt = Stopwatch.GetTimestamp();
        })
        { IsBackground = true };
        reader.Start();
        entered.Wait();

        // Whether or not the reader reached poll yet, it must come back with -1; the pause only makes the usual case the measured one.
        Thread.Sleep(100);
        long disposedAt = Stopwatch.GetTimestamp();
        tun.Dispose();
        Assert.True(reader.Join(TimeSpan.FromSeconds(5)), "Read did not return after Dispose");
        Assert.Equal(-1, result);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(
            CultureInfo.InvariantCulture, $"blocked TUN Read returned {Stopwatch.GetElapsedTime(disposedAt, returnedAt).TotalMilliseconds:F3} ms after Dispose"));
        Assert.Equal(["lo"], HostTool.Names(ns.IpJson("link", "show")));
    }

    [Fact]
    public async Task MultiQueue_TheDeviceLivesUntilItsLastQueueCloses()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("tunmq");
        string name = LinkName('e');
        (TunDevice first, TunDevice second) = await NetworkNamespace.RunAsync(ns.Name, () =>
        {
            TunDevice a = TunDevice.Open(name, new TunOptions { MultiQueue = true });
            return (a, a.OpenQueue());
        });
        try
        {
            Assert.Equal(first.Name, second.Name);
            Assert.Equal(first.Index, second.Index);
            JsonElement info = ns.IpJson("-d", "link", "show", name)[0].GetProperty("linkinfo").GetProperty("info_data");
            Assert.True(info.GetProperty("multi_queue").GetBoolean());
            Assert.Equal(2, info.GetProperty("numqueues").GetInt32());
            first.Dispose();
            Assert.Contains(name, HostTool.Names(ns.IpJson("link", "show")));
            second.Dispose();
            Assert.DoesNotContain(name, HostTool.Names(ns.IpJson("link", "show")));
        }
        finally
        {
            first.Dispose();
            second.Dispose();
        }

        using TunDevice single = await NetworkNamespace.RunAsync(ns.Name, () => TunDevice.Open(name));
        Assert.Throws<InvalidOperationException>(() => single.OpenQueue());
    }

    [Fact]
    public void NativeNumbers_MatchTheHeaders()
    {
        // if_tun.h:34 TUNSETIFF _IOW('T', 202, int), :40 TUNSETOFFLOAD _IOW('T', 208, unsigned int), :48 TUNSETVNETHDRSZ _IOW('T', 216, int);
        // asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr, _IOC_WRITE = 1.
        static nuint Iow(char type, int nr, int size) => (nuint)((1u << 30) | ((uint)size << 16) | ((uint)type << 8) | (uint)nr);
        Assert.Equal(TunDevice.TunSetIff, Iow('T', 202, 4));
        Assert.Equal(TunDevice.TunSetOffload, Iow('T', 208, 4));
        Assert.Equal(TunDevice.TunSetVnetHeaderSize, Iow('T', 216, 4));

        // if.h: struct ifreq is IFNAMSIZ (16) then a union whose largest member, struct ifmap, is 24 bytes on LP64.
        Assert.Equal(40, TunDevice.IfReqLength);
        Assert.Equal(16, TunDevice.IfReqFlagsOffset);

        // virtio_net.h: struct virtio_net_hdr { u8 flags, gso_type; __virtio16 hdr_len, gso_size, csum_start, csum_offset; }.
        Assert.Equal(10, TunDevice.VnetHeaderLength);
    }

    /// <summary>Opens the device in the namespace, gives it 10.77.0.1/24 and fd00:77::1/64, sets it up, and binds a UDP socket per family there.</summary>
    private static Task<(TunDevice Tun, Socket Udp4, Socket Udp6)> OpenWithSocketsAsync(ScratchNamespace ns, string name, TunOptions options) =>
        NetworkNamespace.RunAsync(ns.Name, () =>
        {
            TunDevice tun = TunDevice.Open(name, options);
            try
            {
                using (RtnetlinkSocket s = RtnetlinkSocket.Open())
                {
                    s.AddAddress(tun.Index, s_tunV4, 24);
                    s.AddAddress(tun.Index, s_tunV6, 64, noDad: true);
                    s.SetLinkUp(tun.Index);
                }

                // The IPv6 address is local only once addrconf's work queue has run after the link came up.
                LocalAddresses.WaitUntilLocal([s_tunV4, s_tunV6], TimeSpan.FromSeconds(10));

                var udp4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)s_watchdog.TotalMilliseconds };
                udp4.Bind(new IPEndPoint(s_tunV4, Port));
                var udp6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)s_watchdog.TotalMilliseconds };
                udp6.Bind(new IPEndPoint(s_tunV6, Port));
                return (tun, udp4, udp6);
            }
            catch
            {
                tun.Dispose();
                throw;
            }
        });

    private static void AssertReceives(Socket udp, byte[] expected, IPEndPoint from)
    {
        var buffer = new byte[2048];
        EndPoint remote = new IPEndPoint(from.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        int n = udp.ReceiveFrom(buffer, ref remote);
        Assert.Equal(expected, buffer[..n]);
        Assert.Equal(from, remote);
    }

    /// <summary>Reads packets until a UDP one of <paramref name="version"/> to <paramref name="port"/> (others, such as IPv6 router solicitations, are skipped).</summary>
    private static byte[] ReadUdp(TunDevice tun, int skip, int version, int port)
    {
        var buffer = new byte[65536 + TunDevice.VnetHeaderLength];
        while (true)
        {
            int n = tun.Read(buffer);
            Assert.True(n > 0, "the device was closed (watchdog) before the packet came");
            ReadOnlySpan<byte> ip = buffer.AsSpan(skip, n - skip);
            int udp = version == 4 ? (ip[0] & 0xf) * 4 : 40;
            bool isUdp = version == 4 ? ip[9] == 17 : ip[6] == 17;
            if (ip[0] >> 4 == version && isUdp && ip.Length >= udp + 8 && BinaryPrimitives.ReadUInt16BigEndian(ip[(udp + 2)..]) == port)
            {
                return buffer[..n];
            }
        }
    }

    private static void AssertUdp(ReadOnlySpan<byte> ip, IPAddress source, int sourcePort, IPAddress destination, int destinationPort, byte[] payload)
    {
        bool v4 = source.AddressFamily == AddressFamily.InterNetwork;
        int headerLength = v4 ? (ip[0] & 0xf) * 4 : 40;
        Assert.Equal(v4 ? 4 : 6, ip[0] >> 4);
        if (v4)
        {
            Assert.Equal(ip.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            Assert.Equal(17, ip[9]);
            Assert.Equal(source, new IPAddress(ip[12..16]));
            Assert.Equal(destination, new IPAddress(ip[16..20]));
        }
        else
        {
            Assert.Equal(ip.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
            Assert.Equal(17, ip[6]);
            Assert.Equal(source, new IPAddress(ip[8..24]));
            Assert.Equal(destination, new IPAddress(ip[24..40]));
        }

        ReadOnlySpan<byte> udp = ip[headerLength..];
        Assert.Equal(sourcePort, BinaryPrimitives.ReadUInt16BigEndian(udp));
        Assert.Equal(destinationPort, BinaryPrimitives.ReadUInt16BigEndian(udp[2..]));
        Assert.Equal(8 + payload.Length, BinaryPrimitives.ReadUInt16BigEndian(udp[4..]));
        Assert.Equal(payload, udp[8..].ToArray());
    }

    /// <summary>An IPv4 (RFC 791) or IPv6 (RFC 8200) packet carrying one UDP datagram (RFC 768) with its checksums.</summary>
    private static byte[] BuildUdp(IPAddress source, int sourcePort, IPAddress destination, int destinationPort, byte[] payload)
    {
        bool v4 = source.AddressFamily == AddressFamily.InterNetwork;
        int headerLength = v4 ? 20 : 40;
        int udpLength = 8 + payload.Length;
        var packet = new byte[headerLength + udpLength];
        Span<byte> src = stackalloc byte[16];
        Span<byte> dst = stackalloc byte[16];
        source.TryWriteBytes(src, out int addressLength);
        destination.TryWriteBytes(dst, out _);
        if (v4)
        {
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
            packet[6] = 0x40; // DF
            packet[8] = 64;
            packet[9] = 17;
            src[..4].CopyTo(packet.AsSpan(12));
            dst[..4].CopyTo(packet.AsSpan(16));
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum(packet.AsSpan(0, 20), 0));
        }
        else
        {
            packet[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)udpLength);
            packet[6] = 17;
            packet[7] = 64;
            src.CopyTo(packet.AsSpan(8));
            dst.CopyTo(packet.AsSpan(24));
        }

        Span<byte> udp = packet.AsSpan(headerLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);

        // Pseudo-header: addresses, protocol, UDP length (RFC 768; RFC 8200 §8.1, where the checksum is mandatory).
        uint pseudo = Sum(src[..addressLength]) + Sum(dst[..addressLength]) + 17 + (uint)udpLength;
        ushort udpChecksum = Checksum(udp, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], udpChecksum == 0 ? (ushort)0xffff : udpChecksum);
        return packet;
    }

    private static uint Sum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if ((data.Length & 1) != 0)
        {
            sum += (uint)data[^1] << 8;
        }

        return sum;
    }

    /// <summary>The Internet checksum (RFC 1071): ones' complement of the ones' complement sum.</summary>
    private static ushort Checksum(ReadOnlySpan<byte> data, uint initial)
    {
        ulong sum = initial + (ulong)Sum(data);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
