using System.Net;
using ARSoft.Tools.Net;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using Ars = ARSoft.Tools.Net.Dns;
using static DnsWarden.Wire.Tests.Dns.DnsTestUtil;

namespace DnsWarden.Wire.Tests.Dns;

public sealed class DnsMessageWriterTests
{
    private static byte[] BuildQuery(string name, DnsType type, ushort? edns, ushort id = 0x4242)
    {
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteQuery(buf, id, name, type, recursionDesired: true, edns, out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    [Fact]
    public void Query_IsParsedByArsoft_AndDnsClient()
    {
        byte[] q = BuildQuery("www.Example.com", DnsType.AAAA, 1232);

        Ars.DnsMessage ars = ArsoftOracle.Parse(q);
        Assert.True(ars.IsQuery);
        Assert.Equal(0x4242, ars.TransactionID);
        Assert.True(ars.IsRecursionDesired);
        Assert.Single(ars.Questions);
        Assert.Equal("www.Example.com.", ars.Questions[0].Name.ToString());
        Assert.Equal(Ars.RecordType.Aaaa, ars.Questions[0].RecordType);
        Assert.True(ars.IsEDnsEnabled);
        Assert.Equal(1232, ars.EDnsOptions!.UdpPayloadSize);

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(q);
        Assert.Equal(0x4242, dc.Header.Id);
        Assert.Equal(1, dc.Header.QuestionCount);
        Assert.Equal("www.example.com.", dc.Questions[0].QueryName.Value.ToLowerInvariant());
        Assert.Equal(DnsClient.QueryType.AAAA, dc.Questions[0].QuestionType);
        Assert.Single(dc.Additionals);

        // RFC 1035 §4.1.1 bytes for the fixed part are exactly as specified.
        Assert.Equal(Hex("4242 0100 0001 0000 0000 0001"), q.AsSpan(0, 12).ToArray());
    }

    [Fact]
    public void Query_WithoutEdns_HasNoAdditional()
    {
        byte[] q = BuildQuery("example.com", DnsType.A, null);
        Assert.Equal(DnsMessageReaderTests.Query.Length - 4, q.Length);
        Assert.False(ArsoftOracle.Parse(q).IsEDnsEnabled);
    }

    /// <summary>A response with one record of each writable TYPE, built from a query.</summary>
    private static byte[] BuildRichResponse(byte[] query)
    {
        var buf = new byte[1500];
        var w = new DnsMessageWriter(buf);
        var reader = new DnsMessageReader(query);
        Assert.True(reader.TryReadQuestion(out DnsQuestion q));

        Assert.True(w.TryBeginResponse(query, DnsRcode.NoError, authoritative: true));
        Assert.True(w.TryWriteCname(DnsSection.Answer, q.Name, 3600, "web.example.com"));
        Assert.True(w.TryWriteA(DnsSection.Answer, "web.example.com", 300, IpAddr.Parse("192.0.2.1")));
        Assert.True(w.TryWriteA(DnsSection.Answer, "web.example.com", 300, IpAddr.Parse("192.0.2.2")));
        Assert.True(w.TryWriteAaaa(DnsSection.Answer, "web.example.com", 300, IpAddr.Parse("2001:db8::1")));
        Assert.True(w.TryWriteTxt(DnsSection.Answer, "example.com", 60, "v=spf1 -all"u8));
        Assert.True(w.TryWriteMx(DnsSection.Answer, "example.com", 60, 10, "mail.example.com"));
        Assert.True(w.TryWritePtr(DnsSection.Answer, "1.2.0.192.in-addr.arpa", 60, "web.example.com"));
        Assert.True(w.TryWriteNull(DnsSection.Answer, "null.example.com", 60, [1, 2, 3, 4]));
        Assert.True(w.TryWriteSoa(DnsSection.Authority, "example.com", 900, "ns1.example.com", "hostmaster.example.com", 7, 7200, 3600, 1209600, 300));
        Assert.True(w.TryWriteNs(DnsSection.Authority, "example.com", 900, "ns1.example.com"));
        Assert.True(w.TryFinish(out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    [Fact]
    public void Response_IsParsedByArsoft()
    {
        byte[] query = BuildQuery("www.example.com", DnsType.A, 4096);
        byte[] response = BuildRichResponse(query);
        Ars.DnsMessage m = ArsoftOracle.Parse(response);

        Assert.False(m.IsQuery);
        Assert.Equal(0x4242, m.TransactionID);
        Assert.True(m.IsRecursionDesired);
        Assert.True(m.IsRecursionAllowed);
        Assert.True(m.IsAuthoritiveAnswer);
        Assert.Equal(Ars.ReturnCode.NoError, m.ReturnCode);
        Assert.Equal("www.example.com.", m.Questions.Single().Name.ToString());
        Assert.Equal(8, m.AnswerRecords.Count);
        Assert.Equal("web.example.com.", ((Ars.CNameRecord)m.AnswerRecords[0]).CanonicalName.ToString());
        Assert.Equal(IPAddress.Parse("192.0.2.1"), ((Ars.ARecord)m.AnswerRecords[1]).Address);
        Assert.Equal(IPAddress.Parse("192.0.2.2"), ((Ars.ARecord)m.AnswerRecords[2]).Address);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), ((Ars.AaaaRecord)m.AnswerRecords[3]).Address);
        Assert.Equal("v=spf1 -all", ((Ars.TxtRecord)m.AnswerRecords[4]).TextData);
        var mx = (Ars.MxRecord)m.AnswerRecords[5];
        Assert.Equal((10, "mail.example.com."), (mx.Preference, mx.ExchangeDomainName.ToString()));
        Assert.Equal("web.example.com.", ((Ars.PtrRecord)m.AnswerRecords[6]).PointerDomainName.ToString());
        Assert.Equal(Ars.RecordType.Null, m.AnswerRecords[7].RecordType);
        var soa = (Ars.SoaRecord)m.AuthorityRecords[0];
        Assert.Equal(("ns1.example.com.", "hostmaster.example.com.", 7u, 300), (soa.MasterName.ToString(), soa.ResponsibleName.ToString(), soa.SerialNumber, soa.NegativeCachingTTL));
        Assert.Equal(Ars.RecordType.Ns, m.AuthorityRecords[1].RecordType);
        Assert.True(m.IsEDnsEnabled);
        Assert.Equal(DnsMessageWriter.DefaultEdnsUdpPayloadSize, m.EDnsOptions!.UdpPayloadSize);
    }

    [Fact]
    public void Response_IsParsedByDnsClient()
    {
        byte[] query = BuildQuery("www.example.com", DnsType.A, 4096);
        byte[] response = BuildRichResponse(query);
        DnsClientOracle.Parsed m = DnsClientOracle.Parse(response);

        Assert.Equal(0x4242, m.Header.Id);
        Assert.True(m.Header.HasAuthorityAnswer);
        Assert.True(m.Header.RecursionAvailable);
        Assert.Equal(8, m.Answers.Count);
        Assert.Equal("web.example.com.", ((DnsClient.Protocol.CNameRecord)m.Answers[0]).CanonicalName.Value);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), ((DnsClient.Protocol.ARecord)m.Answers[1]).Address);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), ((DnsClient.Protocol.AaaaRecord)m.Answers[3]).Address);
        Assert.Equal("v=spf1 -all", ((DnsClient.Protocol.TxtRecord)m.Answers[4]).Text.Single());
        Assert.Equal("mail.example.com.", ((DnsClient.Protocol.MxRecord)m.Answers[5]).Exchange.Value);
        Assert.Equal("web.example.com.", ((DnsClient.Protocol.PtrRecord)m.Answers[6]).PtrDomainName.Value);
        Assert.Equal([1, 2, 3, 4], ((DnsClient.Protocol.NullRecord)m.Answers[7]).Anything);
        var soa = (DnsClient.Protocol.SoaRecord)m.Authorities[0];
        Assert.Equal(("ns1.example.com.", "hostmaster.example.com.", 300u), (soa.MName.Value, soa.RName.Value, soa.Minimum));
        Assert.Single(m.Additionals);
    }

    [Fact]
    public void Response_RoundTripsThroughOurReader()
    {
        byte[] query = BuildQuery("www.example.com", DnsType.A, 4096);
        byte[] response = BuildRichResponse(query);
        var records = ReadAll(response, out DnsHeader h);
        Assert.Equal((8, 2, 1), ((int)h.AnswerCount, (int)h.AuthorityCount, (int)h.AdditionalCount));
        Assert.Equal(
            ["www.example.com", "web.example.com", "web.example.com", "web.example.com", "example.com", "example.com", "1.2.0.192.in-addr.arpa", "null.example.com", "example.com", "example.com", "."],
            records.Select(r => r.Name));
    }

    [Fact]
    public void Compression_PointsAnswersAtTheQuestion()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteQuestion("www.example.com", DnsType.A));
        for (int i = 1; i <= 5; i++)
        {
            Assert.True(w.TryWriteA(DnsSection.Answer, "WWW.EXAMPLE.COM", 60, IpAddr.FromV4((uint)(0xC0000200 + i))));
        }

        Assert.True(w.TryFinish(out int n));

        // Header 12 + question 17+4, then each answer: pointer 2 + fixed 10 + rdata 4.
        Assert.Equal(12 + 21 + (5 * 16), n);
        Assert.Equal(0xC0, buf[33]);
        Assert.Equal(0x0C, buf[34]);
        Assert.Equal(5, ArsoftOracle.Parse(buf.AsSpan(0, n)).AnswerRecords.Count);
    }

    [Fact]
    public void Compression_SharesLongestSuffix()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteQuestion("a.example.com", DnsType.A));
        int before = w.BytesWritten;
        Assert.True(w.TryWriteCname(DnsSection.Answer, "b.example.com", 60, "c.b.example.com"));
        Assert.True(w.TryFinish(out int n));

        // Owner "b" + ptr(example.com @14) = 4 bytes; target "c" + ptr(owner @before) = 4 bytes.
        Assert.Equal(before + 4 + 10 + 4, n);
        Assert.Equal(new byte[] { 1, (byte)'b', 0xC0, 14 }, buf.AsSpan(before, 4).ToArray());
        Assert.Equal(new byte[] { 1, (byte)'c', 0xC0, (byte)before }, buf.AsSpan(before + 14, 4).ToArray());

        Ars.DnsMessage m = ArsoftOracle.Parse(buf.AsSpan(0, n));
        Assert.Equal("c.b.example.com.", ((Ars.CNameRecord)m.AnswerRecords[0]).CanonicalName.ToString());
        Assert.Equal("b.example.com.", m.AnswerRecords[0].Name.ToString());
    }

    [Fact]
    public void Compression_SurvivesAFullTable()
    {
        var buf = new byte[8192];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteQuestion("q.example.net", DnsType.TXT));
        var expected = new List<string>();
        for (int i = 0; i < 3 * DnsMessageWriter.CompressionSlots; i++)
        {
            string name = $"h{i}.z{i % 7}.example.net";
            expected.Add(name);
            Assert.True(w.TryWriteTxt(DnsSection.Answer, name, 1, "x"u8));
        }

        Assert.True(w.TryFinish(out int n));
        var records = ReadAll(buf.AsSpan(0, n).ToArray(), out _);
        Assert.Equal(expected, records.Select(r => r.Name));
        Assert.Equal(expected.Count, ArsoftOracle.Parse(buf.AsSpan(0, n)).AnswerRecords.Count);
    }

    [Fact]
    public void SvcbTarget_IsNotCompressed()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteQuestion("example.com", DnsType.HTTPS));
        Assert.True(w.TryBeginRecord(DnsSection.Answer, "example.com", DnsType.HTTPS, DnsClass.IN, 300));
        Assert.True(w.TryWriteRdataUInt16(1));
        Assert.True(w.TryWriteRdataName("example.com", compress: false));
        Assert.True(w.TryWriteRdata([0, 1, 0, 3, 2, (byte)'h', (byte)'2']));
        Assert.True(w.TryEndRecord());
        Assert.True(w.TryFinish(out int n));

        var r = new DnsMessageReader(buf.AsSpan(0, n));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSvcb(out DnsSvcb svcb));
        Assert.Equal("example.com", svcb.Target.ToString());
        Assert.True(svcb.Params.TryGetAlpn(out DnsCharacterStrings alpn));
        Assert.Equal(1, alpn.Count);
    }

    [Fact]
    public void NameFromAnotherMessage_KeepsCase_AndCompresses()
    {
        byte[] query = BuildQuery("WwW.ExAmPlE.CoM", DnsType.A, null);
        var r = new DnsMessageReader(query);
        Assert.True(r.TryReadQuestion(out DnsQuestion q));

        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(7, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteQuestion(q.Name, q.Type));
        Assert.True(w.TryWriteA(DnsSection.Answer, q.Name, 5, IpAddr.Parse("198.51.100.7")));
        Assert.True(w.TryFinish(out int n));
        Assert.Equal("WwW.ExAmPlE.CoM", FirstQuestionName(buf.AsSpan(0, n).ToArray()));
        Assert.Equal(0xC0, buf[12 + 17 + 4]);
    }

    [Theory]
    [InlineData(DnsRcode.Refused)]
    [InlineData(DnsRcode.ServFail)]
    [InlineData(DnsRcode.NxDomain)]
    public void ErrorResponse_CopiesQuestion_KeepsIdAndRd_EchoesOpt(DnsRcode rcode)
    {
        // A query with DO set (RFC 3225) and CD set, built by ARSoft.
        var query = new Ars.DnsMessage { TransactionID = 0x5151, IsQuery = true, IsRecursionDesired = true, IsCheckingDisabled = true, IsEDnsEnabled = true };
        query.IsDnsSecOk = true;
        query.Questions.Add(new Ars.DnsQuestion(DomainName.Parse("blocked.Example.org"), Ars.RecordType.Https, Ars.RecordClass.INet));
        byte[] q = ArsoftOracle.Encode(query);

        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteErrorResponse(q, buf, rcode, out int n));
        byte[] response = buf.AsSpan(0, n).ToArray();

        Ars.DnsMessage m = ArsoftOracle.Parse(response);
        Assert.False(m.IsQuery);
        Assert.Equal(0x5151, m.TransactionID);
        Assert.True(m.IsRecursionDesired);
        Assert.True(m.IsRecursionAllowed);
        Assert.True(m.IsCheckingDisabled);
        Assert.Equal((Ars.ReturnCode)(int)rcode, m.ReturnCode);
        Assert.Equal("blocked.Example.org.", m.Questions.Single().Name.ToString());
        Assert.Equal(Ars.RecordType.Https, m.Questions.Single().RecordType);
        Assert.Empty(m.AnswerRecords);
        Assert.True(m.IsEDnsEnabled);
        Assert.True(m.IsDnsSecOk);

        DnsClientOracle.Parsed dc = DnsClientOracle.Parse(response);
        Assert.Equal((int)rcode, (int)dc.Header.ResponseCode);
        Assert.Equal("blocked.example.org.", dc.Questions.Single().QueryName.Value.ToLowerInvariant());
    }

    [Fact]
    public void ErrorResponse_WithoutOptInQuery_HasNoOpt()
    {
        byte[] q = BuildQuery("example.com", DnsType.A, null);
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteRefused(q, buf, out int n));
        Assert.Equal(q.Length, n);
        Assert.False(ArsoftOracle.Parse(buf.AsSpan(0, n)).IsEDnsEnabled);
        Assert.True(DnsMessageWriter.TryWriteServFail(q, buf, out _));
        Assert.True(DnsMessageWriter.TryWriteNxDomain(q, buf, out _));
    }

    [Fact]
    public void NxDomain_WithSoa_IsNegativelyCacheable()
    {
        byte[] q = BuildQuery("nope.example.com", DnsType.A, 1232);
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteNxDomain(q, buf, "example.com", 900, "ns1.example.com", "hostmaster.example.com", 1, 2, 3, 4, 60, out int n));
        Ars.DnsMessage m = ArsoftOracle.Parse(buf.AsSpan(0, n));
        Assert.Equal(Ars.ReturnCode.NxDomain, m.ReturnCode);
        var soa = (Ars.SoaRecord)m.AuthorityRecords.Single();
        Assert.Equal(60, soa.NegativeCachingTTL);

        var r = new DnsMessageReader(buf.AsSpan(0, n));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSoa(out DnsSoa ours));
        Assert.Equal(60u, ours.NegativeTtl(rec.Ttl));
    }

    [Fact]
    public void ExtendedRcode_GoesIntoOpt()
    {
        byte[] q = BuildQuery("example.com", DnsType.A, 1232);
        var buf = new byte[512];
        Assert.True(DnsMessageWriter.TryWriteErrorResponse(q, buf, DnsRcode.BadCookie, out int n));
        var r = new DnsMessageReader(buf.AsSpan(0, n));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadOpt(out DnsOpt opt));
        Assert.Equal(DnsRcode.BadCookie, opt.GetRcode(r.Header));

        byte[] noOpt = BuildQuery("example.com", DnsType.A, null);
        Assert.False(DnsMessageWriter.TryWriteErrorResponse(noOpt, buf, DnsRcode.BadCookie, out _));
    }

    [Fact]
    public void BeginResponse_RefusesResponsesAndMalformedQueries()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.False(w.TryBeginResponse(DnsMessageReaderTests.Response, DnsRcode.Refused));
        Assert.Equal(DnsError.NotAQuery, w.Error);

        byte[] bad = [.. Header(1, 0, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1];
        var w2 = new DnsMessageWriter(buf);
        Assert.False(w2.TryBeginResponse(bad, DnsRcode.Refused));
        Assert.Equal(DnsError.ForwardPointer, w2.Error);
        Assert.Equal(0, w2.BytesWritten);
    }

    [Fact]
    public void SmallBuffers_FailCleanly_AtEverySize()
    {
        byte[] query = BuildQuery("www.example.com", DnsType.A, 4096);
        byte[] full = BuildRichResponse(query);
        for (int size = 0; size < full.Length; size++)
        {
            var buf = new byte[size];
            var w = new DnsMessageWriter(buf);
            bool ok = w.TryBeginResponse(query, DnsRcode.NoError, authoritative: true)
                && w.TryWriteCname(DnsSection.Answer, "www.example.com", 3600, "web.example.com")
                && w.TryWriteA(DnsSection.Answer, "web.example.com", 300, IpAddr.Parse("192.0.2.1"))
                && w.TryWriteTxt(DnsSection.Answer, "example.com", 60, "v=spf1 -all"u8)
                && w.TryWriteSoa(DnsSection.Authority, "example.com", 900, "ns1.example.com", "hostmaster.example.com", 7, 7200, 3600, 1209600, 300)
                && w.TryFinish(out _);
            if (!ok)
            {
                Assert.Equal(DnsError.BufferTooSmall, w.Error);

                // Whatever was written before the failing call is still a parseable message.
                if (w.BytesWritten >= DnsHeader.Length)
                {
                    Assert.True(DnsMessageReader.TryValidate(buf.AsSpan(0, w.BytesWritten), out DnsError e), $"size {size}: {e}");
                }
            }
        }
    }

    [Fact]
    public void Sections_MustBeInOrder()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.False(w.TryWriteQuestion("a", DnsType.A));
        Assert.Equal(DnsError.InvalidState, w.Error);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteA(DnsSection.Authority, "a", 1, IpAddr.Parse("192.0.2.1")));
        Assert.False(w.TryWriteA(DnsSection.Answer, "a", 1, IpAddr.Parse("192.0.2.1")));
        Assert.False(w.TryWriteQuestion("a", DnsType.A));
        Assert.False(w.TryWriteA(DnsSection.Additional, "a", 1, IpAddr.Parse("2001:db8::1")));
        Assert.Equal(DnsError.BadRdata, w.Error);
        Assert.True(w.TryBeginRecord(DnsSection.Additional, "a", DnsType.NULL, DnsClass.IN, 0));
        Assert.False(w.TryFinish(out _));
        Assert.True(w.TryEndRecord());
        Assert.True(w.TryFinish(out int n));
        var records = ReadAll(buf.AsSpan(0, n).ToArray(), out DnsHeader h);
        Assert.Equal((0, 0, 1, 1), ((int)h.QuestionCount, (int)h.AnswerCount, (int)h.AuthorityCount, (int)h.AdditionalCount));
        Assert.Equal(2, records.Count);
    }

    [Fact]
    public void BadNameText_RollsBack()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        int before = w.BytesWritten;
        Assert.False(w.TryWriteQuestion("a..b", DnsType.A));
        Assert.Equal(DnsError.BadNameText, w.Error);
        Assert.Equal(before, w.BytesWritten);
        Assert.True(w.TryBeginRecord(DnsSection.Answer, "ok.example", DnsType.CNAME, DnsClass.IN, 1));
        Assert.False(w.TryWriteRdataName(new string('x', 64), compress: true));
        Assert.Equal(DnsError.LabelTooLong, w.Error);
        Assert.Equal(before, w.BytesWritten);
        Assert.True(DnsMessageReader.TryValidate(w.WrittenSpan, out _));
    }

    [Fact]
    public void LongTxt_IsSplitInto255ByteStrings()
    {
        byte[] text = Enumerable.Range(0, 600).Select(i => (byte)('a' + (i % 26))).ToArray();
        var buf = new byte[1024];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        Assert.True(w.TryWriteTxt(DnsSection.Answer, "t.example", 1, text));
        Assert.True(w.TryFinish(out int n));
        var r = new DnsMessageReader(buf.AsSpan(0, n));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadTxt(out DnsCharacterStrings txt));
        Assert.Equal(3, txt.Count);
        Assert.Equal(600, txt.TotalLength);
        Assert.Equal(string.Concat(((Ars.TxtRecord)ArsoftOracle.Parse(buf.AsSpan(0, n)).AnswerRecords[0]).TextParts), System.Text.Encoding.ASCII.GetString(text));
    }

    [Fact]
    public void OptOptions_RoundTrip()
    {
        Span<byte> options = stackalloc byte[32];
        Assert.True(DnsMessageWriter.TryWriteEdnsOption(options, (ushort)EdnsOptionCode.Cookie, [1, 2, 3, 4, 5, 6, 7, 8], out int n1));
        Assert.True(DnsMessageWriter.TryWriteEdnsOption(options.Slice(n1), (ushort)EdnsOptionCode.Padding, [0, 0, 0], out int n2));
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(3, DnsHeaderFlags.RecursionDesired));
        Assert.True(w.TryWriteQuestion("example.com", DnsType.A));
        Assert.True(w.TryWriteOpt(1400, dnssecOk: true, options.Slice(0, n1 + n2)));
        Assert.False(w.TryWriteOpt(1400));
        Assert.True(w.TryFinish(out int n));

        var r = new DnsMessageReader(buf.AsSpan(0, n));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadOpt(out DnsOpt opt));
        Assert.Equal((1400, true, 2), (opt.UdpPayloadSize, opt.DnssecOk, opt.Options.Count));

        Ars.DnsMessage m = ArsoftOracle.Parse(buf.AsSpan(0, n));
        Assert.Equal(2, m.EDnsOptions!.Options.Count);
        Assert.True(m.IsDnsSecOk);
    }
}
