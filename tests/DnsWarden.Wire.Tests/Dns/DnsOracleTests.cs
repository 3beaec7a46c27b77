using System.Net;
using ARSoft.Tools.Net;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using Ars = ARSoft.Tools.Net.Dns;

namespace DnsWarden.Wire.Tests.Dns;

/// <summary>Messages built and encoded by ARSoft.Tools.Net, read by our reader.</summary>
public sealed class DnsOracleTests
{
    private static byte[] ArsoftResponse()
    {
        var m = new Ars.DnsMessage
        {
            TransactionID = 0x0A0B,
            IsQuery = false,
            IsRecursionDesired = true,
            IsRecursionAllowed = true,
            IsAuthenticData = true,
            ReturnCode = Ars.ReturnCode.NoError,
            IsEDnsEnabled = true,
        };
        m.IsDnsSecOk = true;
        m.EDnsOptions!.UdpPayloadSize = 1400;
        DomainName www = DomainName.Parse("www.example.com");
        DomainName web = DomainName.Parse("web.Example.com");
        m.Questions.Add(new Ars.DnsQuestion(www, Ars.RecordType.A, Ars.RecordClass.INet));
        m.AnswerRecords.Add(new Ars.CNameRecord(www, 3600, web));
        m.AnswerRecords.Add(new Ars.ARecord(web, 300, IPAddress.Parse("203.0.113.9")));
        m.AnswerRecords.Add(new Ars.AaaaRecord(web, 300, IPAddress.Parse("2001:db8::9")));
        m.AnswerRecords.Add(new Ars.TxtRecord(DomainName.Parse("example.com"), 60, ["part one", "part two"]));
        m.AnswerRecords.Add(new Ars.MxRecord(DomainName.Parse("example.com"), 60, 5, DomainName.Parse("mx.example.com")));
        m.AnswerRecords.Add(new Ars.SrvRecord(DomainName.Parse("_ldap._tcp.example.com"), 60, 1, 2, 389, DomainName.Parse("dc.example.com")));
        m.AnswerRecords.Add(new Ars.HttpsRecord(
            DomainName.Parse("example.com"),
            60,
            1,
            DomainName.Parse("svc.example.net"),
            new Dictionary<Ars.ServiceBindingParameterKey, Ars.ServiceBindingParameterBase>
            {
                [Ars.ServiceBindingParameterKey.Port] = new Ars.PortServiceBindingParameter(8443),
                [Ars.ServiceBindingParameterKey.ECH] = new Ars.UnknownServiceBindingParameter(Ars.ServiceBindingParameterKey.ECH, [9, 9, 9]),
            }));
        m.AuthorityRecords.Add(new Ars.SoaRecord(DomainName.Parse("example.com"), 900, DomainName.Parse("ns.example.com"), DomainName.Parse("admin.example.com"), 42, 1, 2, 3, 120));
        return ArsoftOracle.Encode(m);
    }

    [Fact]
    public void ArsoftResponse_IsReadFully()
    {
        byte[] bytes = ArsoftResponse();
        var r = new DnsMessageReader(bytes);
        Assert.True(r.TryReadHeader(out DnsHeader h));
        Assert.Equal(0x0A0B, h.Id);
        Assert.True(h.IsResponse && h.RecursionDesired && h.RecursionAvailable && h.AuthenticData);
        Assert.True(r.TryReadQuestion(out DnsQuestion q));
        Assert.True(q.Name.EqualsAscii("www.example.com"));

        Assert.True(r.TryReadRecord(out DnsRecord cname));
        Assert.True(cname.TryReadName(out DnsName target));
        // ARSoft compresses case-insensitively, so "Example" may come back as the question's "example".
        Assert.Equal("web.example.com", target.ToString(), ignoreCase: true);

        Assert.True(r.TryReadRecord(out DnsRecord a));
        Assert.True(a.Name.EqualsAscii("WEB.example.COM"));
        Assert.True(a.TryReadA(out IpAddr v4));
        Assert.Equal(IpAddr.Parse("203.0.113.9"), v4);

        Assert.True(r.TryReadRecord(out DnsRecord aaaa));
        Assert.True(aaaa.TryReadAaaa(out IpAddr v6));
        Assert.Equal(IpAddr.Parse("2001:db8::9"), v6);

        Assert.True(r.TryReadRecord(out DnsRecord txt));
        Assert.True(txt.TryReadTxt(out DnsCharacterStrings strings));
        Assert.Equal(2, strings.Count);

        Assert.True(r.TryReadRecord(out DnsRecord mxRec));
        Assert.True(mxRec.TryReadMx(out DnsMx mx));
        Assert.Equal((5, "mx.example.com"), (mx.Preference, mx.Exchange.ToString()));

        Assert.True(r.TryReadRecord(out DnsRecord srvRec));
        Assert.True(srvRec.TryReadSrv(out DnsSrv srv));
        Assert.Equal((389, "dc.example.com"), (srv.Port, srv.Target.ToString()));
        Assert.True(srvRec.Name.IsSubdomainOf("example.com"));

        Assert.True(r.TryReadRecord(out DnsRecord https));
        Assert.True(https.TryReadSvcb(out DnsSvcb svcb), "HTTPS from ARSoft");
        Assert.Equal("svc.example.net", svcb.Target.ToString());
        Assert.True(svcb.Params.TryGetPort(out ushort port));
        Assert.Equal(8443, port);
        Assert.True(svcb.Params.HasEch);

        Assert.True(r.TryReadRecord(out DnsRecord soaRec));
        Assert.Equal(DnsSection.Authority, soaRec.Section);
        Assert.True(soaRec.TryReadSoa(out DnsSoa soa));
        Assert.Equal((42u, 120u, "admin.example.com"), (soa.Serial, soa.Minimum, soa.ResponsibleMailbox.ToString()));

        Assert.True(r.TryReadRecord(out DnsRecord optRec));
        Assert.True(optRec.TryReadOpt(out DnsOpt opt));
        Assert.Equal(1400, opt.UdpPayloadSize);
        Assert.True(opt.DnssecOk);

        Assert.False(r.TryReadRecord(out _));
        Assert.True(r.IsComplete);
    }

    [Fact]
    public void ArsoftResponse_EveryProperPrefix_Fails()
    {
        byte[] bytes = ArsoftResponse();
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.False(DnsMessageReader.TryValidate(bytes.AsSpan(0, i), out DnsError e));
            Assert.Equal(DnsError.Truncated, e);
        }
    }

    [Fact]
    public void ArsoftResponse_RewrittenByUs_MatchesRecordForRecord()
    {
        // Copy every record (owner names as DnsName, raw RDATA) into a new message and compare.
        byte[] original = ArsoftResponse();
        var buf = new byte[2048];
        var w = new DnsMessageWriter(buf);
        var r = new DnsMessageReader(original);
        Assert.True(r.TryReadHeader(out DnsHeader h));
        Assert.True(w.TryWriteHeader(h.Id, h.Flags, h.Opcode, h.Rcode));
        while (r.TryReadQuestion(out DnsQuestion q))
        {
            Assert.True(w.TryWriteQuestion(q.Name, q.Type, q.Class));
        }

        while (r.TryReadRecord(out DnsRecord rec))
        {
            // Only RDATA without names can be copied raw; the name-bearing types are re-encoded.
            if (rec.TryReadName(out DnsName target))
            {
                Assert.True(w.TryWriteNameRecord(rec.Section, rec.Name, rec.Type, rec.Ttl, target));
            }
            else if (rec.TryReadMx(out DnsMx mx))
            {
                Assert.True(w.TryWriteMx(rec.Section, rec.Name, rec.Ttl, mx.Preference, mx.Exchange));
            }
            else if (rec.TryReadSoa(out DnsSoa soa))
            {
                Assert.True(w.TryWriteSoa(rec.Section, rec.Name, rec.Ttl, soa.PrimaryServer, soa.ResponsibleMailbox, soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minimum));
            }
            else if (rec.TryReadSrv(out DnsSrv srv))
            {
                Assert.True(w.TryBeginRecord(rec.Section, rec.Name, rec.Type, rec.Class, rec.Ttl));
                Assert.True(w.TryWriteRdataUInt16(srv.Priority) && w.TryWriteRdataUInt16(srv.Weight) && w.TryWriteRdataUInt16(srv.Port));
                Assert.True(w.TryWriteRdataName(srv.Target, compress: false));
                Assert.True(w.TryEndRecord());
            }
            else
            {
                Assert.True(w.TryWriteRecord(rec.Section, rec.Name, rec.Type, rec.Class, rec.Ttl, rec.Rdata));
            }
        }

        Assert.True(w.TryFinish(out int n));
        var ours = DnsTestUtil.ReadAll(buf.AsSpan(0, n).ToArray(), out _);
        var theirs = DnsTestUtil.ReadAll(original, out _);
        Assert.Equal(theirs.Select(t => (t.Name, t.Type, t.Section, t.Ttl)), ours.Select(t => (t.Name, t.Type, t.Section, t.Ttl)));

        Ars.DnsMessage back = ArsoftOracle.Parse(buf.AsSpan(0, n));
        Assert.Equal(ArsoftOracle.Parse(original).ToString(), back.ToString());
    }
}
