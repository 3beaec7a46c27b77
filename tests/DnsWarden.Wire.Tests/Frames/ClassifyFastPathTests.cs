using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Wire.Tests.Frames;

/// <summary>
/// <see cref="PacketDecoder.TryClassify(LinkType, ReadOnlySpan{byte}, out FlowKey5, out PortClass, out DecodeError)"/>
/// takes a short path for common frames and hands the rest to the general path; both must give the same
/// answer (accept/reject, error, 5-tuple, port class) for every frame.
/// </summary>
public sealed class ClassifyFastPathTests
{
    private static void AssertAgrees(LinkType link, ReadOnlySpan<byte> frame)
    {
        bool fast = PacketDecoder.TryClassify(link, frame, out FlowKey5 k1, out PortClass c1, out DecodeError e1);
        bool general = PacketDecoder.ClassifyGeneral(link, frame, out FlowKey5 k2, out PortClass c2, out DecodeError e2);
        Assert.Equal(general, fast);
        Assert.Equal(e2, e1);
        Assert.Equal(k2, k1);
        Assert.Equal(c2, c1);

        bool shortForm = PacketDecoder.TryClassify(link, frame, out FlowKey5 k3, out PortClass c3);
        Assert.Equal(general, shortForm);
        Assert.Equal(k2, k3);
        Assert.Equal(c2, c3);
    }

    private static IEnumerable<(LinkType Link, byte[] Frame)> Seeds()
    {
        foreach ((LinkType link, byte[] frame) in TestFrames.Seeds())
        {
            yield return (link, frame);
        }

        // The shapes the short path is built for, including one 802.1Q tag and Ethernet padding.
        byte[] udp4 = TestFrames.Udp("192.0.2.1", "198.51.100.53", 5353, 53);
        byte[] tcp4 = TestFrames.Tcp("10.0.0.1", "10.0.0.2", 443, 80, TcpFlags.Syn);
        byte[] udp6 = TestFrames.Udp("2001:db8::1", "2001:db8::53", 40001, 443);
        yield return (LinkType.Ethernet, TestFrames.Ethernet(udp4, (0x8100, 0x0064)));
        yield return (LinkType.Ethernet, TestFrames.Ethernet(tcp4));
        yield return (LinkType.Ethernet, [.. TestFrames.Ethernet(tcp4), .. new byte[6]]);
        yield return (LinkType.Ethernet, TestFrames.Ethernet(udp6));
        yield return (LinkType.LinuxSll2, TestFrames.Sll2(udp4, 7));
        yield return (LinkType.Raw, tcp4);
        yield return (LinkType.Raw, udp6);
    }

    [Fact]
    public void Every_byte_value_at_every_header_offset_gives_the_same_answer()
    {
        byte[] values = new byte[256];
        for (int v = 0; v < 256; v++)
        {
            values[v] = (byte)v;
        }

        int accepted = 0;
        foreach ((LinkType link, byte[] seed) in Seeds())
        {
            AssertAgrees(link, seed);

            // The link, IP and transport headers end within the first 100 bytes of every seed.
            byte[] frame = (byte[])seed.Clone();
            for (int i = 0; i < Math.Min(frame.Length, 100); i++)
            {
                byte original = frame[i];
                foreach (byte v in values)
                {
                    frame[i] = v;
                    AssertAgrees(link, frame);
                    accepted += PacketDecoder.TryClassify(link, frame, out _, out _) ? 1 : 0;
                }

                frame[i] = original;
            }
        }

        Assert.True(accepted > 10000, $"only {accepted} mutated frames were accepted: the short path is barely exercised");
    }

    [Fact]
    public void Every_prefix_and_every_link_type_gives_the_same_answer()
    {
        LinkType[] links = [LinkType.Null, LinkType.Ethernet, LinkType.Raw, LinkType.Loop, LinkType.LinuxSll, LinkType.Ipv4, LinkType.Ipv6, LinkType.LinuxSll2, (LinkType)999];
        foreach ((LinkType _, byte[] seed) in Seeds())
        {
            foreach (LinkType link in links)
            {
                for (int n = 0; n <= seed.Length; n++)
                {
                    AssertAgrees(link, seed.AsSpan(0, n));
                }
            }
        }
    }

    [Fact]
    public void Random_frames_and_two_byte_mutations_give_the_same_answer()
    {
        var rng = new Random(7_2026);
        var seeds = Seeds().ToArray();
        for (int i = 0; i < 20000; i++)
        {
            (LinkType link, byte[] seed) = seeds[rng.Next(seeds.Length)];
            byte[] frame = (byte[])seed.Clone();
            for (int k = rng.Next(1, 3); k > 0; k--)
            {
                frame[rng.Next(Math.Min(frame.Length, 80))] = (byte)rng.Next(256);
            }

            AssertAgrees(link, frame);
        }
    }
}
