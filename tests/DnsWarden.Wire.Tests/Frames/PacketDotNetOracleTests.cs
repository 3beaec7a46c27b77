using System.Net;
using System.Net.NetworkInformation;
using DnsWarden.Wire.Checksums;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;
using FsCheck.Xunit;
using PacketDotNet;
using IpProtocol = DnsWarden.Wire.Ip.IpProtocol;

namespace DnsWarden.Wire.Tests.Frames;

/// <summary>PacketDotNet builds and dissects the same bytes; every field we decode must agree with it.</summary>
public sealed class PacketDotNetOracleTests
{
    private static readonly ushort[] s_interestingPorts = [53, 853, 443, 80, 8443, 5353, 5355, 22, 1024, 65535];

    /// <summary>
    /// FsCheck drives the seed; the packet shape comes from a Random on that seed so every field is varied
    /// within legal bounds. Fixed replay seed keeps runs reproducible.
    /// </summary>
    [Property(MaxTest = 1500, Replay = "(20240531,1071)")]
    public void Random_packets_decode_like_PacketDotNet(int seed)
    {
        var rng = new Random(seed);
        bool v6 = rng.Next(2) == 0;
        bool tcp = rng.Next(2) == 0;
        ushort sp = rng.Next(3) == 0 ? s_interestingPorts[rng.Next(s_interestingPorts.Length)] : (ushort)rng.Next(65536);
        ushort dp = rng.Next(2) == 0 ? s_interestingPorts[rng.Next(s_interestingPorts.Length)] : (ushort)rng.Next(65536);
        var payload = new byte[rng.Next(0, 300)];
        rng.NextBytes(payload);
        IPAddress src = RandomAddress(rng, v6);
        IPAddress dst = RandomAddress(rng, v6);
        byte ttl = (byte)rng.Next(1, 256);

        IPPacket ip = v6
            ? new IPv6Packet(src, dst) { HopLimit = ttl }
            : new IPv4Packet(src, dst) { TimeToLive = ttl, Id = (ushort)rng.Next(65536) };
        TransportPacket transport;
        if (tcp)
        {
            var t = new TcpPacket(sp, dp)
            {
                SequenceNumber = (uint)rng.NextInt64(0, uint.MaxValue + 1L),
                AcknowledgmentNumber = (uint)rng.NextInt64(0, uint.MaxValue + 1L),
                WindowSize = (ushort)rng.Next(65536),
                PayloadData = payload,
            };
            t.Synchronize = rng.Next(2) == 0;
            t.Acknowledgment = rng.Next(2) == 0;
            t.Push = rng.Next(2) == 0;
            t.Reset = rng.Next(2) == 0;
            t.Finished = rng.Next(2) == 0;
            t.Urgent = rng.Next(2) == 0;
            t.CongestionWindowReduced = rng.Next(2) == 0;
            t.ExplicitCongestionNotificationEcho = rng.Next(2) == 0;
            transport = t;
        }
        else
        {
            transport = new UdpPacket(sp, dp) { PayloadData = payload };
        }

        var eth = new EthernetPacket(PhysicalAddress.Parse("00-11-22-33-44-55"), PhysicalAddress.Parse("66-77-88-99-AA-BB"), v6 ? EthernetType.IPv6 : EthernetType.IPv4)
        {
            PayloadPacket = ip,
        };
        ip.PayloadPacket = transport;
        eth.UpdateCalculatedValues();
        if (ip is IPv4Packet v4Packet)
        {
            v4Packet.UpdateIPChecksum();
        }

        if (transport is TcpPacket tcpPacket)
        {
            tcpPacket.UpdateTcpChecksum();
        }
        else
        {
            ((UdpPacket)transport).UpdateUdpChecksum();
        }

        byte[] frame = eth.Bytes;
        int vlanTags = rng.Next(4) == 0 ? rng.Next(1, 3) : 0;
        ushort vlanId = (ushort)rng.Next(1, 4095);
        for (int i = 0; i < vlanTags; i++)
        {
            // Insert an 802.1Q tag after the MACs; the original EtherType moves behind it.
            frame = [.. frame.AsSpan(0, 12), 0x81, 0x00, (byte)(vlanId >> 8), (byte)vlanId, .. frame.AsSpan(12)];
        }

        // Dissect the final bytes with PacketDotNet and compare.
        Packet parsed = Packet.ParsePacket(LinkLayers.Ethernet, frame);
        IPPacket oip = parsed.Extract<IPPacket>();
        Assert.NotNull(oip);

        Assert.True(PacketDecoder.TryDecode(LinkType.Ethernet, frame, out DecodedPacket p), p.Error.ToString());
        Assert.Equal(vlanTags, p.VlanCount);
        Assert.Equal(vlanTags > 0 ? vlanId : 0, p.OuterVlanId);
        Assert.Equal(v6 ? 6 : 4, p.IpVersion);
        Assert.Equal(v6 ? Wire.Frames.EtherType.Ipv6 : Wire.Frames.EtherType.Ipv4, p.EtherType);
        Assert.Equal(IpAddr.FromIPAddress(oip.SourceAddress), p.Source);
        Assert.Equal(IpAddr.FromIPAddress(oip.DestinationAddress), p.Destination);
        Assert.Equal((byte)oip.Protocol, (byte)p.IpProtocol);
        Assert.Equal(oip.TimeToLive, p.Ttl);
        Assert.Equal(14 + (4 * vlanTags), p.IpHeaderOffset);
        if (oip is IPv4Packet o4)
        {
            Assert.Equal(o4.Id, p.FragmentId);
            Assert.Equal(o4.HeaderLength * 4, p.IpPayloadOffset - p.IpHeaderOffset);
            Assert.Equal(o4.TotalLength - (o4.HeaderLength * 4), p.IpPayloadLength);
            Assert.Equal(o4.ValidIPChecksum ? ChecksumStatus.Valid : ChecksumStatus.Invalid, p.VerifyIpv4HeaderChecksum(frame));
        }
        else
        {
            Assert.Equal(((IPv6Packet)oip).PayloadLength, p.IpPayloadLength);
        }

        Assert.False(p.IsFragment);
        Assert.True(p.HasTransportHeader);
        if (tcp)
        {
            TcpPacket ot = parsed.Extract<TcpPacket>();
            Assert.Equal(ot.SourcePort, p.SourcePort);
            Assert.Equal(ot.DestinationPort, p.DestinationPort);
            Assert.Equal(ot.SequenceNumber, p.TcpSequence);
            Assert.Equal(ot.AcknowledgmentNumber, p.TcpAcknowledgment);
            Assert.Equal(ot.WindowSize, p.TcpWindow);
            Assert.Equal(ot.Synchronize, p.TcpFlags.HasFlag(TcpFlags.Syn));
            Assert.Equal(ot.Acknowledgment, p.TcpFlags.HasFlag(TcpFlags.Ack));
            Assert.Equal(ot.Push, p.TcpFlags.HasFlag(TcpFlags.Psh));
            Assert.Equal(ot.Reset, p.TcpFlags.HasFlag(TcpFlags.Rst));
            Assert.Equal(ot.Finished, p.TcpFlags.HasFlag(TcpFlags.Fin));
            Assert.Equal(ot.Urgent, p.TcpFlags.HasFlag(TcpFlags.Urg));
            Assert.Equal(ot.CongestionWindowReduced, p.TcpFlags.HasFlag(TcpFlags.Cwr));
            Assert.Equal(ot.ExplicitCongestionNotificationEcho, p.TcpFlags.HasFlag(TcpFlags.Ece));
            Assert.Equal(ot.PayloadData ?? [], p.Payload(frame).ToArray());
            Assert.Equal(ot.ValidTcpChecksum ? ChecksumStatus.Valid : ChecksumStatus.Invalid, p.VerifyTransportChecksum(frame));
        }
        else
        {
            UdpPacket ou = parsed.Extract<UdpPacket>();
            Assert.Equal(ou.SourcePort, p.SourcePort);
            Assert.Equal(ou.DestinationPort, p.DestinationPort);
            Assert.Equal(ou.Length - 8, p.PayloadLength);
            Assert.Equal(ou.PayloadData ?? [], p.Payload(frame).ToArray());
            Assert.True(ou.ValidUdpChecksum);
            Assert.Equal(ChecksumStatus.Valid, p.VerifyTransportChecksum(frame));
        }

        Assert.Equal(PortClassifier.Classify(p.IpProtocol, sp, dp), p.PortClass);
        Assert.True(PacketDecoder.TryClassify(LinkType.Ethernet, frame, out FlowKey5 key, out PortClass cls));
        Assert.Equal(p.FlowKey, key);
        Assert.Equal(p.PortClass, cls);
        Assert.True(PacketDecoder.TryGetDestination(LinkType.Ethernet, frame, out IpAddr destination));
        Assert.Equal(p.Destination, destination);
    }

    [Property(MaxTest = 500, Replay = "(768,9293)")]
    public void Built_packets_dissect_in_PacketDotNet(int seed)
    {
        var rng = new Random(seed);
        bool v6 = rng.Next(2) == 0;
        bool tcp = rng.Next(2) == 0;
        IpAddr src = IpAddr.FromIPAddress(RandomAddress(rng, v6));
        IpAddr dst = IpAddr.FromIPAddress(RandomAddress(rng, v6));
        var payload = new byte[rng.Next(0, 200)];
        rng.NextBytes(payload);
        ushort sp = (ushort)rng.Next(65536);
        ushort dp = (ushort)rng.Next(65536);
        var options = new IpHeaderOptions { TimeToLive = (byte)rng.Next(256), Identification = (ushort)rng.Next(65536), DontFragment = rng.Next(2) == 0 };
        var buffer = new byte[80 + payload.Length];
        int n;
        var flags = (TcpFlags)rng.Next(256);
        uint seq = (uint)rng.NextInt64(0, uint.MaxValue + 1L);
        Assert.True(tcp
            ? PacketBuilder.TryWriteTcpPacket(buffer, src, dst, sp, dp, seq, ~seq, flags, 512, payload, options, out n)
            : PacketBuilder.TryWriteUdpPacket(buffer, src, dst, sp, dp, payload, options, out n));

        Packet parsed = Packet.ParsePacket(LinkLayers.Raw, buffer.AsSpan(0, n).ToArray());
        IPPacket ip = parsed.Extract<IPPacket>();
        Assert.Equal(src.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(dst.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(options.TimeToLive, ip.TimeToLive);
        if (ip is IPv4Packet v4)
        {
            Assert.True(v4.ValidIPChecksum);
            Assert.Equal(options.Identification, v4.Id);
        }

        if (tcp)
        {
            TcpPacket t = parsed.Extract<TcpPacket>();
            Assert.True(t.ValidTcpChecksum);
            Assert.Equal(seq, t.SequenceNumber);
            Assert.Equal(~seq, t.AcknowledgmentNumber);
            Assert.Equal((byte)flags, (byte)t.Flags);
            Assert.Equal(payload, t.PayloadData ?? []);
        }
        else
        {
            UdpPacket u = parsed.Extract<UdpPacket>();
            Assert.True(u.ValidUdpChecksum);
            Assert.Equal(sp, u.SourcePort);
            Assert.Equal(dp, u.DestinationPort);
            Assert.Equal(payload, u.PayloadData ?? []);
        }
    }

    private static IPAddress RandomAddress(Random rng, bool v6)
    {
        var b = new byte[v6 ? 16 : 4];
        rng.NextBytes(b);
        if (v6 && b[0] == 0)
        {
            b[0] = 0x20; // keep clear of ::ffff:0:0/96, which IpAddr reads as IPv4
        }

        return new IPAddress(b);
    }
}
