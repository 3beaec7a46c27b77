using System.Globalization;

namespace DnsWarden.E2E;

/// <summary>The scenario runs once per test run; every class that reads its capture joins this collection.</summary>
[CollectionDefinition(Name)]
public sealed class DnsTrafficCollection : ICollectionFixture<DnsTrafficScenarioFixture>
{
    public const string Name = "dns-traffic";
}

/// <summary>Runs <see cref="DnsTrafficScenario"/> once and decodes its capture with tshark.</summary>
public sealed class DnsTrafficScenarioFixture : IAsyncLifetime
{
    // Named like TestNet's temp dirs so the sweeper removes it if this process crashes.
    private readonly string _directory = Path.Combine(
        Path.GetTempPath(),
        $"{TestNet.NamePrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-scenario-{Guid.NewGuid().ToString("N")[..8]}");
    private string? _skipReason;
    private Exception? _failure;
    private DnsTrafficScenarioResult? _result;
    private IReadOnlyList<OracleFrame>? _frames;

    public async ValueTask InitializeAsync()
    {
        _skipReason = DnsTrafficScenario.SkipReason() ?? HostTools.MissingToolsReason("tshark");
        if (_skipReason is not null)
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(_directory);
            string pcapng = Path.Combine(_directory, "dns-traffic.pcapng");
            _result = await DnsTrafficScenario.RunAsync(pcapng);
            _frames = await TsharkOracle.ReadAsync(pcapng);

            // CI can keep the capture as an artifact for a failed comparison.
            string? keep = Environment.GetEnvironmentVariable("DNSW_E2E_ARTIFACTS");
            if (!string.IsNullOrEmpty(keep))
            {
                Directory.CreateDirectory(keep);
                File.Copy(pcapng, Path.Combine(keep, "dns-traffic.pcapng"), overwrite: true);
            }
        }
        catch (Exception ex)
        {
            _failure = ex;
        }
    }

    /// <summary>The scenario's result and tshark's frames; skips or rethrows the scenario's failure.</summary>
    public (DnsTrafficScenarioResult Result, IReadOnlyList<OracleFrame> Frames) Get()
    {
        if (_skipReason is not null)
        {
            Assert.Skip(_skipReason);
        }

        if (_failure is not null)
        {
            throw new InvalidOperationException("The DNS traffic scenario failed.", _failure);
        }

        return (_result!, _frames!);
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            if (Directory.Exists(_directory))
            {
                Directory.Delete(_directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}

[Collection(DnsTrafficCollection.Name)]
public sealed class DnsTrafficScenarioTests(DnsTrafficScenarioFixture fixture)
{
    [Fact]
    public void Scenario_RunsEveryClientStep_AndCaptures()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        Assert.Equal(18, result.Steps.Count);
        Assert.All(result.Steps, s => Assert.False(s.Result.TimedOut, s.Name));
        Assert.True(result.PacketsCaptured > 0);
        Assert.Equal(result.PacketsCaptured, frames.Count);
        Assert.Equal(Enumerable.Range(1, frames.Count), frames.Select(f => f.Number));

        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"scenario: setup {result.SetupTime.TotalMilliseconds:F0} ms, traffic {result.TrafficTime.TotalMilliseconds:F0} ms, total {result.Elapsed.TotalMilliseconds:F0} ms, {frames.Count} frames"));
    }

    [Fact]
    public void Oracle_SeesBothInterfaceNames()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        string?[] names = frames.Select(f => f.InterfaceName).Distinct().ToArray();
        Assert.Contains(result.VethInterface, names);
        Assert.Contains("lo", names);
        Assert.Equal(2, names.Length);
    }

    [Fact]
    public void Oracle_SeesDnsOverUdpAndTcp_OnTheVeth()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame[] veth = frames.Where(f => f.InterfaceName == result.VethInterface).ToArray();

        OracleFrame udpQuery = Assert.Single(veth, f => f.Transport == "udp" && f.IpVersion == 4 && f.DestinationPort == 53
            && f.FirstDns is { IsResponse: false, QType: 1 } d && d.QName == DnsTrafficScenario.HostName);
        Assert.Equal(DnsTrafficScenario.ClientV4, udpQuery.SourceAddress);
        Assert.Equal(DnsTrafficScenario.ServerV4, udpQuery.DestinationAddress);
        Assert.Equal(17, udpQuery.IpProtocol);
        Assert.Null(udpQuery.FirstDns!.Rcode);

        OracleFrame udpAnswer = Assert.Single(veth, f => f.Transport == "udp" && f.SourcePort == 53
            && f.FirstDns is { IsResponse: true, QType: 1 } d && d.QName == DnsTrafficScenario.HostName);
        Assert.Equal(udpQuery.FirstDns.Id, udpAnswer.FirstDns!.Id);
        Assert.Equal(0, udpAnswer.FirstDns.Rcode);
        Assert.Equal(["1:" + DnsTrafficScenario.HostV4], udpAnswer.FirstDns.Answers);

        OracleFrame tcpAnswer = Assert.Single(veth, f => f.Transport == "tcp" && f.IpVersion == 4 && f.SourcePort == 53
            && f.FirstDns is { IsResponse: true, QType: 28 } d && d.QName == DnsTrafficScenario.HostName);
        Assert.Equal(6, tcpAnswer.IpProtocol);
        Assert.Equal(["28:" + DnsTrafficScenario.HostV6], tcpAnswer.FirstDns!.Answers);

        // kdig +tcp to the same server: the CNAME chain over TCP.
        Assert.Contains(veth, f => f.Transport == "tcp" && f.FirstDns is { IsResponse: true, QType: 1 } d && d.QName == DnsTrafficScenario.ChainName);
    }

    [Fact]
    public void Oracle_SeesIpv6Dns_WithCnameChain()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame chain = Assert.Single(frames, f => f.IpVersion == 6 && f.Transport == "udp" && f.InterfaceName == result.VethInterface
            && f.FirstDns is { IsResponse: true } d && d.QName == DnsTrafficScenario.ChainName);
        Assert.Equal(DnsTrafficScenario.ServerV6, chain.SourceAddress);
        Assert.Equal(DnsTrafficScenario.ClientV6, chain.DestinationAddress);
        Assert.Equal(
            ["5:" + DnsTrafficScenario.AliasName, "5:" + DnsTrafficScenario.HostName, "1:" + DnsTrafficScenario.HostV4],
            chain.FirstDns!.Answers);
        Assert.Equal(DnsTrafficScenario.ChainName, chain.FirstDns.AnswerRecords[0].Name);

        Assert.Contains(frames, f => f.IpVersion == 6 && f.Transport == "tcp"
            && f.FirstDns is { IsResponse: true, QType: 16 } d && d.Answers.SequenceEqual(["16:" + DnsTrafficScenario.TxtValue]));
    }

    [Fact]
    public void Oracle_SeesNxdomainAndTxt()
    {
        (_, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame nx = Assert.Single(frames, f => f.FirstDns is { IsResponse: true } d && d.QName == DnsTrafficScenario.MissingName);
        Assert.Equal(3, nx.FirstDns!.Rcode);
        Assert.Empty(nx.FirstDns.Answers);

        Assert.Contains(frames, f => f.Transport == "udp"
            && f.FirstDns is { IsResponse: true, QType: 16 } d && d.Answers.SequenceEqual(["16:" + DnsTrafficScenario.TxtValue]));
    }

    [Fact]
    public void Oracle_SeesDnsOnLoopback()
    {
        (_, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame[] lo = frames.Where(f => f.InterfaceName == "lo" && f.Dns.Count > 0).ToArray();

        OracleFrame v4 = Assert.Single(lo, f => f.IpVersion == 4 && f.Transport == "udp" && f.FirstDns!.IsResponse);
        Assert.Equal("127.0.0.1", v4.SourceAddress);
        Assert.Equal(["1:" + DnsTrafficScenario.LoopbackV4], v4.FirstDns!.Answers);

        OracleFrame v6 = Assert.Single(lo, f => f.IpVersion == 6 && f.Transport == "tcp" && f.FirstDns!.IsResponse);
        Assert.Equal("::1", v6.SourceAddress);
        Assert.Equal(["28:" + DnsTrafficScenario.LoopbackV6], v6.FirstDns!.Answers);
    }

    [Fact]
    public void Oracle_SeesQuicClientInitials_OnceEach()
    {
        (_, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame[] quic = frames.Where(f => f.Transport == "udp" && f.TlsClientHellos.Count > 0).ToArray();
        Assert.Equal([DnsTrafficScenario.QuicServerName, DnsTrafficScenario.QuicDraftServerName], quic.Select(f => f.TlsClientHellos[0].ServerName));
        Assert.Equal([443, 853], quic.Select(f => f.DestinationPort));
        Assert.All(quic, f => Assert.Equal(["h3"], f.TlsClientHellos[0].Alpn));
    }

    [Fact]
    public void Oracle_SeesTlsClientHellos_ForDotAndDoh()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> frames) = fixture.Get();
        OracleFrame[] hellos = frames.Where(f => f.TlsClientHellos.Count > 0).ToArray();
        Assert.All(hellos, f => Assert.Equal(result.VethInterface, f.InterfaceName));

        OracleFrame[] dot = hellos.Where(f => f.Transport == "tcp" && f.DestinationPort == DnsTrafficScenario.DotPort).ToArray();
        Assert.Equal(2, dot.Length);
        Assert.Contains(dot, f => f.IpVersion == 4);
        Assert.Contains(dot, f => f.IpVersion == 6);
        Assert.All(dot, f => Assert.Equal(DnsTrafficScenario.DotServerName, f.TlsClientHellos[0].ServerName));

        // kdig +https, and curl --doh-url (one or two connections: it looks up A and AAAA at once); all offer h2.
        OracleFrame[] doh = hellos.Where(f => f.Transport == "tcp" && f.DestinationPort == DnsTrafficScenario.DohPort).ToArray();
        Assert.InRange(doh.Length, 2, 3);
        Assert.All(doh, f => Assert.Contains("h2", f.TlsClientHellos[0].Alpn));
        Assert.Contains(doh, f => f.TlsClientHellos[0].ServerName == DnsTrafficScenario.DohServerName);
        Assert.Contains(doh, f => f.TlsClientHellos[0].ServerName is null);
    }
}
