using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;
using static DnsWarden.Wire.Tests.Dns.DnsTestUtil;

namespace DnsWarden.Wire.Tests.Dns;

public sealed class DnsMessageReaderTests
{
    /// <summary>RFC 1035 §4.1.1/§4.1.2: standard query, RD set, "www.example.com IN A".</summary>
    internal static readonly byte[] Query = Hex("""
        1234 0100 0001 0000 0000 0000
        03 777777 07 6578616d706c65 03 636f6d 00
        0001 0001
        """);

    /// <summary>
    /// Response to <see cref="Query"/>: QR RD RA, a CNAME to "web.example.com" whose owner is a
    /// pointer to the question (RFC 1035 §4.1.4), an A record for the target ("web" + pointer to
    /// "example.com" at 16), and an OPT (RFC 6891 §6.1.2: root owner, 4096 payload, DO set, no options).
    /// </summary>
    internal static readonly byte[] Response = Hex("""
        1234 8180 0001 0002 0000 0001
        03 777777 07 6578616d706c65 03 636f6d 00 0001 0001
        c00c 0005 0001 00000e10 0006 03 776562 c010
        c02d 0001 0001 0000012c 0004 c0000201
        00 0029 1000 00008000 0000
        """);

    [Fact]
    public void Query_Vector_Decodes()
    {
        var r = new DnsMessageReader(Query);
        Assert.True(r.TryReadHeader(out DnsHeader h));
        Assert.Equal(0x1234, h.Id);
        Assert.False(h.IsResponse);
        Assert.Equal(DnsOpcode.Query, h.Opcode);
        Assert.True(h.RecursionDesired);
        Assert.Equal(DnsRcode.NoError, h.Rcode);
        Assert.Equal(1, h.QuestionCount);
        Assert.True(r.TryReadQuestion(out DnsQuestion q));
        Assert.True(q.Name.EqualsAscii("www.example.com"));
        Assert.Equal(DnsType.A, q.Type);
        Assert.Equal(DnsClass.IN, q.Class);
        Assert.False(r.TryReadQuestion(out _));
        Assert.False(r.TryReadRecord(out _));
        Assert.Equal(DnsError.None, r.Error);
        Assert.True(r.IsComplete);
        Assert.Equal(0, r.TrailingBytes);
    }

    [Fact]
    public void Response_Vector_Decodes_EveryRecord()
    {
        var r = new DnsMessageReader(Response);
        Assert.True(r.TryReadRecord(out DnsRecord cname));
        Assert.True(r.Header.IsResponse);
        Assert.True(r.Header.RecursionAvailable);
        Assert.Equal(DnsSection.Answer, cname.Section);
        Assert.Equal(DnsType.CNAME, cname.Type);
        Assert.Equal(3600u, cname.Ttl);
        Assert.Equal(2, cname.Name.WireLengthInMessage);
        Assert.True(cname.Name.EqualsAscii("www.example.com"));
        Assert.True(cname.TryReadName(out DnsName target));
        Assert.Equal("web.example.com", target.ToString());
        Assert.False(cname.TryReadA(out _));

        Assert.True(r.TryReadRecord(out DnsRecord a));
        Assert.Equal("web.example.com", a.Name.ToString());
        Assert.True(a.TryReadA(out IpAddr ip));
        Assert.Equal(IpAddr.Parse("192.0.2.1"), ip);
        Assert.True(a.TryReadAddress(out _));

        Assert.True(r.TryReadRecord(out DnsRecord optRecord));
        Assert.Equal(DnsSection.Additional, optRecord.Section);
        Assert.True(optRecord.TryReadOpt(out DnsOpt opt));
        Assert.Equal(4096, opt.UdpPayloadSize);
        Assert.True(opt.DnssecOk);
        Assert.Equal(0, opt.Version);
        Assert.Equal(0, opt.Options.Count);
        Assert.Equal(DnsRcode.NoError, opt.GetRcode(r.Header));

        Assert.False(r.TryReadRecord(out _));
        Assert.True(r.IsComplete);
        Assert.True(DnsMessageReader.TryValidate(Response, out DnsError e));
        Assert.Equal(DnsError.None, e);
    }

    public static TheoryData<string> ValidMessages => new() { "query", "response", "svcb" };

    private static byte[] Named(string which) => which switch
    {
        "query" => Query,
        "response" => Response,
        _ => SingleAnswer("example.com", DnsType.SVCB, Rfc9460Figure7),
    };

    [Theory]
    [MemberData(nameof(ValidMessages))]
    public void EveryProperPrefix_FailsCleanly(string which)
    {
        byte[] full = Named(which);
        Assert.True(DnsMessageReader.TryValidate(full, out _));
        for (int length = 0; length < full.Length; length++)
        {
            byte[] prefix = full.AsSpan(0, length).ToArray();
            Assert.False(DnsMessageReader.TryValidate(prefix, out DnsError error), $"prefix {length}");
            Assert.Equal(DnsError.Truncated, error);
        }
    }

    [Fact]
    public void CountsLargerThanMessage_AreTruncated()
    {
        byte[] m = (byte[])Query.Clone();
        m[5] = 2;
        Assert.False(DnsMessageReader.TryValidate(m, out DnsError e));
        Assert.Equal(DnsError.Truncated, e);

        byte[] r = (byte[])Response.Clone();
        r[6] = 0xFF;
        r[7] = 0xFF;
        var reader = new DnsMessageReader(r);
        int records = 0;
        while (reader.TryReadRecord(out _))
        {
            records++;
        }

        Assert.Equal(3, records);
        Assert.Equal(DnsError.Truncated, reader.Error);
        Assert.False(reader.IsComplete);
    }

    [Fact]
    public void RdataLengthPastEnd_IsTruncated()
    {
        byte[] m = SingleAnswer("example.com", DnsType.A, [192, 0, 2, 1]);
        m[^5] = 5;
        Assert.False(DnsMessageReader.TryValidate(m, out DnsError e));
        Assert.Equal(DnsError.Truncated, e);
    }

    [Fact]
    public void Errors_AreSticky()
    {
        byte[] m = [.. Header(1, 0, 1, 0, 0, 0), 0xC0, 0x0C, 0, 1, 0, 1];
        var r = new DnsMessageReader(m);
        Assert.False(r.TryReadQuestion(out _));
        Assert.Equal(DnsError.ForwardPointer, r.Error);
        Assert.False(r.TryReadRecord(out _));
        Assert.False(r.TryReadQuestion(out _));
        Assert.Equal(DnsError.ForwardPointer, r.Error);
    }

    [Fact]
    public void Aaaa_Decodes()
    {
        byte[] v6 = Hex("20010db8000000000000000000000001");
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.AAAA, v6));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadAaaa(out IpAddr ip));
        Assert.Equal(IpAddr.Parse("2001:db8::1"), ip);
        Assert.False(rec.TryReadA(out _));
    }

    [Theory]
    [InlineData(DnsType.A, 3)]
    [InlineData(DnsType.A, 5)]
    [InlineData(DnsType.AAAA, 4)]
    [InlineData(DnsType.AAAA, 17)]
    public void AddressWithWrongLength_IsRejected(DnsType type, int length)
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", type, new byte[length]));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.False(rec.TryReadAddress(out _));
    }

    [Fact]
    public void Txt_IteratesStrings()
    {
        // RFC 1035 §3.3.14: "v=spf1" then an empty string then "x".
        byte[] rdata = [6, .. "v=spf1"u8, 0, 1, (byte)'x'];
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.TXT, rdata));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadTxt(out DnsCharacterStrings txt));
        Assert.Equal(3, txt.Count);
        var parts = new List<string>();
        foreach (ReadOnlySpan<byte> s in txt)
        {
            parts.Add(System.Text.Encoding.ASCII.GetString(s));
        }

        Assert.Equal(["v=spf1", "", "x"], parts);
        Span<byte> all = stackalloc byte[16];
        Assert.True(txt.TryCopyConcatenated(all, out int n));
        Assert.Equal("v=spf1x", System.Text.Encoding.ASCII.GetString(all.Slice(0, n)));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 5, 1, 2 })]
    public void Txt_Malformed_IsRejected(byte[] rdata)
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.TXT, rdata));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.False(rec.TryReadTxt(out _));
    }

    [Fact]
    public void Soa_Decodes_WithCompressedNames()
    {
        // Owner "example.com" (question at 12); MNAME "ns1" + ptr 12; RNAME "hostmaster" + ptr 12.
        byte[] rdata = [3, .. "ns1"u8, 0xC0, 12, 10, .. "hostmaster"u8, 0xC0, 12, .. U32(2024010101), .. U32(7200), .. U32(3600), .. U32(1209600), .. U32(300)];
        byte[] m =
        [
            .. Header(9, 0x8183, 1, 0, 1, 0),
            .. WireName("example.com"), 0, 1, 0, 1,
            0xC0, 12, 0, 6, 0, 1, .. U32(900), .. U16(rdata.Length), .. rdata,
        ];
        var r = new DnsMessageReader(m);
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.Equal(DnsSection.Authority, rec.Section);
        Assert.Equal(DnsRcode.NxDomain, r.Header.Rcode);
        Assert.True(rec.TryReadSoa(out DnsSoa soa));
        Assert.Equal("ns1.example.com", soa.PrimaryServer.ToString());
        Assert.Equal("hostmaster.example.com", soa.ResponsibleMailbox.ToString());
        Assert.Equal(2024010101u, soa.Serial);
        Assert.Equal(300u, soa.Minimum);
        Assert.Equal(300u, soa.NegativeTtl(rec.Ttl));
        Assert.Equal(100u, soa.NegativeTtl(100));

        // One byte too many or too few in the fixed part is malformed.
        Assert.False(DnsSoa.TryRead(m, rec.RdataOffset, rec.RdataLength - 1, out _, out DnsError e1));
        Assert.Equal(DnsError.BadRdata, e1);
    }

    [Fact]
    public void NameRdata_MustFillRdataExactly()
    {
        byte[] rdata = [.. WireName("a.example"), 0xAA];
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.CNAME, rdata));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.False(rec.TryReadName(out _));

        // A name running past RDLENGTH is malformed RDATA, not truncation of the message.
        byte[] rdata2 = WireName("a.example");
        byte[] m = SingleAnswer("example.com", DnsType.CNAME, rdata2);
        var r2 = new DnsMessageReader(m);
        Assert.True(r2.TryReadRecord(out DnsRecord rec2));
        Assert.False(DnsRdata.TryReadName(m, rec2.RdataOffset, rec2.RdataLength - 1, out _, out DnsError e));
        Assert.Equal(DnsError.BadRdata, e);
    }

    [Fact]
    public void Mx_And_Srv_Decode()
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.MX, [0, 10, 4, .. "mail"u8, 0xC0, 12]));
        Assert.True(r.TryReadRecord(out DnsRecord mxRec));
        Assert.True(mxRec.TryReadMx(out DnsMx mx));
        Assert.Equal(10, mx.Preference);
        Assert.Equal("mail.example.com", mx.Exchange.ToString());

        // RFC 2782: priority 1, weight 5, port 5060, target "sip.example.com".
        var r2 = new DnsMessageReader(SingleAnswer("_sip._udp.example.com", DnsType.SRV, [0, 1, 0, 5, 0x13, 0xC4, .. WireName("sip.example.com")]));
        Assert.True(r2.TryReadRecord(out DnsRecord srvRec));
        Assert.True(srvRec.TryReadSrv(out DnsSrv srv));
        Assert.Equal((1, 5, 5060), (srv.Priority, srv.Weight, srv.Port));
        Assert.True(srv.Target.EqualsAscii("sip.example.com"));
    }

    [Fact]
    public void Null_ExposesRawBytes()
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.NULL, [1, 2, 3]));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadNull(out ReadOnlySpan<byte> data));
        Assert.Equal([1, 2, 3], data.ToArray());
    }

    /// <summary>RFC 9460 Appendix D.2, Figure 4: "example.com. SVCB 16 foo.example.com. port=53".</summary>
    internal static readonly byte[] Rfc9460Figure4 = Hex("""
        0010
        03 666f6f 07 6578616d706c65 03 636f6d 00
        0003 0002 0035
        """);

    /// <summary>
    /// RFC 9460 Appendix D.2, Figure 7: "example.com. SVCB 16 foo.example.org. (alpn=h2,h3-19
    /// mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)".
    /// </summary>
    internal static readonly byte[] Rfc9460Figure7 = Hex("""
        0010
        03 666f6f 07 6578616d706c65 03 6f7267 00
        0000 0004 0001 0004
        0001 0009 02 6832 05 68332d3139
        0004 0004 c0000201
        """);

    /// <summary>RFC 9460 Appendix D.2, Figure 6: "example.com. SVCB 1 . ipv6hint=2001:db8::1,2001:db8::53:1".</summary>
    internal static readonly byte[] Rfc9460Figure6 = Hex("""
        0001 00
        0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001
        """);

    [Fact]
    public void Svcb_Rfc9460_Port()
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.SVCB, Rfc9460Figure4));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSvcb(out DnsSvcb svcb));
        Assert.Equal(16, svcb.Priority);
        Assert.False(svcb.IsAliasMode);
        Assert.Equal("foo.example.com", svcb.Target.ToString());
        Assert.True(svcb.Params.TryGetPort(out ushort port));
        Assert.Equal(53, port);
        Assert.False(svcb.Params.HasEch);
        Assert.False(svcb.Params.TryGetAlpn(out _));
    }

    [Fact]
    public void Https_Rfc9460_AlpnMandatoryIpv4Hint()
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.HTTPS, Rfc9460Figure7));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSvcb(out DnsSvcb svcb));
        Assert.Equal(3, svcb.Params.Count);
        var keys = new List<SvcParamKey>();
        foreach (DnsSvcParam p in svcb.Params)
        {
            keys.Add(p.Key);
        }

        Assert.Equal([SvcParamKey.Mandatory, SvcParamKey.Alpn, SvcParamKey.Ipv4Hint], keys);
        Assert.True(svcb.Params.TryGetAlpn(out DnsCharacterStrings alpn));
        var ids = new List<string>();
        foreach (ReadOnlySpan<byte> id in alpn)
        {
            ids.Add(System.Text.Encoding.ASCII.GetString(id));
        }

        Assert.Equal(["h2", "h3-19"], ids);
        Assert.True(svcb.Params.TryGetIpv4Hint(out DnsAddressList v4));
        Assert.Equal(1, v4.Count);
        Assert.Equal(IpAddr.Parse("192.0.2.1"), v4[0]);
        Assert.False(svcb.Params.TryGetIpv6Hint(out _));
    }

    [Fact]
    public void Svcb_Rfc9460_Ipv6Hint()
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.SVCB, Rfc9460Figure6));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSvcb(out DnsSvcb svcb));
        Assert.True(svcb.Target.IsRoot);
        Assert.True(svcb.Params.TryGetIpv6Hint(out DnsAddressList v6));
        var list = new List<IpAddr>();
        foreach (IpAddr a in v6)
        {
            list.Add(a);
        }

        Assert.Equal([IpAddr.Parse("2001:db8::1"), IpAddr.Parse("2001:db8::53:1")], list);
    }

    [Fact]
    public void Svcb_Ech_Presence()
    {
        byte[] rdata = [0, 1, 0, 0, 5, 0, 3, 0xAA, 0xBB, 0xCC];
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.HTTPS, rdata));
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadSvcb(out DnsSvcb svcb));
        Assert.True(svcb.Params.HasEch);
        Assert.True(svcb.Params.TryGetEch(out ReadOnlySpan<byte> ech));
        Assert.Equal(3, ech.Length);
    }

    /// <summary>RFC 9460 Appendix D.3 failure cases, plus malformed known values (§7).</summary>
    public static TheoryData<string, byte[]> BadSvcb => new()
    {
        // D.3 Figure 11: keys not in increasing order (port=53 before alpn).
        { "keys out of order", [0, 1, 0, 0, 3, 0, 2, 0, 53, 0, 1, 0, 3, 2, (byte)'h', (byte)'2'] },

        // Duplicate key.
        { "duplicate key", [0, 1, 0, 0, 3, 0, 2, 0, 53, 0, 3, 0, 2, 0, 54] },
        { "port of 3 bytes", [0, 1, 0, 0, 3, 0, 3, 0, 53, 0] },
        { "ipv4hint of 5 bytes", [0, 1, 0, 0, 4, 0, 5, 1, 2, 3, 4, 5] },
        { "empty alpn id", [0, 1, 0, 0, 1, 0, 1, 0] },
        { "no-default-alpn with value", [0, 1, 0, 0, 2, 0, 1, 0] },
        { "value past rdata", [0, 1, 0, 0, 3, 0, 9, 0, 53] },
        { "compressed target", [0, 1, 0xC0, 12] },
        { "no target", [0, 1] },
    };

    [Theory]
    [MemberData(nameof(BadSvcb))]
    public void Svcb_Malformed_IsRejected(string what, byte[] rdata)
    {
        var r = new DnsMessageReader(SingleAnswer("example.com", DnsType.SVCB, rdata));
        Assert.True(r.TryReadRecord(out DnsRecord rec), what);
        Assert.False(rec.TryReadSvcb(out _), what);
    }

    [Fact]
    public void Opt_Options_And_ExtendedRcode()
    {
        // RFC 6891 §6.1.2/§6.1.3: payload 1232, extended RCODE 1 (=> BADVERS 16 with header 0), version 0,
        // options: COOKIE (RFC 7873) 8 bytes, then PADDING (RFC 7830) 2 bytes.
        byte[] opt =
        [
            0, 0, 41, 0x04, 0xD0, 0x01, 0x00, 0x00, 0x00,
            0, 18, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 2, 0, 0,
        ];
        byte[] m = [.. Header(1, 0x8000, 0, 0, 0, 1), .. opt];
        var r = new DnsMessageReader(m);
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.True(rec.TryReadOpt(out DnsOpt o));
        Assert.Equal(1232, o.UdpPayloadSize);
        Assert.Equal(1, o.ExtendedRcode);
        Assert.Equal(DnsRcode.BadVers, o.GetRcode(r.Header));
        Assert.False(o.DnssecOk);
        Assert.Equal(2, o.Options.Count);
        var codes = new List<EdnsOptionCode>();
        foreach (DnsEdnsOption option in o.Options)
        {
            codes.Add(option.KnownCode);
        }

        Assert.Equal([EdnsOptionCode.Cookie, EdnsOptionCode.Padding], codes);
        Assert.True(o.Options.TryGet((ushort)EdnsOptionCode.Cookie, out ReadOnlySpan<byte> cookie));
        Assert.Equal(8, cookie.Length);

        // An option longer than the RDATA is malformed.
        byte[] bad = (byte[])m.Clone();
        bad[12 + 14] = 9;
        var rb = new DnsMessageReader(bad);
        Assert.True(rb.TryReadRecord(out DnsRecord badRec));
        Assert.False(badRec.TryReadOpt(out _));
    }

    [Fact]
    public void Opt_WithNonRootOwner_IsRejected()
    {
        byte[] m = [.. Header(1, 0, 0, 0, 0, 1), 1, (byte)'a', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
        var r = new DnsMessageReader(m);
        Assert.True(r.TryReadRecord(out DnsRecord rec));
        Assert.False(DnsOpt.TryRead(rec, out _, out DnsError e));
        Assert.Equal(DnsError.BadOpt, e);
    }
}
