using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using DnsWarden.Platform.Sockets;

namespace DnsWarden.Platform.Tests.Sockets;

/// <summary>recvmmsg and sendmmsg over real loopback sockets in this process.</summary>
[SupportedOSPlatform("linux")]
public sealed class UdpBatchTests
{
    private const int Senders = 4;
    private const int PerSender = 8;

    public UdpBatchTests()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("recvmmsg/sendmmsg are Linux system calls");
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Receive_TakesAQueuedBatchFromSeveralSenders_WithEachSendersAddressAndBytes(string loopback)
    {
        IPAddress address = IPAddress.Parse(loopback);
        using Socket receiver = Bound(address);
        var senders = new Socket[Senders];
        try
        {
            for (int s = 0; s < Senders; s++)
            {
                senders[s] = Bound(address);
            }

            // Interleaved, so one batch holds every sender's datagrams in the order they were sent.
            for (int n = 0; n < PerSender; n++)
            {
                for (int s = 0; s < Senders; s++)
                {
                    senders[s].SendTo(Payload(s, n), receiver.LocalEndPoint!);
                }
            }

            using var batch = new UdpBatch(Senders * PerSender, 512);
            int received = batch.Receive(receiver);

            // Loopback queues every datagram before SendTo returns: one call takes all 32.
            Assert.Equal(Senders * PerSender, received);
            Assert.Equal(received, batch.Count);
            for (int i = 0; i < received; i++)
            {
                int s = i % Senders;
                int n = i / Senders;
                Assert.Equal(Payload(s, n), batch.Datagram(i).ToArray());
                IPEndPoint from = EndPointOf(batch.Address(i));
                Assert.Equal((IPEndPoint)senders[s].LocalEndPoint!, from);
            }
        }
        finally
        {
            foreach (Socket? s in senders)
            {
                s?.Dispose();
            }
        }
    }

    [Fact]
    public void Receive_TakesAtMostCapacity_AndTheRestNextCall()
    {
        using Socket receiver = Bound(IPAddress.Loopback);
        using Socket sender = Bound(IPAddress.Loopback);
        for (int n = 0; n < 5; n++)
        {
            sender.SendTo(Payload(0, n), receiver.LocalEndPoint!);
        }

        using var batch = new UdpBatch(3, 64);
        Assert.Equal(3, batch.Receive(receiver));
        Assert.Equal(Payload(0, 2), batch.Datagram(2).ToArray());
        Assert.Equal(2, batch.Receive(receiver));
        Assert.Equal(Payload(0, 3), batch.Datagram(0).ToArray());
        Assert.Equal(Payload(0, 4), batch.Datagram(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Datagram(2).Length);
    }

    [Fact]
    public void Receive_ReturnsNothing_WhenTheReceiveTimeoutPasses()
    {
        using Socket receiver = Bound(IPAddress.Loopback);
        receiver.ReceiveTimeout = 20;
        using var batch = new UdpBatch(4, 64);
        Assert.Equal(0, batch.Receive(receiver));
        Assert.Equal(0, batch.Count);
    }

    [Fact]
    public void Receive_OnAClosedSocket_SaysItIsClosed()
    {
        Socket receiver = Bound(IPAddress.Loopback);
        receiver.Dispose();
        using var batch = new UdpBatch(4, 64);
        Assert.Throws<ObjectDisposedException>(() => batch.Receive(receiver));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Send_DeliversTheWholeBatch_EachDatagramToItsAddress(string loopback)
    {
        IPAddress address = IPAddress.Parse(loopback);
        using Socket sender = Bound(address);
        var receivers = new Socket[Senders];
        try
        {
            for (int r = 0; r < Senders; r++)
            {
                receivers[r] = Bound(address);
                receivers[r].ReceiveTimeout = 5000;
            }

            using var batch = new UdpBatch(Senders * PerSender, 512);
            for (int n = 0; n < PerSender; n++)
            {
                for (int r = 0; r < Senders; r++)
                {
                    SocketAddress to = receivers[r].LocalEndPoint!.Serialize();
                    Assert.True(batch.TryAdd(Payload(r, n), to.Buffer.Span[..to.Size]));
                }
            }

            Assert.False(batch.TryAdd(Payload(0, 0), receivers[0].LocalEndPoint!.Serialize().Buffer.Span), "the batch is full");
            Assert.Equal(Senders * PerSender, batch.Send(sender));
            Assert.Equal(0, batch.Count);

            var buffer = new byte[512];
            for (int r = 0; r < Senders; r++)
            {
                for (int n = 0; n < PerSender; n++)
                {
                    EndPoint from = new IPEndPoint(address, 0);
                    int length = receivers[r].ReceiveFrom(buffer, ref from);
                    Assert.Equal(Payload(r, n), buffer[..length]);
                    Assert.Equal(sender.LocalEndPoint, from);
                }

                Assert.Equal(0, receivers[r].Available);
            }
        }
        finally
        {
            foreach (Socket? r in receivers)
            {
                r?.Dispose();
            }
        }
    }

    [Fact]
    public void Send_OnAConnectedSocket_NeedsNoAddress()
    {
        using Socket receiver = Bound(IPAddress.Loopback);
        receiver.ReceiveTimeout = 5000;
        using Socket sender = Bound(IPAddress.Loopback);
        sender.Connect(receiver.LocalEndPoint!);
        using var batch = new UdpBatch(2, 64);
        Assert.True(batch.TryAdd(Payload(1, 1), []));
        Assert.True(batch.TryAdd(Payload(1, 2), []));
        Assert.Equal(2, batch.Send(sender));

        using var inbox = new UdpBatch(4, 64);
        Assert.Equal(2, inbox.Receive(receiver));
        Assert.Equal(Payload(1, 2), inbox.Datagram(1).ToArray());
    }

    [Fact]
    public void TryAdd_RefusesWhatDoesNotFit()
    {
        using var batch = new UdpBatch(2, 8);
        Assert.False(batch.TryAdd(new byte[9], []));
        Assert.False(batch.TryAdd(new byte[4], new byte[UdpBatch.AddressCapacity + 1]));
        Assert.Equal(0, batch.Count);
    }

    private static Socket Bound(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    private static byte[] Payload(int sender, int sequence) => [(byte)sender, (byte)sequence, 0xD5, (byte)(sender ^ sequence)];

    /// <summary>sockaddr_in (family, port at 2, address at 4) or sockaddr_in6 (port at 2, address at 8).</summary>
    private static IPEndPoint EndPointOf(ReadOnlySpan<byte> sockaddr)
    {
        int port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        return sockaddr.Length == 16
            ? new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), port)
            : new IPEndPoint(new IPAddress(sockaddr.Slice(8, 16)), port);
    }
}
