using System.Buffers.Binary;
using System.Net;

namespace DnsWarden.Platform.Tests;

/// <summary>Crafted MIB_*ROW_OWNER_PID tables (tcpmib.h, udpmib.h) as GetExtendedTcpTable/GetExtendedUdpTable fill them on Windows.</summary>
public sealed class IpHelperTableParserTests
{
    [Fact]
    public void RowSizes_MatchTheWindowsHeaders()
    {
        Assert.Equal(24, IpHelperTableParser.Tcp4RowSize); // 6 DWORDs
        Assert.Equal(56, IpHelperTableParser.Tcp6RowSize); // 2×16-byte address + 6 DWORDs
        Assert.Equal(12, IpHelperTableParser.Udp4RowSize); // 3 DWORDs
        Assert.Equal(28, IpHelperTableParser.Udp6RowSize); // 16-byte address + 3 DWORDs
    }

    [Fact]
    public void Tcp4_TwoRows()
    {
        byte[] buffer = Table(2, IpHelperTableParser.Tcp4RowSize);
        Tcp4Row(buffer.AsSpan(4), 5, "127.0.0.1", 51000, "127.0.0.1", 853, 4242);
        Tcp4Row(buffer.AsSpan(4 + 24), 2, "0.0.0.0", 53, "0.0.0.0", 0, 7);
        var entries = new List<SocketEntry>();
        Assert.True(IpHelperTableParser.TryParse(buffer, IpHelperTableKind.Tcp4, entries));
        Assert.Equal(2, entries.Count);
        Assert.Equal(new SocketEntry(IPAddress.Loopback, 51000, IPAddress.Loopback, 853, 4242, -1), entries[0]);
        Assert.Equal(53, entries[1].LocalPort);
        Assert.Equal(7UL, entries[1].Owner);
        Assert.Equal(5u, IpHelperTableParser.TcpState(buffer.AsSpan(4, 24), IpHelperTableKind.Tcp4));
    }

    [Fact]
    public void Tcp6_Row_WithScope()
    {
        byte[] buffer = Table(1, IpHelperTableParser.Tcp6RowSize);
        Span<byte> row = buffer.AsSpan(4);
        IPAddress.Parse("fe80::1").TryWriteBytes(row[..16], out _);
        BinaryPrimitives.WriteUInt32LittleEndian(row[16..], 12); // dwLocalScopeId
        PortDword(row[20..], 50000);
        IPAddress.Parse("2001:db8::53").TryWriteBytes(row.Slice(24, 16), out _);
        PortDword(row[44..], 443);
        BinaryPrimitives.WriteUInt32LittleEndian(row[48..], 5); // dwState ESTAB
        BinaryPrimitives.WriteUInt32LittleEndian(row[52..], 999);
        var entries = new List<SocketEntry>();
        Assert.True(IpHelperTableParser.TryParse(buffer, IpHelperTableKind.Tcp6, entries));
        SocketEntry e = Assert.Single(entries);
        Assert.Equal(IPAddress.Parse("fe80::1%12"), e.LocalAddress);
        Assert.Equal(50000, e.LocalPort);
        Assert.Equal(IPAddress.Parse("2001:db8::53"), e.RemoteAddress);
        Assert.Equal(443, e.RemotePort);
        Assert.Equal(999UL, e.Owner);
        Assert.Equal(5u, IpHelperTableParser.TcpState(row[..56], IpHelperTableKind.Tcp6));
    }

    [Fact]
    public void Udp4_And_Udp6_Rows()
    {
        byte[] v4 = Table(1, IpHelperTableParser.Udp4RowSize);
        IPAddress.Parse("192.168.1.10").TryWriteBytes(v4.AsSpan(4, 4), out _);
        PortDword(v4.AsSpan(8), 5353);
        BinaryPrimitives.WriteUInt32LittleEndian(v4.AsSpan(12), 31337);

        byte[] v6 = Table(1, IpHelperTableParser.Udp6RowSize);
        IPAddress.IPv6Loopback.TryWriteBytes(v6.AsSpan(4, 16), out _);
        PortDword(v6.AsSpan(24), 53);
        BinaryPrimitives.WriteUInt32LittleEndian(v6.AsSpan(28), 4);

        var entries = new List<SocketEntry>();
        Assert.True(IpHelperTableParser.TryParse(v4, IpHelperTableKind.Udp4, entries));
        Assert.True(IpHelperTableParser.TryParse(v6, IpHelperTableKind.Udp6, entries));
        Assert.Equal(new SocketEntry(IPAddress.Parse("192.168.1.10"), 5353, IPAddress.Any, 0, 31337, -1), entries[0]);
        Assert.Equal(new SocketEntry(IPAddress.IPv6Loopback, 53, IPAddress.IPv6Any, 0, 4, -1), entries[1]);
    }

    [Fact]
    public void PortIsTheLowSixteenBitsInNetworkOrder()
    {
        // dwLocalPort = 0x0000_3500 read little-endian: bytes 00 35 00 00 → port 0x0035 = 53.
        byte[] buffer = Table(1, IpHelperTableParser.Udp4RowSize);
        buffer[8] = 0x00;
        buffer[9] = 0x35;
        buffer[10] = 0xAB; // high half is garbage the API leaves undefined
        buffer[11] = 0xCD;
        var entries = new List<SocketEntry>();
        Assert.True(IpHelperTableParser.TryParse(buffer, IpHelperTableKind.Udp4, entries));
        Assert.Equal(53, entries[0].LocalPort);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryProperPrefix_Fails_AndEmptyTableParses(int kindNumber)
    {
        var kind = (IpHelperTableKind)kindNumber;
        int rowSize = IpHelperTableParser.RowSize(kind);
        byte[] buffer = Table(2, rowSize);
        for (int cut = 0; cut < buffer.Length; cut++)
        {
            var entries = new List<SocketEntry>();
            Assert.False(IpHelperTableParser.TryParse(buffer.AsSpan(0, cut), kind, entries), $"cut {cut}");
            Assert.Empty(entries);
        }

        Assert.True(IpHelperTableParser.TryParse(Table(0, rowSize), kind, []));
    }

    [Fact]
    public void HugeEntryCount_Fails()
    {
        byte[] buffer = Table(1, IpHelperTableParser.Tcp4RowSize);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, uint.MaxValue);
        Assert.False(IpHelperTableParser.TryParse(buffer, IpHelperTableKind.Tcp4, []));
    }

    [Fact]
    public void RandomBuffers_NeverThrow()
    {
        var rng = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            byte[] buffer = new byte[rng.Next(0, 300)];
            rng.NextBytes(buffer);
            if (buffer.Length >= 4 && rng.Next(2) == 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)rng.Next(0, 12));
            }

            _ = IpHelperTableParser.TryParse(buffer, (IpHelperTableKind)(i % 4), []);
        }
    }

    private static byte[] Table(int rows, int rowSize)
    {
        byte[] buffer = new byte[4 + (rows * rowSize)];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)rows);
        return buffer;
    }

    private static void Tcp4Row(Span<byte> row, uint state, string local, ushort localPort, string remote, ushort remotePort, uint pid)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(row, state);
        IPAddress.Parse(local).TryWriteBytes(row.Slice(4, 4), out _);
        PortDword(row[8..], localPort);
        IPAddress.Parse(remote).TryWriteBytes(row.Slice(12, 4), out _);
        PortDword(row[16..], remotePort);
        BinaryPrimitives.WriteUInt32LittleEndian(row[20..], pid);
    }

    private static void PortDword(Span<byte> dword, ushort port)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dword, port);
        dword[2] = 0;
        dword[3] = 0;
    }
}
