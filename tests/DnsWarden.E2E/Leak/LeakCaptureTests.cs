using System.Globalization;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// The leak captures hold the traffic each phase claims, on the interfaces it claims, as tshark reads them.
/// These do not depend on the leak engine: they make sure its tests judge the right packets.
/// </summary>
[Collection(LeakScenarioCollection.Name)]
public sealed class LeakCaptureTests(LeakScenarioFixture fixture)
{
    private const string Eth0 = LeakNet.PhysicalInterface;
    private const string Tun0 = LeakNet.TunnelInterface;

    [Fact]
    public void EveryPhase_IsCaptured_WithTheClientInterfaceNames()
    {
        LeakScenarioResult result = fixture.Get();
        Assert.Equal(LeakScenario.Phases, result.Captures.Keys.Order(StringComparer.Ordinal));
        foreach (string phase in LeakScenario.Phases)
        {
            LeakPhaseCapture c = result.Captures[phase];
            IReadOnlyList<OracleFrame> frames = fixture.Frames(phase);
            Assert.True(File.Exists(c.PcapngPath), c.PcapngPath);
            Assert.True(File.Exists(c.DumpcapPcapngPath), c.DumpcapPcapngPath);
            Assert.Equal(c.PacketsCaptured, frames.Count);
            Assert.All(frames, f => Assert.Contains(f.InterfaceName, LeakTopology.CapturedInterfaces));
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"leak captures in {result.OutputDirectory}: setup {result.SetupTime.TotalMilliseconds:F0} ms, total {result.Elapsed.TotalMilliseconds:F0} ms"));
    }

    [Fact]
    public void CleanTunnel_AllDnsAndWebGoThroughTun0()
    {
        IReadOnlyList<OracleFrame> frames = fixture.Frames(LeakScenario.CleanTunnel);
        Assert.DoesNotContain(frames, f => f.InterfaceName == Eth0 && (f.Dns.Count > 0 || f.TlsClientHellos.Count > 0 || f.Transport is "tcp" or "udp"));

        OracleFrame[] queries = Queries(frames).ToArray();
        Assert.All(queries, f => Assert.Equal(Tun0, f.InterfaceName));
        Assert.Contains(queries, f => f.Transport == "udp" && f.DestinationAddress == LeakNet.TunnelResolverV4 && f.FirstDns!.QType == 1);
        Assert.Contains(queries, f => f.Transport == "tcp" && f.DestinationAddress == LeakNet.TunnelResolverV4 && f.FirstDns!.QType == 1);
        Assert.Contains(queries, f => f.IpVersion == 6 && f.DestinationAddress == LeakNet.TunnelResolverV6 && f.FirstDns!.QType == 28);

        OracleFrame hello = Assert.Single(frames, f => f.TlsClientHellos.Count > 0);
        Assert.Equal(Tun0, hello.InterfaceName);
        Assert.Equal(LeakNet.WebName, hello.TlsClientHellos[0].ServerName);
    }

    [Fact]
    public void LeakA_ThreePlainQueries_OnEth0()
    {
        OracleFrame[] queries = Queries(fixture.Frames(LeakScenario.LeakA)).ToArray();
        Assert.Equal(3, queries.Length);
        Assert.All(queries, f => Assert.Equal(Eth0, f.InterfaceName));
        AssertQuery(queries, "a1.leak.test", "udp", LeakNet.IspResolverV4, 1);
        AssertQuery(queries, "a2.leak.test", "tcp", LeakNet.IspResolverV4, 1);
        AssertQuery(queries, "a3.leak.test", "udp", LeakNet.IspResolverV6, 28);
    }

    [Fact]
    public void LeakB_BlockedNameOnBothPaths_DirectNameOnEth0()
    {
        OracleFrame[] queries = Queries(fixture.Frames(LeakScenario.LeakB)).ToArray();
        Assert.Equal(3, queries.Length);
        Assert.Single(queries, f => f.FirstDns!.QName == LeakNet.BlockedName && f.InterfaceName == Eth0 && f.DestinationAddress == LeakNet.IspResolverV4);
        Assert.Single(queries, f => f.FirstDns!.QName == LeakNet.BlockedName && f.InterfaceName == Tun0 && f.DestinationAddress == LeakNet.TunnelResolverV4);
        Assert.Single(queries, f => f.FirstDns!.QName == LeakNet.DirectName && f.InterfaceName == Eth0);
    }

    [Fact]
    public void LeakC_DotAndListedDoh_OnEth0_AndTheWebFetch()
    {
        IReadOnlyList<OracleFrame> frames = fixture.Frames(LeakScenario.LeakC);
        Assert.Empty(Queries(frames));
        OracleFrame[] hellos = frames.Where(f => f.TlsClientHellos.Count > 0).ToArray();
        Assert.All(hellos, f => Assert.Equal(Eth0, f.InterfaceName));

        OracleFrame dot = Assert.Single(hellos, f => f.DestinationPort == LeakNet.DotPort);
        Assert.Equal(LeakNet.PublicResolverV4, dot.DestinationAddress);
        OracleFrame doh = Assert.Single(hellos, f => f.TlsClientHellos[0].ServerName == LeakScenario.ListedDohServerName);
        Assert.Equal(LeakNet.PublicResolverV4, doh.DestinationAddress);
        Assert.Equal(LeakNet.DohPort, doh.DestinationPort);
        OracleFrame web = Assert.Single(hellos, f => f.TlsClientHellos[0].ServerName == LeakNet.WebName);
        Assert.Equal(LeakNet.WebV4, web.DestinationAddress);
        Assert.Equal(3, hellos.Length);
    }

    [Fact]
    public void LeakCUnlistedDoh_OneHello_WithTheUnlistedName()
    {
        IReadOnlyList<OracleFrame> frames = fixture.Frames(LeakScenario.LeakCUnlistedDoh);
        Assert.Empty(Queries(frames));
        OracleFrame hello = Assert.Single(frames, f => f.TlsClientHellos.Count > 0);
        Assert.Equal(Eth0, hello.InterfaceName);
        Assert.Equal(LeakNet.PublicResolverV4, hello.DestinationAddress);
        Assert.Equal(LeakNet.DohPort, hello.DestinationPort);
        Assert.Equal(LeakScenario.UnlistedDohServerName, hello.TlsClientHellos[0].ServerName);
        Assert.Contains("h2", hello.TlsClientHellos[0].Alpn);
    }

    [Fact]
    public void LeakD_DnsOnTun0_ConnectionOnEth0()
    {
        IReadOnlyList<OracleFrame> frames = fixture.Frames(LeakScenario.LeakD);
        OracleFrame query = Assert.Single(Queries(frames));
        Assert.Equal(Tun0, query.InterfaceName);
        Assert.Equal(LeakNet.TunnelResolverV4, query.DestinationAddress);
        Assert.Equal(LeakNet.WebName, query.FirstDns!.QName);
        Assert.Equal(1, query.FirstDns.QType);

        OracleFrame answer = Assert.Single(frames, f => f.FirstDns is { IsResponse: true });
        Assert.Equal(["1:" + LeakNet.WebV4], answer.FirstDns!.Answers);

        OracleFrame hello = Assert.Single(frames, f => f.TlsClientHellos.Count > 0);
        Assert.Equal(Eth0, hello.InterfaceName);
        Assert.Equal(LeakNet.WebV4, hello.DestinationAddress);
        Assert.Equal(LeakNet.WebPort, hello.DestinationPort);
        Assert.True(answer.Number < hello.Number, "the answer comes before the connection");
        Assert.DoesNotContain(frames, f => f.InterfaceName == Tun0 && f.Transport == "tcp");
    }

    [Fact]
    public void Exfiltration_FortyLongLabels_OnTun0()
    {
        OracleFrame[] queries = Queries(fixture.Frames(LeakScenario.Exfiltration)).ToArray();
        Assert.Equal(LeakScenario.ExfilQueryCount, queries.Length);
        Assert.All(queries, f => Assert.Equal(Tun0, f.InterfaceName));
        Assert.Equal(LeakScenario.ExfilNames.Order(StringComparer.Ordinal), queries.Select(f => f.FirstDns!.QName!).Order(StringComparer.Ordinal));
        Assert.All(queries, f => Assert.Equal(LeakScenario.ExfilLabelLength, f.FirstDns!.QName!.IndexOf('.', StringComparison.Ordinal)));
    }

    [Fact]
    public void Mixed_OneJunkDatagram_OneTlsSite_OneTunnelQuery()
    {
        IReadOnlyList<OracleFrame> frames = fixture.Frames(LeakScenario.Mixed);
        OracleFrame junk = Assert.Single(frames, f => f.InterfaceName == Eth0 && f.Transport == "udp" && f.DestinationPort == 53);
        Assert.Equal(LeakNet.IspResolverV4, junk.DestinationAddress);
        Assert.DoesNotContain(frames, f => f.InterfaceName == Eth0 && f.Transport == "udp" && f.SourcePort == 53);

        OracleFrame hello = Assert.Single(frames, f => f.TlsClientHellos.Count > 0);
        Assert.Equal(Eth0, hello.InterfaceName);
        Assert.Equal(LeakNet.WebV4, hello.DestinationAddress);

        // The page crosses as many segments (or GRO'd super-frames) from the web server.
        Assert.True(frames.Count(f => f.InterfaceName == Eth0 && f.Transport == "tcp" && f.SourcePort == LeakNet.WebPort) > 3);

        OracleFrame query = Assert.Single(Queries(frames));
        Assert.Equal(Tun0, query.InterfaceName);
        Assert.Equal(LeakNet.DirectName, query.FirstDns!.QName);
    }

    private static IEnumerable<OracleFrame> Queries(IReadOnlyList<OracleFrame> frames) =>
        frames.Where(f => f.FirstDns is { IsResponse: false, QName: not null } && f.DestinationPort == 53);

    private static void AssertQuery(OracleFrame[] queries, string qname, string transport, string dst, int qtype)
    {
        OracleFrame q = Assert.Single(queries, f => f.FirstDns!.QName == qname);
        Assert.Equal(transport, q.Transport);
        Assert.Equal(dst, q.DestinationAddress);
        Assert.Equal(qtype, q.FirstDns!.QType);
    }
}
