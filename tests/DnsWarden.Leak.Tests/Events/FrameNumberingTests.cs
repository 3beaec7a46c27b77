using DnsWarden.Indicators;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Tests.Events;

public sealed class FrameNumberingTests
{
    [Fact]
    public void Live_NoFileBegan_FramesAreTheirOwn()
    {
        var frames = new FrameNumbering();
        LeakEvent e = Samples.LeakD();
        Assert.Same(e, frames.Localize(e));
        Assert.Equal((null, 12L, 0), frames.Locate(12));
        Assert.Equal("12", frames.Label(12));
    }

    [Fact]
    public void OneFile_KeepsItsNumbers_AndNamesTheFile()
    {
        var frames = new FrameNumbering();
        frames.Begin("a.pcapng", 0);
        LeakEvent e = frames.Localize(Samples.LeakD() with { Frame = 5, CorrelationId = "q3" });
        Assert.Equal("a.pcapng", e.File);
        Assert.Equal(5, e.Frame);
        Assert.Equal("q3", e.CorrelationId);
        Assert.Equal("a.pcapng", e.Connection!.File);
        Assert.Equal("5", frames.Label(5));
    }

    [Fact]
    public void SeveralFiles_EachFrameInItsOwnFile_AndIdsSayWhichFile()
    {
        var frames = new FrameNumbering(files: 2);
        Assert.Equal(0, frames.Begin("a.pcap", 0));
        // Before the second file begins, the first file's ids already say which file they are in.
        Assert.Equal("q3@1", frames.LocalizeCorrelation("q3"));
        Assert.Equal(10, frames.Begin("b.pcap", 10));
        Assert.Equal(("a.pcap", 10L, 1), frames.Locate(10));
        Assert.Equal(("b.pcap", 1L, 2), frames.Locate(11));

        // A Leak-D whose DNS was in the first file and whose connection is in the second.
        LeakEvent e = frames.Localize(Samples.LeakD() with
        {
            Frame = 14,
            CorrelationId = "q4",
            Connection = Samples.LeakD().Connection! with { Frame = 14 },
            OnBehalfOf = new OnBehalfOf(null, new Attribution(Confidence.None, null), 2),
        });
        Assert.Equal(("b.pcap", 4L), (e.File, e.Frame));
        Assert.Equal(("b.pcap", 4L), (e.Connection!.File, e.Connection.Frame));
        Assert.Equal(("a.pcap", 2L), (e.OnBehalfOf!.File, e.OnBehalfOf.Frame));
        Assert.Equal("q4@1", e.CorrelationId);
        Assert.Equal("r2@2", frames.LocalizeCorrelation("r12"));
        Assert.Equal("4 of b.pcap", frames.Label(14));
    }

    [Theory]
    [InlineData("10.1.2.3:53", "10.1.2.3", 53)]
    [InlineData("[2001:db8::1]:853", "2001:db8::1", 853)]
    [InlineData("10.1.2.0/24", "10.1.2.0/24", null)]
    [InlineData("2001:db8:1::/48", "2001:db8:1::/48", null)]
    [InlineData("2001:db8::1", "2001:db8::1", null)]
    [InlineData("10.1.2.3", "10.1.2.3", null)]
    [InlineData("10.1.2.3:99999", "10.1.2.3:99999", null)]
    [InlineData("[2001:db8::1]", "[2001:db8::1]", null)]
    public void Endpoints_SplitIntoAddressAndPort_AndJoinBack(string endpoint, string address, int? port)
    {
        Assert.Equal((address, port), EndpointText.Split(endpoint));
        Assert.Equal(endpoint, EndpointText.Join(address, port));
    }
}
