using DnsWarden.Wire.Packets;
using static DnsWarden.Wire.Tests.Packets.TunPackets;

namespace DnsWarden.Wire.Tests.Packets;

public sealed class TunAllocationTests
{
    [Fact]
    public void Match_TryRead_and_the_writers_allocate_nothing()
    {
        var table = new DestinationRuleTable();
        table.Add(ServerV4, 0);
        table.Add(ServerV6, 1);
        byte[] miss4 = Tcp(ClientV4, ClientV4, 1, 443, 1, 0, Wire.Transport.TcpFlags.Syn);
        byte[] hit4 = UdpV4();
        byte[] hit6 = UdpV6();
        byte[] syn6 = TcpV6();
        byte[] answer = new byte[100];
        byte[] buffer = new byte[2048];

        int sink = Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sink += Run();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);

        int Run()
        {
            int s = table.Match(miss4) + table.Match(hit4) + table.Match(hit6) + table.Match(syn6);
            foreach (byte[] p in (ReadOnlySpan<byte[]>)[miss4, hit4, hit6, syn6])
            {
                if (IpPacket.TryRead(p, out IpPacketInfo info, out _))
                {
                    s += info.DestinationPort;
                    s += IpReplyWriter.TryWriteUdpReply(info, answer, buffer, out int n) ? n : 0;
                    s += IpReplyWriter.TryWriteTcpReset(info, buffer, out n) ? n : 0;
                    s += IpReplyWriter.TryWriteUnreachable(p, info, UnreachableKind.PortUnreachable, buffer, out n) ? n : 0;
                }
            }

            return s;
        }
    }
}
