using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace DnsWarden.Platform.Tests;

/// <summary>/proc/net/{tcp,udp}[6] lines, as printed by net/ipv4/tcp_ipv4.c get_tcp4_sock and net/ipv6/tcp_ipv6.c get_tcp6_sock.</summary>
public sealed class ProcNetParserTests
{
    private const string Header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    // 127.0.0.1:53 listening, uid 0, inode 12345 (the address word is the in-memory __be32 printed with %08X).
    private const string V4Listen = "   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";

    // 10.0.0.2:40000 → 93.184.216.34:443 established, uid 1000.
    private const string V4Established = "   1: 0200000A:9C40 22D8B85D:01BB 01 00000000:00000000 02:000AFBB8 00000000  1000        0 67890 2 0000000000000000 20 4 30 10 -1";

    // [::1]:5353 → [::1]:53 UDP connected, uid 0.
    private const string V6Connected = "  12: 00000000000000000000000001000000:14E9 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000     0        0 424242 2 0000000000000000 0";

    // [::ffff:127.0.0.1]:8080, a dual-stack socket listening on an IPv4-mapped address.
    private const string V6Mapped = "   3: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 777 1 0000000000000000 100 0 0 10 0";

    [Fact]
    public void V4Listening()
    {
        Assert.True(ProcNetParser.TryParseLine(V4Listen, out SocketEntry e, out byte state));
        Assert.Equal(IPAddress.Loopback, e.LocalAddress);
        Assert.Equal(53, e.LocalPort);
        Assert.Equal(IPAddress.Any, e.RemoteAddress);
        Assert.Equal(0, e.RemotePort);
        Assert.Equal(0x0A, state);
        Assert.Equal(0, e.Uid);
        Assert.Equal(12345UL, e.Owner);
        Assert.False(e.IsConnected);
    }

    [Fact]
    public void V4Established_Parses()
    {
        Assert.True(ProcNetParser.TryParseLine(V4Established, out SocketEntry e, out byte state));
        Assert.Equal(IPAddress.Parse("10.0.0.2"), e.LocalAddress);
        Assert.Equal(40000, e.LocalPort);
        Assert.Equal(IPAddress.Parse("93.184.216.34"), e.RemoteAddress);
        Assert.Equal(443, e.RemotePort);
        Assert.Equal(1, state);
        Assert.Equal(1000, e.Uid);
        Assert.Equal(67890UL, e.Owner);
    }

    [Fact]
    public void V6_FourLittleEndianWords()
    {
        Assert.True(ProcNetParser.TryParseLine(V6Connected, out SocketEntry e, out _));
        Assert.Equal(IPAddress.IPv6Loopback, e.LocalAddress);
        Assert.Equal(5353, e.LocalPort);
        Assert.Equal(IPAddress.IPv6Loopback, e.RemoteAddress);
        Assert.Equal(53, e.RemotePort);
        Assert.Equal(424242UL, e.Owner);
    }

    [Fact]
    public void V6_Ipv4Mapped()
    {
        Assert.True(ProcNetParser.TryParseLine(V6Mapped, out SocketEntry e, out _));
        Assert.Equal(IPAddress.Parse("::ffff:127.0.0.1"), e.LocalAddress);
        Assert.Equal(8080, e.LocalPort);
        Assert.Equal(998, e.Uid);
    }

    [Theory]
    [InlineData(Header)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("garbage")]
    [InlineData("   0: 0100007Z:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345")] // bad hex
    [InlineData("   0: 0100007F:035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345")] // 3-digit port
    [InlineData("   0: 0100007F:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1")] // mixed families
    [InlineData("   0: 100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345")] // 7-digit address
    [InlineData("   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000    -1        0 12345")] // negative uid
    [InlineData("   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99999999999999999999999")] // inode overflow
    [InlineData("   x: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345")] // bad slot
    [InlineData("   0 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345")] // slot without colon
    public void Malformed_Fails(string line) => Assert.False(ProcNetParser.TryParseLine(line, out _, out _));

    [Theory]
    [InlineData(V4Listen)]
    [InlineData(V4Established)]
    [InlineData(V6Connected)]
    [InlineData(V6Mapped)]
    public void EveryTruncationBeforeTheInode_Fails(string line)
    {
        // The inode is field 10; any cut that loses part of the fields before it must fail cleanly.
        int inodeStart = NthFieldStart(line, 9);
        for (int cut = 0; cut < inodeStart; cut++)
        {
            Assert.False(ProcNetParser.TryParseLine(line.AsSpan(0, cut), out _, out _), $"cut at {cut}");
        }

        // Cutting inside the inode still yields a (shorter) number: that is how /proc would print a smaller one.
        Assert.True(ProcNetParser.TryParseLine(line.AsSpan(0, inodeStart + 1), out _, out _));
    }

    [Fact]
    public void RandomMutations_NeverThrow()
    {
        var rng = new Random(20261124);
        string[] seeds = [V4Listen, V4Established, V6Connected, V6Mapped];
        const string Alphabet = "0123456789ABCDEFabcdefxX: -\t\0";
        for (int i = 0; i < 5000; i++)
        {
            char[] chars = seeds[i % seeds.Length].ToCharArray();
            int edits = rng.Next(1, 6);
            for (int k = 0; k < edits; k++)
            {
                chars[rng.Next(chars.Length)] = Alphabet[rng.Next(Alphabet.Length)];
            }

            int length = rng.Next(chars.Length + 1);
            _ = ProcNetParser.TryParseLine(chars.AsSpan(0, length), out _, out _);
        }

        for (int i = 0; i < 2000; i++)
        {
            char[] chars = new char[rng.Next(0, 200)];
            for (int k = 0; k < chars.Length; k++)
            {
                chars[k] = (char)rng.Next(0, 128);
            }

            _ = ProcNetParser.TryParseLine(chars, out _, out _);
        }
    }

    /// <summary>Any socket formatted the kernel's way parses back to itself.</summary>
    [Property(MaxTest = 500)]
    public Property FormattedSocket_RoundTrips(bool v6, byte[] localSeed, byte[] remoteSeed, ushort localPort, ushort remotePort, NonNegativeInt uid, uint inode)
    {
        byte[] local = Fit(localSeed, v6 ? 16 : 4);
        byte[] remote = Fit(remoteSeed, v6 ? 16 : 4);
        string line = string.Create(CultureInfo.InvariantCulture, $"  7: {Hex(local)}:{localPort:X4} {Hex(remote)}:{remotePort:X4} 01 00000000:00000000 00:00000000 00000000 {uid.Get,5}        0 {inode} 1 0000000000000000 20");
        bool ok = ProcNetParser.TryParseLine(line, out SocketEntry e, out _);
        return (ok
            && e.LocalAddress.Equals(new IPAddress(local)) && e.LocalPort == localPort
            && e.RemoteAddress.Equals(new IPAddress(remote)) && e.RemotePort == remotePort
            && e.Uid == uid.Get && e.Owner == inode).Label(line);
    }

    private static byte[] Fit(byte[] seed, int length)
    {
        byte[] result = new byte[length];
        seed.AsSpan(0, Math.Min(seed.Length, length)).CopyTo(result);
        return result;
    }

    // The kernel prints each in-memory 32-bit word with %08X on a little-endian host.
    private static string Hex(byte[] address)
    {
        var sb = new System.Text.StringBuilder();
        for (int w = 0; w < address.Length; w += 4)
        {
            sb.Append(BinaryPrimitives.ReadUInt32LittleEndian(address.AsSpan(w, 4)).ToString("X8", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    private static int NthFieldStart(string line, int n)
    {
        int field = -1;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] != ' ' && (i == 0 || line[i - 1] == ' ') && ++field == n)
            {
                return i;
            }
        }

        throw new ArgumentException("too few fields", nameof(line));
    }
}
