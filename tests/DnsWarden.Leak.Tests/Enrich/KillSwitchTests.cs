using DnsWarden.Leak.Enrich;

namespace DnsWarden.Leak.Tests.Enrich;

/// <summary>The kill-switch judgement on rulesets in libnftables' JSON (the shapes <c>nft -j list ruleset</c> prints).</summary>
public sealed class KillSwitchTests
{
    private static readonly string[] s_offPath = ["eth0"];

    private static string Ruleset(params string[] items) =>
        """{"nftables": [""" + string.Join(", ", ["""{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}""", .. items]) + "]}";

    private static string Chain(string family, string table, string name, string hook = "output", string policy = "accept", string type = "filter") =>
        $$$"""{"chain": {"family": "{{{family}}}", "table": "{{{table}}}", "name": "{{{name}}}", "handle": 1, "type": "{{{type}}}", "hook": "{{{hook}}}", "prio": 0, "policy": "{{{policy}}}"}}""";

    private static string Rule(string family, string table, string chain, params string[] expr) =>
        $$$"""{"rule": {"family": "{{{family}}}", "table": "{{{table}}}", "chain": "{{{chain}}}", "handle": 2, "expr": [{{{string.Join(", ", expr)}}}]}}""";

    private static string Match(string left, string right, string op = "==") => $$$"""{"match": {"op": "{{{op}}}", "left": {{{left}}}, "right": {{{right}}}}}""";

    private const string OifName = """{"meta": {"key": "oifname"}}""";
    private const string L4Proto = """{"meta": {"key": "l4proto"}}""";
    private const string ThDport = """{"payload": {"protocol": "th", "field": "dport"}}""";
    private const string UdpDport = """{"payload": {"protocol": "udp", "field": "dport"}}""";
    private const string Drop = """{"drop": null}""";
    private const string Accept = """{"accept": null}""";

    [Fact]
    public void AnEmptyRulesetDropsNothing()
    {
        KillSwitchState s = KillSwitch.Judge(Ruleset(), s_offPath);
        Assert.Equal(KillSwitchVerdict.None, s.Verdict);
        Assert.Equal(8, s.Gaps.Count);
        Assert.Equal("kill switch: none (no nftables rule drops DNS 53/853 off loopback and tunnels): Leak-A can happen", s.Describe());
    }

    [Fact]
    public void DnsDroppedOffTheTunnelForBothFamiliesProtocolsAndPortsIsOn()
    {
        string json = Ruleset(
            Chain("inet", "ks", "out"),
            Rule("inet", "ks", "out", Match(OifName, """{"set": ["lo", "wg0"]}""", "!="), Match(L4Proto, """{"set": ["tcp", "udp"]}"""), Match(ThDport, """{"set": [53, 853]}"""), """{"counter": {"packets": 0, "bytes": 0}}""", Drop));
        KillSwitchState s = KillSwitch.Judge(json, ["eth0", "eth1"]);
        Assert.Equal(KillSwitchVerdict.On, s.Verdict);
        Assert.Equal(["inet ks out"], s.DroppedBy);
        Assert.Empty(s.Gaps);
        Assert.Equal("kill switch: on (inet ks out drops DNS 53/853 off loopback and tunnels, IPv4 and IPv6, UDP and TCP): Leak-A cannot happen from here", s.Describe());
    }

    [Fact]
    public void APolicyDropChainThatLetsOnlyTheTunnelOutIsOn_EstablishedTrafficIsNoHole()
    {
        string json = Ruleset(
            Chain("inet", "vpn", "out", policy: "drop"),
            Rule("inet", "vpn", "out", Match("""{"ct": {"key": "state"}}""", """["established", "related"]""", "in"), Accept),
            Rule("inet", "vpn", "out", Match(OifName, "\"lo\""), Accept),
            Rule("inet", "vpn", "out", Match(OifName, "\"wg*\""), Accept),
            Rule("inet", "vpn", "out", Match("""{"payload": {"protocol": "ip", "field": "daddr"}}""", "\"203.0.113.1\""), Match(UdpDport, "51820"), Accept));
        KillSwitchState s = KillSwitch.Judge(json, s_offPath);
        Assert.Equal(KillSwitchVerdict.On, s.Verdict);
        Assert.Empty(s.Exceptions);
    }

    [Fact]
    public void AnAcceptForAUserOrMarkIsAnExceptionNamed()
    {
        string json = Ruleset(
            Chain("inet", "ks", "out"),
            Rule("inet", "ks", "out", Match("""{"meta": {"key": "skuid"}}""", "0"), Accept),
            Rule("inet", "ks", "out", Match(OifName, "\"eth0\""), Drop));
        KillSwitchState s = KillSwitch.Judge(json, s_offPath);
        Assert.Equal(KillSwitchVerdict.On, s.Verdict);
        Assert.Equal(["meta skuid == 0"], s.Exceptions);
        Assert.EndsWith("; except meta skuid == 0: Leak-A cannot happen from here", s.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void UdpPort53OnIPv4OnlyIsPartialAndNamesEachGap()
    {
        string json = Ruleset(
            Chain("ip", "half", "out"),
            Rule("ip", "half", "out", Match(OifName, "\"eth0\""), Match(UdpDport, "53"), Drop));
        KillSwitchState s = KillSwitch.Judge(json, s_offPath);
        Assert.Equal(KillSwitchVerdict.Partial, s.Verdict);
        Assert.Equal(["ip half out"], s.DroppedBy);
        Assert.Equal(
            ["udp/853 IPv4 on eth0", "tcp/53 IPv4 on eth0", "tcp/853 IPv4 on eth0", "udp/53 IPv6 on eth0", "udp/853 IPv6 on eth0", "tcp/53 IPv6 on eth0", "tcp/853 IPv6 on eth0"],
            s.Gaps);
    }

    [Fact]
    public void AJumpToAChainThatDropsCountsAndANamedSetOfPortsIsRead()
    {
        string json = Ruleset(
            """{"set": {"family": "inet", "table": "t", "name": "dns", "type": "inet_service", "handle": 3, "elem": [53, 853]}}""",
            Chain("inet", "t", "out"),
            """{"chain": {"family": "inet", "table": "t", "name": "dnscheck", "handle": 4}}""",
            Rule("inet", "t", "out", Match(OifName, "\"eth0\""), """{"jump": {"target": "dnscheck"}}"""),
            Rule("inet", "t", "dnscheck", Match(ThDport, "\"@dns\""), """{"reject": null}"""));
        Assert.Equal(KillSwitchVerdict.On, KillSwitch.Judge(json, s_offPath).Verdict);
    }

    [Fact]
    public void ARegularChainOrANatChainOrAnInputChainIsNoKillSwitch()
    {
        string json = Ruleset(
            Chain("inet", "t", "in", hook: "input", policy: "drop"),
            Chain("inet", "t", "nat", type: "nat"),
            Rule("inet", "t", "nat", Match(ThDport, "53"), Drop));
        Assert.Equal(KillSwitchVerdict.None, KillSwitch.Judge(json, s_offPath).Verdict);
    }

    [Fact]
    public void ANetdevEgressHookOnTheInterfaceDropsEverythingItSends()
    {
        string json = Ruleset(
            """{"chain": {"family": "netdev", "table": "b", "name": "out", "handle": 1, "type": "filter", "hook": "egress", "prio": 0, "dev": "eth0", "policy": "drop"}}""");
        Assert.Equal(KillSwitchVerdict.On, KillSwitch.Judge(json, s_offPath).Verdict);
        Assert.Equal(KillSwitchVerdict.Partial, KillSwitch.Judge(json, ["eth0", "eth1"]).Verdict);
    }

    [Fact]
    public void AnAcceptBeforeTheDropForThePlainInterfaceOpensIt()
    {
        string json = Ruleset(
            Chain("inet", "ks", "out"),
            Rule("inet", "ks", "out", Match(L4Proto, "\"udp\""), Accept),
            Rule("inet", "ks", "out", Match(ThDport, """{"set": [53, 853]}"""), Drop));
        KillSwitchState s = KillSwitch.Judge(json, s_offPath);
        Assert.Equal(KillSwitchVerdict.Partial, s.Verdict);
        Assert.All(s.Gaps, g => Assert.StartsWith("udp/", g, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"nftables\": ")]
    [InlineData("[1, 2]")]
    [InlineData("{\"other\": []}")]
    public void AListingThatIsNotTheRulesetIsUnknownWithTheReason(string json)
    {
        KillSwitchState s = KillSwitch.Judge(json, s_offPath);
        Assert.Equal(KillSwitchVerdict.Unknown, s.Verdict);
        Assert.StartsWith("kill switch: unknown (the ruleset listing ", s.Describe(), StringComparison.Ordinal);
    }
}
