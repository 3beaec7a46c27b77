using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Tests.Network;

/// <summary>Request bytes against hand-laid netlink (include/uapi/linux/netlink.h: 4-byte alignment, zero padding) and the extended-ack reader.</summary>
public sealed class NetlinkRequestWriterTests
{
    [Fact]
    public void Request_HeaderFixedPartAttributesAndNesting_AreLaidOutAsTheKernelReadsThem()
    {
        Span<byte> buffer = stackalloc byte[128];
        buffer.Fill(0xee);
        var w = new NetlinkRequestWriter(buffer, 16, 0x605, 7);
        Span<byte> fixedPart = w.AppendFixed(6);
        fixedPart[0] = 0x0a;
        w.AddString(3, "ab");
        int nest = w.BeginNested(18);
        w.AddU32(28, 0x01020304);
        w.EndNested(nest);
        byte[] actual = w.Finish().ToArray();

        // Little-endian host order (netlink(7)); x86 and arm64 are the targets.
        Assert.True(BitConverter.IsLittleEndian);
        byte[] expected = Convert.FromHexString(
            "2c000000" + "1000" + "0506" + "07000000" + "00000000" + // nlmsghdr: len 44, RTM_NEWLINK, flags, seq 7, pid 0
            "0a0000000000" + "0000" +                              // 6 fixed bytes padded to 8
            "0700" + "0300" + "616200" + "00" +                    // IFLA_IFNAME "ab\0" (len 7) padded to 8
            "0c00" + "1200" +                                      // IFLA_LINKINFO nest, len 12
            "0800" + "1c00" + "04030201");                         // IFLA_NET_NS_FD u32
        Assert.Equal(expected, actual);

        // The repository's own reader walks it back.
        var reader = new NetlinkAttributeReader(actual.AsSpan(16 + 8));
        Assert.True(reader.TryRead(out NetlinkAttribute name));
        Assert.Equal(3, name.Type);
        Assert.True(reader.TryRead(out NetlinkAttribute linkInfo));
        Assert.Equal(18, linkInfo.Type);
        var inner = new NetlinkAttributeReader(linkInfo.Payload);
        Assert.True(inner.TryRead(out NetlinkAttribute fd));
        Assert.Equal(28, fd.Type);
        Assert.False(reader.TryRead(out _));
        Assert.Equal(RtnetlinkError.None, reader.Error);
    }

    [Fact]
    public void Request_ThatDoesNotFit_Throws()
    {
        byte[] buffer = new byte[24];
        Assert.Throws<InvalidOperationException>(() =>
        {
            var w = new NetlinkRequestWriter(buffer, 16, 1, 1);
            w.AddString(3, "longer than eight bytes");
        });
    }

    // An NLMSG_ERROR payload: int error, the request's nlmsghdr (capped: header only), then NLMSGERR_ATTR_MSG (netlink.h).
    private static readonly byte[] s_cappedAck = Convert.FromHexString(
        "9bffffff" + "28000000180005060300000000000000" + "0800" + "0100" + "4e6800" + "00");

    private static string? Read(ushort flags, ReadOnlySpan<byte> payload) =>
        RtnetlinkParser.TryReadExtendedAckMessage(flags, payload, out string? text) ? text : null;

    [Fact]
    public void ExtendedAck_MessageIsRead_CappedOrWithTheRequestEchoed()
    {
        Assert.Equal("Nh", Read(0x300, s_cappedAck));

        // Uncapped: the whole request (its nlmsg_len, 20 here) precedes the attributes.
        byte[] echoed = Convert.FromHexString("9bffffff" + "14000000180005060300000000000000" + "00000000" + "0800" + "0100" + "4e6800" + "00");
        Assert.Equal("Nh", Read(0x200, echoed));

        // No NLM_F_ACK_TLVS: nothing to read.
        Assert.Null(Read(0x100, s_cappedAck));
    }

    [Fact]
    public void ExtendedAck_EveryProperPrefixAndBadLength_GivesNullOrText_NeverThrows()
    {
        for (int i = 0; i < s_cappedAck.Length; i++)
        {
            string? text = Read(0x300, s_cappedAck.AsSpan(0, i));
            Assert.True(text is null or "" or "N" or "Nh", text);
        }

        byte[] huge = Convert.FromHexString("9bffffff" + "ffffff7f180005060300000000000000");
        Assert.Null(Read(0x200, huge));
        var random = new Random(6);
        var bytes = new byte[64];
        for (int i = 0; i < 5000; i++)
        {
            random.NextBytes(bytes);
            _ = Read((ushort)random.Next(0, 0x400), bytes.AsSpan(0, random.Next(0, 65)));
        }
    }
}
