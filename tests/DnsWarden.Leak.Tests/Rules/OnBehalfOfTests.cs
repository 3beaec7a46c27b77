using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>
/// The process behind a local stub: a stub's upstream query is tied to the loopback query for the same name and type
/// before it, whichever of the two packets is processed first, with its own confidence.
/// </summary>
public sealed class OnBehalfOfTests
{
    private const ushort DigPort = 40000;
    private const ushort CurlPort = 40001;
    private const ushort StubPort = 50000;

    private static readonly ProcessInfo s_dig = new(10, "dig", "/usr/bin/dig", 0, "dig @127.0.0.1 who.test", []);
    private static readonly ProcessInfo s_curl = new(11, "curl", "/usr/bin/curl", 0, "curl", []);
    private static readonly ProcessInfo s_dnsmasq = new(20, "dnsmasq", "/usr/sbin/dnsmasq", 0, "dnsmasq --no-resolv", []);

    [Fact]
    public void LoopbackQueryFirst_NamesTheAsker()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        long asked = Ask(h, DigPort, "who.test");
        Upstream(h, "who.test");
        h.Complete();

        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal("dnsmasq", e.Process!.Name);
        Assert.NotNull(e.OnBehalfOf);
        Assert.Equal(s_dig, e.OnBehalfOf.Process);
        Assert.Equal(Confidence.High, e.OnBehalfOf.Attribution.Confidence);
        Assert.Equal("bpf", e.OnBehalfOf.Attribution.Source);
        Assert.Equal(asked, e.OnBehalfOf.Frame);
    }

    [Fact]
    public void UpstreamProcessedFirst_WaitsForTheLoopbackQuery()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Upstream(h, "who.test");
        Assert.Empty(h.Events); // held: another interface's thread may not have handed over the loopback query yet
        long asked = Ask(h, DigPort, "WHO.test");

        LeakEvent e = Assert.Single(h.Events);
        Assert.Equal(s_dig, e.OnBehalfOf!.Process);
        Assert.Equal(asked, e.OnBehalfOf.Frame);
    }

    [Fact]
    public void NoLoopbackQuery_TheEventIsWrittenAnyway_SayingWhy()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Ask(h, DigPort, "other.test");
        Upstream(h, "who.test");
        h.Wait(TimeSpan.FromSeconds(1));
        Ask(h, DigPort, "later.test"); // any later packet releases it

        LeakEvent e = Assert.Single(h.Events);
        Assert.Null(e.OnBehalfOf!.Process);
        Assert.Equal(Confidence.None, e.OnBehalfOf.Attribution.Confidence);
        Assert.Contains("loopback", e.OnBehalfOf.Attribution.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void HeldEvents_AreWrittenWhenTheRunEnds()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Upstream(h, "who.test");
        h.Complete();
        Assert.Null(Assert.Single(h.Events).OnBehalfOf!.Process);
    }

    [Fact]
    public void TwoAskers_TheLatestIsNamed_AtMediumConfidence()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Ask(h, DigPort, "who.test");
        Ask(h, CurlPort, "who.test");
        Upstream(h, "who.test");
        h.Complete();

        OnBehalfOf asker = Assert.Single(h.Events).OnBehalfOf!;
        Assert.Equal(s_curl, asker.Process);
        Assert.Equal(Confidence.Medium, asker.Attribution.Confidence);
        Assert.Contains("2 processes asked", asker.Attribution.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ADifferentType_IsNotTheAsker()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Ask(h, DigPort, "who.test", DnsType.AAAA);
        Upstream(h, "who.test");
        h.Complete();
        Assert.Null(Assert.Single(h.Events).OnBehalfOf!.Process);
    }

    [Fact]
    public void ASenderThatIsNoStub_HasNoOnBehalfOf()
    {
        var h = new Harness(Expect.FullTunnel, Options());
        Ask(h, DigPort, "who.test");
        h.Feed("eth0", Harness.Udp("192.168.1.10", "192.168.1.1", DigPort, 53, Harness.Query("who.test", 0x2222)));
        h.Complete();
        Assert.Null(Assert.Single(h.Events).OnBehalfOf);
    }

    [Theory]
    [InlineData("dnsmasq", null, null, true)]
    [InlineData("systemd-resolve", null, null, true)]
    [InlineData("unbound", null, null, true)]
    [InlineData("x", "/usr/sbin/unbound", null, true)]
    [InlineData("dnsw", "/opt/dnsw", "dnsw proxy --listen 127.0.0.1:53", true)]
    [InlineData("dnsw", "/opt/dnsw", "dnsw leak watch", false)]
    [InlineData("dig", "/usr/bin/dig", "dig", false)]
    [InlineData("curl", null, null, false)]
    public void LocalResolvers_ByNameOrExe(string name, string? exe, string? cmdline, bool stub) =>
        Assert.Equal(stub, LocalResolvers.IsLocalResolver(new ProcessInfo(1, name, exe, 0, cmdline, [])));

    private static LeakPipelineOptions Options() => new(Attributor: new ByPort());

    private static long Ask(Harness h, ushort port, string name, DnsType type = DnsType.A) =>
        h.Feed("lo", Harness.Udp("127.0.0.1", "127.0.0.1", port, 53, Harness.Query(name, port, type)), LinkType.Raw);

    private static long Upstream(Harness h, string name) =>
        h.Feed("eth0", Harness.Udp("192.168.1.10", "192.168.1.1", StubPort, 53, Harness.Query(name, 0x5555)));

    /// <summary>Names the sender by source port, as the kernel's records would.</summary>
    private sealed class ByPort : IProcessAttributor
    {
        public (ProcessInfo? Process, Attribution Attribution) Attribute(in FlowKey5 flow, long timestampNs) => flow.SourcePort switch
        {
            DigPort => (s_dig, new Attribution(Confidence.High, null) { Source = "bpf" }),
            CurlPort => (s_curl, new Attribution(Confidence.High, null) { Source = "bpf" }),
            StubPort => (s_dnsmasq, new Attribution(Confidence.High, null) { Source = "bpf" }),
            _ => (null, new Attribution(Confidence.None, "socket gone")),
        };
    }
}
