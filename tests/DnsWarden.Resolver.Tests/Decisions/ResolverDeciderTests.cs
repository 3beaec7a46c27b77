using System.Net;
using System.Text;
using DnsWarden.Policy;
using DnsWarden.Resolver.Decisions;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Tests.Dns;
using Ars = ARSoft.Tools.Net.Dns;

namespace DnsWarden.Resolver.Tests.Decisions;

public sealed class ResolverDeciderTests
{
    private static byte[] Query(string name, DnsType type, ushort? edns = null, ushort id = 0x4242, bool rd = true)
    {
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buf, id, name, type, rd, edns, out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    private static ResolverDecider Decider(string json)
    {
        Assert.True(ResolverPolicyLoader.TryParse(Encoding.UTF8.GetBytes(json), "r.json", out ResolverPolicy? p, out PolicyError? e), e?.ToString());
        return new ResolverDecider(p!);
    }

    private static byte[] Answer(ResolverDecider d, byte[] query, out PolicyDecision decision)
    {
        decision = d.Decide(query);
        Assert.Equal(PolicyVerdict.Answer, decision.Verdict);
        var buf = new byte[1232];
        Assert.True(d.TryWriteAnswer(query, decision, buf, out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    private const string Lists = """
        {
          "allow": ["example.com", "=exact.org", "*.below.net"],
          "block": ["ads.example.com"],
          "local_records": [
            { "name": "printer.lan", "type": "A", "value": "192.168.1.9", "ttl": 120 },
            { "name": "printer.lan", "type": "AAAA", "value": "fd00::9" },
            { "name": "alias.lan", "type": "CNAME", "value": "printer.lan" },
            { "name": "note.lan", "type": "TXT", "value": "hello" }
          ]
        }
        """;

    [Theory]
    [InlineData("example.com", DecisionReason.Allowed)]
    [InlineData("WWW.Example.COM", DecisionReason.Allowed)]
    [InlineData("www.example.com.", DecisionReason.Allowed)]
    [InlineData("exact.org", DecisionReason.Allowed)]
    [InlineData("EXACT.ORG.", DecisionReason.Allowed)]
    [InlineData("sub.exact.org", DecisionReason.BlockedByDefault)]
    [InlineData("below.net", DecisionReason.BlockedByDefault)]
    [InlineData("a.below.net", DecisionReason.Allowed)]
    [InlineData("a.b.Below.Net", DecisionReason.Allowed)]
    [InlineData("ads.example.com", DecisionReason.Blocked)]
    [InlineData("x.ADS.example.com.", DecisionReason.Blocked)]
    [InlineData("notexample.com", DecisionReason.BlockedByDefault)]
    [InlineData("use-application-dns.net", DecisionReason.Canary)]
    [InlineData("Mask.iCloud.com", DecisionReason.Canary)]
    [InlineData("mask-h2.icloud.com", DecisionReason.Canary)]
    [InlineData("printer.lan", DecisionReason.LocalRecord)]
    [InlineData("PRINTER.LAN.", DecisionReason.LocalRecord)]
    [InlineData("x.printer.lan", DecisionReason.BlockedByDefault)]
    public void Lists_DecideByDomainSetSemantics(string name, DecisionReason expected)
    {
        ResolverDecider d = Decider(Lists);
        PolicyDecision decision = d.Decide(Query(name, DnsType.A));
        Assert.Equal(expected, decision.Reason);
        bool forwarded = expected is DecisionReason.Allowed;
        Assert.Equal(forwarded ? PolicyVerdict.Forward : PolicyVerdict.Answer, decision.Verdict);
        Assert.False(string.IsNullOrEmpty(decision.ReasonText));
    }

    [Fact]
    public void NoLists_Forwards()
    {
        var d = new ResolverDecider(ResolverPolicy.Default);
        PolicyDecision decision = d.Decide(Query("anything.example", DnsType.A));
        Assert.Equal(PolicyDecision.Forward(DecisionReason.Forwarded), decision);
        Assert.False(d.TryWriteAnswer(Query("anything.example", DnsType.A), decision, new byte[512], out _));
    }

    [Fact]
    public void DefaultActionAllow_ForwardsUnlisted()
    {
        ResolverDecider d = Decider("""{ "allow": ["example.com"], "default_action": "allow" }""");
        Assert.Equal(DecisionReason.AllowedByDefault, d.Decide(Query("other.org", DnsType.A)).Reason);
        Assert.Equal(PolicyVerdict.Forward, d.Decide(Query("other.org", DnsType.A)).Verdict);
    }

    [Fact]
    public void BlockWinsOverAllow()
    {
        ResolverDecider d = Decider("""{ "allow": ["example.com"], "block": ["example.com"] }""");
        Assert.Equal(DecisionReason.Blocked, d.Decide(Query("example.com", DnsType.A)).Reason);
    }

    [Fact]
    public void EscapedDotInLabel_IsNotALabelBoundary()
    {
        // One label "evil.example" under com: not under example.com, so not on the allow list.
        byte[] q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 12, .. "evil.example"u8, 3, .. "com"u8, 0, 0, 1, 0, 1];
        ResolverDecider d = Decider("""{ "allow": ["example.com"] }""");
        Assert.Equal(DecisionReason.BlockedByDefault, d.Decide(q).Reason);
    }

    [Theory]
    [InlineData("nxdomain", DnsRcode.NxDomain)]
    [InlineData("refused", DnsRcode.Refused)]
    public void BlockAction_Rcode_OracleChecked(string action, DnsRcode rcode)
    {
        ResolverDecider d = Decider($$"""{ "block": ["blocked.example"], "block_action": "{{action}}" }""");
        byte[] q = Query("Ads.Blocked.Example", DnsType.AAAA, edns: 1232, id: 0x5151);
        byte[] r = Answer(d, q, out _);

        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.False(m.IsQuery);
        Assert.Equal(0x5151, m.TransactionID);
        Assert.True(m.IsRecursionDesired);
        Assert.True(m.IsRecursionAllowed);
        Assert.False(m.IsAuthoritiveAnswer);
        Assert.Equal((Ars.ReturnCode)(int)rcode, m.ReturnCode);
        Assert.Equal("Ads.Blocked.Example.", m.Questions.Single().Name.ToString());
        Assert.Empty(m.AnswerRecords);
        Assert.True(m.IsEDnsEnabled);

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(r);
        Assert.Equal(0x5151, dc.Header.Id);
        Assert.Equal((int)rcode, (int)dc.Header.ResponseCode);
        Assert.Equal(DnsClient.QueryType.AAAA, dc.Questions.Single().QuestionType);
    }

    [Theory]
    [InlineData(DnsType.A, "6.6.6.6")]
    [InlineData(DnsType.AAAA, "::")]
    [InlineData(DnsType.MX, null)]
    [InlineData(DnsType.TXT, null)]
    public void SinkholeAll_AnswersEveryName_OracleChecked(DnsType type, string? address)
    {
        ResolverDecider d = Decider("""{ "mode": "sinkhole-all" }""");
        byte[] q = Query("Any.Thing.Example", type, id: 0x0707, rd: false);
        byte[] r = Answer(d, q, out PolicyDecision decision);
        Assert.Equal(DecisionReason.SinkholeAll, decision.Reason);

        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.Equal(0x0707, m.TransactionID);
        Assert.False(m.IsRecursionDesired);
        Assert.True(m.IsRecursionAllowed);
        Assert.True(m.IsAuthoritiveAnswer);
        Assert.Equal(Ars.ReturnCode.NoError, m.ReturnCode);
        Assert.False(m.IsEDnsEnabled);
        Assert.Equal("Any.Thing.Example.", m.Questions.Single().Name.ToString());
        if (address is null)
        {
            Assert.Empty(m.AnswerRecords);
            return;
        }

        Ars.DnsRecordBase rec = Assert.Single(m.AnswerRecords);
        Assert.Equal(60, rec.TimeToLive);
        IPAddress got = rec is Ars.ARecord a ? a.Address : ((Ars.AaaaRecord)rec).Address;
        Assert.Equal(IPAddress.Parse(address), got);

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(r);
        Assert.True(dc.Header.HasAuthorityAnswer);
        Assert.Equal(60, dc.Answers.Single().InitialTimeToLive);
    }

    /// <summary>The Extended DNS Error of a response (RFC 8914): INFO-CODE and EXTRA-TEXT, or null when it has none.</summary>
    private static (ushort Code, string Text)? ExtendedError(byte[] response)
    {
        var reader = new DnsMessageReader(response);
        Assert.True(reader.TryReadHeader(out _));
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT && r.TryReadOpt(out DnsOpt opt) && opt.Options.TryGet((ushort)EdnsOptionCode.ExtendedDnsError, out ReadOnlySpan<byte> ede))
            {
                return ((ushort)((ede[0] << 8) | ede[1]), Encoding.UTF8.GetString(ede[2..]));
            }
        }

        return null;
    }

    [Theory]
    [InlineData("ads.example.com", "on the block list")]
    [InlineData("notlisted.example", "not on the allow list")]
    public void BlockedNxDomain_CarriesAnSoaAndABlockedExtendedError_OracleChecked(string name, string text)
    {
        ResolverDecider d = Decider(Lists);
        byte[] r = Answer(d, Query(name, DnsType.A, edns: 1232), out _);

        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.Equal(Ars.ReturnCode.NxDomain, m.ReturnCode);
        // RFC 2308 §3: the SOA in the authority section makes the refusal cacheable, for the sinkhole TTL.
        Ars.SoaRecord soa = Assert.IsType<Ars.SoaRecord>(Assert.Single(m.AuthorityRecords));
        Assert.Equal(name + ".", soa.Name.ToString());
        Assert.Equal(60, soa.TimeToLive);
        Assert.Equal(60, soa.NegativeCachingTTL);
        Assert.Equal(((ushort)15, text), ExtendedError(r)); // RFC 8914 INFO-CODE 15, Blocked

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(r);
        Assert.Equal(DnsClient.DnsHeaderResponseCode.NotExistentDomain, dc.Header.ResponseCode);
    }

    [Fact]
    public void WithoutEdnsInTheQuery_NoOptAndNoExtendedError_ButTheSoaStays()
    {
        byte[] r = Answer(Decider(Lists), Query("ads.example.com", DnsType.A), out _);
        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.False(m.IsEDnsEnabled);
        Assert.Null(ExtendedError(r));
        Assert.IsType<Ars.SoaRecord>(Assert.Single(m.AuthorityRecords));
    }

    [Fact]
    public void RefusedBlock_HasTheExtendedErrorAndNoSoa()
    {
        ResolverDecider d = Decider("""{ "block": ["blocked.example"], "block_action": "refused" }""");
        byte[] r = Answer(d, Query("blocked.example", DnsType.A, edns: 1232), out _);
        Assert.Empty(ArsoftOracle.Parse(r).AuthorityRecords);
        Assert.Equal(((ushort)15, "on the block list"), ExtendedError(r));
    }

    [Fact]
    public void SinkholeAnswer_SaysItIsForged()
    {
        ResolverDecider d = Decider("""{ "mode": "sinkhole-all" }""");
        byte[] r = Answer(d, Query("any.example", DnsType.A, edns: 1232), out _);
        Assert.Equal((ushort)4, ExtendedError(r)?.Code); // RFC 8914 INFO-CODE 4, Forged Answer
        Assert.Null(ExtendedError(Answer(d, Query("any.example", DnsType.A), out _)));
    }

    [Fact]
    public void AFormErrCarriesNoExtendedErrorAndNoSoa()
    {
        byte[] q = Query("a.example", DnsType.A, edns: 1232);
        q[5] = 2; // QDCOUNT 2 with one question: FORMERR
        ResolverDecider d = Decider(Lists);
        PolicyDecision decision = d.Decide(q);
        var buf = new byte[1232];
        if (d.TryWriteAnswer(q, decision, buf, out int n))
        {
            byte[] r = buf.AsSpan(0, n).ToArray();
            Assert.Null(ExtendedError(r));
            Assert.Equal(0, r[9] | (r[8] << 8)); // NSCOUNT
        }
    }

    [Fact]
    public void SinkholeBlockAction_UsesConfiguredAddressesAndTtl()
    {
        ResolverDecider d = Decider("""{ "block": ["t.example"], "block_action": "sinkhole", "sinkhole_v4": "0.0.0.0", "sinkhole_v6": "::1", "sinkhole_ttl": 5 }""");
        Ars.DnsMessage a = ArsoftOracle.Parse(Answer(d, Query("t.example", DnsType.A, edns: 1400), out PolicyDecision decision));
        Assert.Equal(DecisionReason.Blocked, decision.Reason);
        Assert.Equal(IPAddress.Any, ((Ars.ARecord)a.AnswerRecords.Single()).Address);
        Assert.Equal(5, a.AnswerRecords.Single().TimeToLive);
        Assert.True(a.IsEDnsEnabled);
        Ars.DnsMessage aaaa = ArsoftOracle.Parse(Answer(d, Query("t.example", DnsType.AAAA), out _));
        Assert.Equal(IPAddress.IPv6Loopback, ((Ars.AaaaRecord)aaaa.AnswerRecords.Single()).Address);
    }

    [Fact]
    public void Canary_NxDomain_EvenInSinkholeAll_AndSwitchable()
    {
        ResolverDecider d = Decider("""{ "mode": "sinkhole-all" }""");
        byte[] r = Answer(d, Query("use-application-dns.net", DnsType.A), out PolicyDecision decision);
        Assert.Equal(DecisionReason.Canary, decision.Reason);
        Assert.Equal(Ars.ReturnCode.NxDomain, ArsoftOracle.Parse(r).ReturnCode);

        ResolverDecider off = Decider("""{ "canaries": false }""");
        Assert.Equal(PolicyVerdict.Forward, off.Decide(Query("use-application-dns.net", DnsType.A)).Verdict);

        ResolverDecider custom = Decider("""{ "canaries": ["canary.example"] }""");
        Assert.Equal(DecisionReason.Canary, custom.Decide(Query("Canary.Example.", DnsType.A)).Reason);
        Assert.Equal(PolicyVerdict.Forward, custom.Decide(Query("mask.icloud.com", DnsType.A)).Verdict);
        Assert.Equal(PolicyVerdict.Forward, custom.Decide(Query("sub.canary.example", DnsType.A)).Verdict);
    }

    [Fact]
    public void LocalRecords_A_AAAA_Txt_OracleChecked()
    {
        ResolverDecider d = Decider(Lists);
        byte[] r = Answer(d, Query("Printer.LAN", DnsType.A, edns: 1232, id: 9), out PolicyDecision decision);
        Assert.Equal(DecisionReason.LocalRecord, decision.Reason);
        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.Equal(9, m.TransactionID);
        Assert.True(m.IsAuthoritiveAnswer);
        Assert.True(m.IsEDnsEnabled);
        Assert.Equal("Printer.LAN.", m.Questions.Single().Name.ToString());
        var a = (Ars.ARecord)m.AnswerRecords.Single();
        Assert.Equal(IPAddress.Parse("192.168.1.9"), a.Address);
        Assert.Equal(120, a.TimeToLive);

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(Answer(d, Query("printer.lan", DnsType.AAAA), out _));
        var aaaa = (DnsClient.Protocol.AaaaRecord)dc.Answers.Single();
        Assert.Equal(IPAddress.Parse("fd00::9"), aaaa.Address);
        Assert.Equal(300, aaaa.InitialTimeToLive);

        dc = DnsClientOracle.Parse(Answer(d, Query("note.lan", DnsType.TXT), out _));
        Assert.Equal("hello", ((DnsClient.Protocol.TxtRecord)dc.Answers.Single()).Text.Single());
    }

    [Fact]
    public void LocalCname_AnswersEveryType_ChainNotFollowed()
    {
        ResolverDecider d = Decider(Lists);
        Ars.DnsMessage m = ArsoftOracle.Parse(Answer(d, Query("alias.lan", DnsType.A), out PolicyDecision decision));
        Assert.Equal(DecisionReason.LocalRecord, decision.Reason);
        var cname = (Ars.CNameRecord)m.AnswerRecords.Single();
        Assert.Equal("printer.lan.", cname.CanonicalName.ToString());
    }

    [Fact]
    public void LocalName_OtherType_IsNoErrorEmpty()
    {
        ResolverDecider d = Decider(Lists);
        byte[] r = Answer(d, Query("printer.lan", DnsType.MX), out PolicyDecision decision);
        Assert.Equal(DecisionReason.LocalNoData, decision.Reason);
        Ars.DnsMessage m = ArsoftOracle.Parse(r);
        Assert.Equal(Ars.ReturnCode.NoError, m.ReturnCode);
        Assert.True(m.IsAuthoritiveAnswer);
        Assert.Empty(m.AnswerRecords);
    }

    [Fact]
    public void ExfiltrationScore_BlocksAtThreshold()
    {
        ResolverDecider d = Decider("""{ "exfiltration": { "block_score": 70 } }""");
        byte[] q = Query("x.tunnel.example", DnsType.TXT);
        Assert.Equal(PolicyVerdict.Forward, d.Decide(q).Verdict);
        Assert.Equal(PolicyVerdict.Forward, d.Decide(q, 69).Verdict);
        Assert.Equal(DecisionReason.BlockedExfiltration, d.Decide(q, 70).Reason);
        Assert.Equal(PolicyVerdict.Forward, Decider("{}").Decide(q, 100).Verdict);
    }

    [Fact]
    public void TooShort_And_Response_AreDropped()
    {
        var d = new ResolverDecider(ResolverPolicy.Default);
        byte[] q = Query("example.com", DnsType.A);
        for (int i = 0; i < 12; i++)
        {
            PolicyDecision decision = d.Decide(q.AsSpan(0, i));
            Assert.Equal(PolicyDecision.Drop(DecisionReason.TooShort), decision);
            Assert.False(d.TryWriteAnswer(q.AsSpan(0, i), decision, new byte[512], out _));
        }

        q[2] |= 0x80;
        Assert.Equal(DecisionReason.NotAQuery, d.Decide(q).Reason);
    }

    [Fact]
    public void EveryProperPrefixBeyondTheHeader_IsFormErr_WithBareHeader()
    {
        var d = new ResolverDecider(ResolverPolicy.Default);
        byte[] q = Query("www.example.com", DnsType.A, edns: 1232, id: 0xABCD);
        for (int i = 12; i < q.Length; i++)
        {
            byte[] prefix = q.AsSpan(0, i).ToArray();
            PolicyDecision decision = d.Decide(prefix);
            Assert.Equal(DecisionReason.Malformed, decision.Reason);
            Assert.Equal(DnsRcode.FormErr, decision.Rcode);
            byte[] r = Answer(d, prefix, out _);
            Assert.Equal(12, r.Length);
            DnsClientOracle.Parsed dc = DnsClientOracle.Parse(r);
            Assert.Equal(0xABCD, dc.Header.Id);
            Assert.Equal(DnsClient.DnsHeaderResponseCode.FormatError, dc.Header.ResponseCode);
            Assert.True(dc.Header.RecursionDesired);
        }
    }

    [Fact]
    public void TwoQuestions_IsFormErr_NoQuestion_IsFormErr()
    {
        var d = new ResolverDecider(ResolverPolicy.Default);
        byte[] one = Query("a.example", DnsType.A);
        byte[] two = [.. one[..5], 2, .. one[6..], .. one[12..]];
        Assert.Equal(DecisionReason.QuestionCount, d.Decide(two).Reason);
        Ars.DnsMessage m = ArsoftOracle.Parse(Answer(d, two, out _));
        Assert.Equal(Ars.ReturnCode.FormatError, m.ReturnCode);
        Assert.Equal(2, m.Questions.Count);

        byte[] none = [.. one[..5], 0, .. one[6..12]];
        Assert.Equal(DecisionReason.QuestionCount, d.Decide(none).Reason);
    }

    [Theory]
    [InlineData(DnsOpcode.IQuery)]
    [InlineData(DnsOpcode.Status)]
    [InlineData(DnsOpcode.Notify)]
    [InlineData(DnsOpcode.Update)]
    public void OtherOpcodes_AreNotImp(DnsOpcode opcode)
    {
        var d = new ResolverDecider(ResolverPolicy.Default);
        byte[] q = Query("example.com", DnsType.SOA);
        q[2] = (byte)((q[2] & 0x87) | ((int)opcode << 3));
        byte[] r = Answer(d, q, out PolicyDecision decision);
        Assert.Equal(DecisionReason.OpcodeNotImplemented, decision.Reason);
        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(r);
        Assert.Equal(DnsClient.DnsHeaderResponseCode.NotImplemented, dc.Header.ResponseCode);
        Assert.Equal((int)opcode, (int)dc.Header.OPCode);
    }

    [Fact]
    public void TryWriteAnswer_SmallBuffer_ReturnsFalse()
    {
        ResolverDecider d = Decider(Lists);
        byte[] q = Query("printer.lan", DnsType.A, edns: 1232);
        PolicyDecision decision = d.Decide(q);
        var buf = new byte[1232];
        Assert.True(d.TryWriteAnswer(q, decision, buf, out int full));
        for (int size = 0; size < full; size++)
        {
            Assert.False(d.TryWriteAnswer(q, decision, new byte[size], out _));
        }
    }

    [Fact]
    public void AllowPath_AllocatesNothing()
    {
        ResolverDecider d = Decider(Lists);
        byte[] allowed = Query("deep.www.example.com", DnsType.A, edns: 1232);
        byte[] below = Query("a.b.below.net", DnsType.AAAA);
        byte[] open = Query("x.example", DnsType.A);
        var forwardAll = new ResolverDecider(ResolverPolicy.Default);
        for (int i = 0; i < 100; i++)
        {
            d.Decide(allowed);
            d.Decide(below);
            forwardAll.Decide(open);
        }

        // Assert is kept out of the measured loop: its comparers allocate.
        int forwarded = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            forwarded += d.Decide(allowed).Verdict == PolicyVerdict.Forward ? 1 : 0;
            forwarded += d.Decide(below).Verdict == PolicyVerdict.Forward ? 1 : 0;
            forwarded += forwardAll.Decide(open).Verdict == PolicyVerdict.Forward ? 1 : 0;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(3000, forwarded);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void OtherPaths_AllocateNothingEither()
    {
        ResolverDecider d = Decider(Lists);
        byte[][] queries =
        [
            Query("ads.example.com", DnsType.A),
            Query("other.org", DnsType.A),
            Query("use-application-dns.net", DnsType.A),
            Query("printer.lan", DnsType.A),
            Query("printer.lan", DnsType.MX),
            Query("a.example", DnsType.A)[..20],
            Query("a.example", DnsType.A)[..5],
        ];
        foreach (byte[] q in queries)
        {
            d.Decide(q);
        }

        int answers = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            foreach (byte[] q in queries)
            {
                answers += d.Decide(q).Verdict == PolicyVerdict.Answer ? 1 : 0;
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(200 * 6, answers);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Mutations_NeverThrow_AlwaysDecide()
    {
        ResolverDecider d = Decider(Lists);
        var rng = new Random(5);
        byte[][] seeds =
        [
            Query("www.example.com", DnsType.A, edns: 1232),
            Query("printer.lan", DnsType.AAAA),
            Query("alias.lan", DnsType.TXT, edns: 512),
            Query("ads.example.com", DnsType.HTTPS),
            Query("use-application-dns.net", DnsType.A),
        ];
        var buf = new byte[1232];
        for (int i = 0; i < 5000; i++)
        {
            byte[] m;
            if (i % 5 == 0)
            {
                m = new byte[rng.Next(0, 64)];
                rng.NextBytes(m);
            }
            else
            {
                m = (byte[])seeds[rng.Next(seeds.Length)].Clone();
                int flips = rng.Next(1, 4);
                for (int f = 0; f < flips && m.Length > 0; f++)
                {
                    m[rng.Next(m.Length)] = (byte)rng.Next(256);
                }

                if (rng.Next(4) == 0)
                {
                    m = m.AsSpan(0, rng.Next(m.Length + 1)).ToArray();
                }
            }

            PolicyDecision decision = d.Decide(m);
            Assert.True(Enum.IsDefined(decision.Verdict));
            Assert.True(Enum.IsDefined(decision.Reason));
            if (decision.Verdict == PolicyVerdict.Answer)
            {
                Assert.True(d.TryWriteAnswer(m, decision, buf, out int n), $"answer for {decision} of {Convert.ToHexString(m)}");
                Assert.True(DnsMessageReader.TryValidate(buf.AsSpan(0, n), out _));
            }
        }
    }
}
