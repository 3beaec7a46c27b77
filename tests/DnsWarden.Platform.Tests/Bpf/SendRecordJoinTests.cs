using System.Diagnostics;
using System.Net;
using System.Text;
using DnsWarden.Platform.Interop.Linux.Bpf;

namespace DnsWarden.Platform.Tests.Bpf;

/// <summary>
/// The join of the kernel's send records to the packets the capture sees: by namespace, protocol, destination and
/// both ports; IPv4 as ::ffff:a.b.c.d on both sides; another namespace's identical 5-tuple never matches.
/// </summary>
public sealed class SendRecordJoinTests
{
    private const ulong OurNetns = 4096;
    private const ulong OtherNetns = 8192;

    private static readonly ProcessFacts s_dig = new(100, "dig", "/usr/bin/dig", 0, "dig", []);
    private static readonly ProcessFacts s_decoy = new(200, "decoy", null, 0, null, []);

    [Theory]
    [InlineData("203.0.113.1", SocketProtocol.Udp)]
    [InlineData("203.0.113.1", SocketProtocol.Tcp)]
    [InlineData("2001:db8::53", SocketProtocol.Udp)]
    [InlineData("::ffff:203.0.113.1", SocketProtocol.Udp)]
    public void RecordKey_EqualsPacketKey(string destination, SocketProtocol protocol)
    {
        IPAddress dst = IPAddress.Parse(destination);
        DnswSendRecord record = Record(OurNetns, dst, 53, 40001, protocol == SocketProtocol.Tcp ? (byte)6 : (byte)17);

        // A packet names the IPv4 address as IPv4 even when the socket was a dual-stack one: both sides meet as ::ffff:a.b.c.d.
        IPAddress seen = dst.IsIPv4MappedToIPv6 ? dst.MapToIPv4() : dst;
        Assert.Equal(SendFlowKey.Of(in record), SendFlowKey.Of(OurNetns, protocol, seen, 53, 40001));
    }

    [Fact]
    public void Join_FindsTheSender_ByBothPortsAndProtocol()
    {
        var table = new SendRecordTable(OurNetns, 16, TimeSpan.FromMinutes(1));
        long now = Stopwatch.GetTimestamp();
        IPAddress dst = IPAddress.Parse("203.0.113.1");
        Assert.True(table.Add(KeyOf(Record(OurNetns, dst, 53, 40001, 17)), s_dig, now));

        Assert.True(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, 40001), now, out ProcessFacts? found));
        Assert.Same(s_dig, found);
        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, 40002), now, out _));
        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Tcp, dst, 53, 40001), now, out _));
        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 54, 40001), now, out _));
        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, IPAddress.Parse("203.0.113.2"), 53, 40001), now, out _));
    }

    [Fact]
    public void AnotherNamespace_SameFiveTuple_IsNeverJoined()
    {
        var table = new SendRecordTable(OurNetns, 16, TimeSpan.FromMinutes(1));
        long now = Stopwatch.GetTimestamp();
        IPAddress dst = IPAddress.Parse("203.0.113.1");
        Assert.False(table.Add(KeyOf(Record(OtherNetns, dst, 53, 40001, 17)), s_decoy, now));

        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, 40001), now, out _));
        Assert.Equal(1, table.OtherNamespaces);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void ANewerRecord_ForTheSameFlow_ReplacesTheOlder()
    {
        var table = new SendRecordTable(OurNetns, 16, TimeSpan.FromMinutes(1));
        long now = Stopwatch.GetTimestamp();
        SendFlowKey key = SendFlowKey.Of(OurNetns, SocketProtocol.Udp, IPAddress.Parse("203.0.113.1"), 53, 40001);
        table.Add(key, s_decoy, now);
        table.Add(key, s_dig, now + 1);
        Assert.True(table.TryFind(key, now + 1, out ProcessFacts? found));
        Assert.Same(s_dig, found);
    }

    [Fact]
    public void ARecord_PastItsLifetime_AnswersNothing()
    {
        var table = new SendRecordTable(OurNetns, 16, TimeSpan.FromSeconds(1));
        long now = Stopwatch.GetTimestamp();
        SendFlowKey key = SendFlowKey.Of(OurNetns, SocketProtocol.Udp, IPAddress.Parse("203.0.113.1"), 53, 40001);
        table.Add(key, s_dig, now);
        Assert.True(table.TryFind(key, now + Stopwatch.Frequency / 2, out _));
        Assert.False(table.TryFind(key, now + (2 * Stopwatch.Frequency), out _));
    }

    [Fact]
    public void AFullTable_StaysWithinItsCapacity_KeepingTheNewest()
    {
        var table = new SendRecordTable(OurNetns, 64, TimeSpan.FromMinutes(1));
        long now = Stopwatch.GetTimestamp();
        IPAddress dst = IPAddress.Parse("203.0.113.1");
        for (ushort port = 1; port <= 1000; port++)
        {
            table.Add(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, port), s_dig, now + port);
            Assert.True(table.Count <= 64);
        }

        Assert.True(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, 1000), now + 1000, out _));
        Assert.False(table.TryFind(SendFlowKey.Of(OurNetns, SocketProtocol.Udp, dst, 53, 1), now + 1000, out _));
    }

    [Fact]
    public void Facts_NameTheProcess_ByItsLeader_AndKeepTheThread()
    {
        DnswSendRecord r = Record(OurNetns, IPAddress.Parse("203.0.113.1"), 53, 40001, 17);
        Comm("isc-net-0000", ref r.Thread);
        Comm("dig", ref r.Process);
        r.Tgid = 300;
        r.Pid = 302;
        r.Uid = 1000;
        r.Gid = 1001;
        r.CgroupId = 77;
        r.Ancestors[0].Tgid = 250;
        Comm("bash", ref r.Ancestors[0].Comm);
        r.Ancestors[1].Tgid = 1;
        Comm("init", ref r.Ancestors[1].Comm);

        ProcessFacts gone = SendRecordFacts.FromRecord(in r, live: null, cgroup: null, user: "alice", moreParents: null);
        Assert.Equal((300, "dig", 302, "isc-net-0000", 1000, 1001, "alice"), (gone.Pid, gone.Name, gone.Tid, gone.Thread, gone.Uid, gone.Gid, gone.User));
        Assert.Null(gone.Exe);
        Assert.Equal([new ProcessAncestorFacts(250, "bash"), new ProcessAncestorFacts(1, "init")], gone.Parents);
        Assert.Equal(77UL, gone.Cgroup!.Id);

        // Alive when the record was read: /proc adds the executable and the command line.
        var live = new ProcessFacts(300, "dig", "/usr/bin/dig", 1000, "dig @203.0.113.1 x", [new ProcessAncestorFacts(250, "bash")]);
        ProcessFacts alive = SendRecordFacts.FromRecord(in r, live, null, null, null);
        Assert.Equal(("/usr/bin/dig", "dig @203.0.113.1 x"), (alive.Exe, alive.CommandLine));

        // The pid already reused by another program: its /proc facts are not this sender's.
        var reused = new ProcessFacts(300, "sshd", "/usr/sbin/sshd", 0, "sshd", []);
        ProcessFacts notReused = SendRecordFacts.FromRecord(in r, reused, null, null, null);
        Assert.Equal("dig", notReused.Name);
        Assert.Null(notReused.Exe);
    }

    private static SendFlowKey KeyOf(DnswSendRecord r) => SendFlowKey.Of(in r);

    private static DnswSendRecord Record(ulong netns, IPAddress destination, ushort dport, ushort sport, byte protocol)
    {
        DnswSendRecord r = default;
        r.Key.Netns = netns;
        r.Key.DestinationPort = dport;
        r.Key.SourcePort = sport;
        r.Key.Protocol = protocol;
        SendFlowKey.WriteMapped(destination, r.Key.DestinationAddress);
        return r;
    }

    private static void Comm(string text, ref Bytes16 comm) => Encoding.ASCII.GetBytes(text).CopyTo((Span<byte>)comm);
}
