using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Tests.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Engine;

/// <summary>
/// The exfiltration block against the flood that evaded it: 90 tunnel queries, each after 4,096 base domains never
/// seen before. Least-recently-seen eviction let all 90 through; now only the first few reach the upstream.
/// </summary>
public sealed class ExfiltrationFloodTests
{
    private const int Rounds = 90;

    private static (int Tunnel, int Junk) Flood(string policy, Func<int, int, string> junkName)
    {
        int tunnel = 0;
        int junk = 0;
        var upstream = new FakeForwarder((q, _) =>
        {
            if (TestDns.QuestionName(q).EndsWith("tunnel.test", StringComparison.Ordinal))
            {
                tunnel++;
            }
            else
            {
                junk++;
            }

            return DnsCacheTests.Respond(q, DnsRcode.NxDomain, (ref DnsMessageWriter _) => { });
        });
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = RebindingGuardTests.Policy(policy),
            Forwarder = upstream,
            Exfiltration = new ExfiltrationScorer(baseDomains: BaseDomains.Fallback, time: new ManualTime()),
        });
        var random = new Random(90);
        var response = new byte[DnsEngine.MaxMessageSize];
        for (int round = 0; round < Rounds; round++)
        {
            for (int i = 0; i < 4096; i++)
            {
                Assert.True(engine.HandleAsync(DnsCacheTests.Query(junkName(round, i)), response, ListenerProtocol.Udp, null).IsCompletedSuccessfully);
            }

            string name = TunnelName(random);
            Assert.True(engine.HandleAsync(DnsCacheTests.Query(name, DnsType.TXT), response, ListenerProtocol.Udp, null).IsCompletedSuccessfully);
        }

        return (tunnel, junk);
    }

    [Fact]
    public void EvictionByEvidenceAloneKeepsTheTunnelAndBlocksItAtItsTenthQuery()
    {
        (int tunnel, _) = Flood("""{ "exfiltration": { "block_score": 60, "burst_base_domains": null } }""", (r, i) => $"www.j{r}x{i}.test");
        Assert.Equal(9, tunnel);
    }

    [Fact]
    public void TheBurstOfNewBaseDomainsIsASignalOfItsOwn()
    {
        (int tunnel, int junk) = Flood("""{ "exfiltration": { "block_score": 60 } }""", (r, i) => $"www.j{r}x{i}.test");
        Assert.InRange(tunnel, 0, 9);

        // The flood itself stops reaching the upstream at the 500th new base domain of the window.
        Assert.Equal(499, junk);
    }

    [Fact]
    public void NamesThePolicyBlocksAreNotScoredAndCannotCrowdTheTunnelOut()
    {
        // The junk is blocked by the policy anyway: it never enters the indicator, so it neither crowds the table nor
        // counts as a burst of new base domains (which would block the tunnel from its first query on): the tunnel is
        // blocked at its tenth query, as if alone.
        var random = new Random(1);
        (int tunnel, int junk) = Flood(
            """{ "block": ["junk-tld"], "exfiltration": { "block_score": 60 } }""",
            (r, i) => TunnelName(random).Replace(".t.tunnel.test", $".j{r}x{i}.junk-tld", StringComparison.Ordinal));
        Assert.Equal(9, tunnel);
        Assert.Equal(0, junk);
    }

    [Fact]
    public async Task ABlockedNameHasNoScoreInTheLog()
    {
        var log = new List<QueryLogEntry>();
        var engine = new DnsEngine(new DnsEngineOptions
        {
            Policy = RebindingGuardTests.Policy("""{ "block": ["bad.test"], "default_action": "allow" }"""),
            Forwarder = new FakeForwarder((q, _) => DnsCacheTests.AnswerA(q, 60, "198.51.100.1")),
            Exfiltration = new ExfiltrationScorer(baseDomains: BaseDomains.Fallback),
            QueryLog = new ListLog(log),
        });
        var response = new byte[DnsEngine.MaxMessageSize];
        await engine.HandleAsync(DnsCacheTests.Query("x.bad.test"), response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        await engine.HandleAsync(DnsCacheTests.Query("x.good.test"), response, ListenerProtocol.Udp, null, TestContext.Current.CancellationToken);
        Assert.Null(log[0].ExfiltrationScore);
        Assert.Equal(QueryOutcome.Blocked, log[0].Outcome);
        Assert.Equal(0, log[1].ExfiltrationScore);
    }

    /// <summary>52 hex digits of data under tunnel.test, as dnscat2-like tunnels send.</summary>
    private static string TunnelName(Random random)
    {
        byte[] data = new byte[26];
        random.NextBytes(data);
        return Convert.ToHexStringLower(data) + ".t.tunnel.test";
    }

    private sealed class ListLog(List<QueryLogEntry> entries) : IQueryLog
    {
        public void Write(QueryLogEntry entry) => entries.Add(entry);
    }
}
