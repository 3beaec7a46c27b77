using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Transport;
using static DnsWarden.Wire.Tests.Packets.TunPackets;

namespace DnsWarden.Wire.Tests.Packets;

public sealed class DestinationRuleTableTests
{
    [Fact]
    public void Add_remove_count_and_match()
    {
        var table = new DestinationRuleTable();
        Assert.Equal(0, table.Count);
        Assert.Equal(-1, table.Match(UdpV4()));
        Assert.True(table.Add(ServerV4, 0));
        Assert.True(table.Add(ServerV6, 7));
        Assert.False(table.Add(ServerV4, 3));
        Assert.Equal(2, table.Count);

        Assert.Equal(0, table.Match(UdpV4()));
        Assert.Equal(0, table.Match(TcpV4()));
        Assert.Equal(7, table.Match(UdpV6()));
        Assert.Equal(7, table.Match(TcpV6()));
        Assert.Equal(-1, table.Match(Udp(ServerV4, ClientV4, 53, 40000, "x"u8)));
        Assert.Equal(-1, table.Match(Udp(ServerV6, ClientV6, 53, 40000, "x"u8)));
        Assert.Equal(0, table.Lookup(ServerV4));
        Assert.Equal(7, table.Lookup(ServerV6));
        Assert.Equal(-1, table.Lookup(ClientV4));

        Assert.True(table.Remove(ServerV4));
        Assert.False(table.Remove(ServerV4));
        Assert.Equal(1, table.Count);
        Assert.Equal(-1, table.Match(UdpV4()));
        Assert.Equal(7, table.Match(UdpV6()));
        Assert.True(table.Remove(ServerV6));
        Assert.Equal(0, table.Count);
        Assert.Equal(-1, table.Match(UdpV6()));
    }

    [Fact]
    public void Negative_service_is_an_argument_error()
    {
        var table = new DestinationRuleTable();
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Add(ServerV4, -1));
    }

    [Fact]
    public void Remove_from_the_middle_keeps_the_others()
    {
        var table = new DestinationRuleTable();
        IpAddr[] addresses = Enumerable.Range(1, 5).Select(i => IpAddr.FromV4(0x0A1E1E00u + (uint)i)).ToArray();
        for (int i = 0; i < addresses.Length; i++)
        {
            Assert.True(table.Add(addresses[i], i));
        }

        Assert.True(table.Remove(addresses[2]));
        for (int i = 0; i < addresses.Length; i++)
        {
            Assert.Equal(i == 2 ? -1 : i, table.Match(Udp(ClientV4, addresses[i], 1, 53, [])));
        }
    }

    [Fact]
    public void Short_and_unknown_version_inputs_match_nothing()
    {
        var table = new DestinationRuleTable();
        table.Add(IpAddr.FromV4(0), 1);
        table.Add(IpAddr.FromV6(0, 0), 2);
        Assert.Equal(-1, table.Match([]));
        Assert.Equal(-1, table.Match(new byte[19] { 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }));
        Assert.Equal(1, table.Match([0x45, .. new byte[19]]));
        Assert.Equal(-1, table.Match([0x60, .. new byte[38]]));
        Assert.Equal(2, table.Match([0x60, .. new byte[39]]));
        Assert.Equal(-1, table.Match([0x50, .. new byte[59]]));
        Assert.Equal(-1, table.Match(new byte[60]));
    }

    [Fact]
    public void V4_rules_do_not_match_ipv6_packets_to_v4_mapped_addresses()
    {
        var table = new DestinationRuleTable();
        table.Add(ServerV4, 4);
        byte[] p = new byte[48];
        Assert.True(IpHeaderWriter.TryWriteIpv6Header(p, ClientV6, ServerV4, IpProtocol.NoNextHeader, 8, out _));
        Assert.Equal(-1, table.Match(p));
        Assert.True(IpPacket.TryRead(p, out IpPacketInfo info, out _));
        Assert.True(info.Destination.IsV4);
        Assert.Equal(4, table.Lookup(info.Destination));
        Assert.Equal(-1, table.Lookup(info));
    }

    [Fact]
    public void Match_agrees_with_TryRead_over_random_packets()
    {
        var rng = new Random(99);
        var table = new DestinationRuleTable();
        IpAddr[] pool = [.. Enumerable.Range(0, 6).Select(_ => RandomV4(rng)), .. Enumerable.Range(0, 6).Select(_ => RandomV6(rng))];
        for (int i = 0; i < pool.Length; i += 2)
        {
            table.Add(pool[i], i);
        }

        int matched = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] p = rng.Next(4) == 0 ? RandomPacket(rng, 64) : RandomPacket(rng, 64, pool[rng.Next(pool.Length)]);
            Assert.True(IpPacket.TryRead(p, out IpPacketInfo info, out _));
            int expected = table.Lookup(info);
            Assert.Equal(expected, table.Match(p));
            matched += expected >= 0 ? 1 : 0;
        }

        Assert.InRange(matched, 500, 2500);
    }

    /// <summary>
    /// Readers run while rules come and go. Each address only ever maps to its own service, so any snapshot a
    /// reader sees must give either that service or -1, never another rule's service or a torn read.
    /// </summary>
    [Fact]
    public void Concurrent_readers_see_whole_rules_while_rules_change()
    {
        var rng = new Random(5);
        IpAddr[] pool = [.. Enumerable.Range(0, 8).Select(_ => RandomV4(rng)), .. Enumerable.Range(0, 8).Select(_ => RandomV6(rng))];
        byte[][] packets = pool.Select(a => RandomPacket(rng, 32, a)).ToArray();
        var table = new DestinationRuleTable();
        using var stop = new CancellationTokenSource();
        int readerFailures = 0;
        long reads = 0;
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                for (int i = 0; i < packets.Length; i++)
                {
                    int s = table.Match(packets[i]);
                    if (s != -1 && s != i)
                    {
                        Interlocked.Increment(ref readerFailures);
                    }

                    n++;
                }
            }

            Interlocked.Add(ref reads, n);
        })).ToArray();
        foreach (Thread t in readers)
        {
            t.Start();
        }

        for (int round = 0; round < 20000; round++)
        {
            int i = rng.Next(pool.Length);
            if (rng.Next(2) == 0)
            {
                table.Add(pool[i], i);
            }
            else
            {
                table.Remove(pool[i]);
            }
        }

        stop.Cancel();
        foreach (Thread t in readers)
        {
            t.Join();
        }

        Assert.Equal(0, readerFailures);
        Assert.True(reads > 0);
        for (int i = 0; i < packets.Length; i++)
        {
            Assert.True(IpPacket.TryRead(packets[i], out IpPacketInfo info, out _));
            Assert.Equal(table.Lookup(info), table.Match(packets[i]));
        }
    }
}
