using DnsWarden.Capture.Reassembly;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Reassembly;

public sealed class StreamPrefixCollectorTests
{
    private static readonly FlowKey5 s_client = TcpReassemblerTests.Client with { DestinationPort = 853 };

    /// <summary>A TLS record header (RFC 8446 §5.1: handshake, legacy version 0x0301, length) followed by filler.</summary>
    private static byte[] FakeClientHello(int bodyLength) =>
        [0x16, 0x03, 0x01, (byte)(bodyLength >> 8), (byte)bodyLength, .. TcpReassemblerTests.Stream(bodyLength)];

    [Fact]
    public void HelloSpreadOverSegments_IsHandedOverOnceWhole()
    {
        byte[] hello = FakeClientHello(1800);
        int calls = 0;
        byte[]? parsed = null;
        var collector = new StreamPrefixCollector((in FlowKey5 f, ReadOnlySpan<byte> prefix, bool full, long t) =>
        {
            calls++;
            if (prefix.Length >= 5 && prefix.Length >= 5 + ((prefix[3] << 8) | prefix[4]))
            {
                parsed = prefix[..(5 + ((prefix[3] << 8) | prefix[4]))].ToArray();
                return false;
            }

            return true;
        });
        var r = new TcpReassembler(collector);
        TcpReassemblerTests.Send(r, s_client, 0x10, [.. hello, .. new byte[500]], [3, 700, 1400]);
        Assert.Equal(hello, parsed);
        Assert.Equal(4, calls); // at 3, 700, 1400 bytes, then whole at 2305
        Assert.False(collector.TryGetPrefix(s_client, out _));
    }

    [Fact]
    public void KeepsOnlyTheFirstNBytes()
    {
        var seen = new List<int>();
        var collector = new StreamPrefixCollector((in FlowKey5 f, ReadOnlySpan<byte> p, bool full, long t) =>
        {
            seen.Add(p.Length);
            return true;
        }, prefixLength: 1000);
        byte[] s = TcpReassemblerTests.Stream(5000);
        var r = new TcpReassembler(collector);
        TcpReassemblerTests.Send(r, s_client, 0, s, [400, 800, 1200, 2000]);
        Assert.Equal([400, 800, 1000], seen);
        Assert.True(collector.TryGetPrefix(s_client, out ReadOnlySpan<byte> prefix));
        Assert.Equal(s[..1000], prefix.ToArray());
        r.CloseAll(0);
        Assert.Equal(0, collector.Count);
    }

    [Fact]
    public void DefaultIs16KiB_AndGapStopsCollection()
    {
        var collector = new StreamPrefixCollector();
        Assert.Equal(16 * 1024, collector.PrefixLength);
        collector.OnData(s_client, [1, 2, 3], 0);
        collector.OnGap(s_client, 10, 0);
        collector.OnData(s_client, [4, 5], 0);
        Assert.True(collector.TryGetPrefix(s_client, out ReadOnlySpan<byte> prefix));
        Assert.Equal(new byte[] { 1, 2, 3 }, prefix.ToArray());
    }

    [Fact]
    public void Fanout_FeedsBothConsumers()
    {
        var got = new List<int>();
        var framer = new DnsTcpFramer((in FlowKey5 f, ReadOnlySpan<byte> m, long t) => got.Add(m.Length));
        var collector = new StreamPrefixCollector(prefixLength: 4);
        var r = new TcpReassembler(new TcpStreamFanout(framer, collector));
        TcpReassemblerTests.Send(r, s_client, 0, [0, 12, .. new byte[12]], [1]);
        Assert.Equal([12], got);
        Assert.True(collector.TryGetPrefix(s_client, out ReadOnlySpan<byte> prefix));
        Assert.Equal(new byte[] { 0, 12, 0, 0 }, prefix.ToArray());
    }
}
