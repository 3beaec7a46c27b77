using System.Text.Json;

namespace DnsWarden.E2E;

/// <summary>The tshark JSON parsing on hand-made output shapes; needs neither root nor tshark.</summary>
public sealed class TsharkOracleParseTests
{
    // tshark 4.0 without --no-duplicate-keys: two DNS messages completed in one TCP segment repeat the "dns"
    // key, and a TXT RR with two strings repeats "dns.txt".
    private const string DuplicateKeys = """
        [{"_source":{"layers":{
          "frame":{"frame.interface_id":"1","frame.interface_id_tree":{"frame.interface_name":"veth0"},
                   "frame.number":"7","frame.protocols":"eth:ethertype:ipv6:tcp:dns"},
          "ipv6":{"ipv6.nxt":"6","ipv6.src":"fd00:0053:0000:0000:0000:0000:0000:0001","ipv6.dst":"FD00:53::2"},
          "tcp":{"tcp.srcport":"53","tcp.dstport":"40000"},
          "dns":{"dns.id":"0x1a2b","dns.flags_tree":{"dns.flags.response":"1","dns.flags.rcode":"0"},
                 "Queries":{"Example.TEST: type TXT, class IN":{"dns.qry.name":"Example.TEST","dns.qry.type":"16"}},
                 "Answers":{"Example.TEST: type TXT, class IN":{"dns.resp.name":"Example.TEST","dns.resp.type":"16",
                            "dns.txt.length":"3","dns.txt":"abc","dns.txt.length":"2","dns.txt":"de"}}},
          "dns":{"dns.id":"0x0002","dns.flags_tree":{"dns.flags.response":"1","dns.flags.rcode":"3"},
                 "Queries":{"nx.test: type A, class IN":{"dns.qry.name":"nx.test.","dns.qry.type":"1"}}}
        }}}]
        """;

    // The same kind of frame as --no-duplicate-keys prints it: repeats merged into arrays.
    private const string MergedArrays = """
        [{"_source":{"layers":{
          "frame":{"frame.interface_id":"0","frame.interface_id_tree":{"frame.interface_name":"lo"},
                   "frame.number":"3","frame.protocols":"eth:ethertype:ip:udp:dns"},
          "ip":{"ip.proto":"17","ip.src":"127.0.0.1","ip.dst":"127.0.0.1"},
          "udp":{"udp.srcport":"53","udp.dstport":"5353"},
          "dns":{"dns.id":"0xffff","dns.flags_tree":{"dns.flags.response":"1","dns.flags.rcode":"0"},
                 "Queries":{"a.test: type A, class IN":{"dns.qry.name":"a.test","dns.qry.type":"1"}},
                 "Answers":{
                   "a.test: type CNAME, class IN, cname B.test":{"dns.resp.name":"a.test","dns.resp.type":"5","dns.cname":"B.test"},
                   "b.test: type A, class IN, addr 10.0.0.5":[
                     {"dns.resp.name":"b.test","dns.resp.type":"1","dns.a":"10.0.0.5"},
                     {"dns.resp.name":"b.test","dns.resp.type":"1","dns.a":"10.0.0.5"}],
                   "b.test: type AAAA, class IN, addr fd00::5":{"dns.resp.name":"b.test","dns.resp.type":"28","dns.aaaa":"fd00:0:0:0:0:0:0:5"},
                   "b.test: type MX, class IN, preference 10, mx mail.test":{"dns.resp.name":"b.test","dns.resp.type":"15",
                     "dns.mx.preference":"10","dns.mx.mail_exchange":"Mail.test"},
                   "<Root>: type NS, class IN, ns x.root":{"dns.resp.name":"<Root>","dns.resp.type":"2","dns.ns":"x.root"},
                   "b.test: type SRV, class IN":{"dns.resp.name":"b.test","dns.resp.type":"33"}}}
        }}}]
        """;

    private const string TlsAndSegments = """
        [{"_source":{"layers":{
          "frame":{"frame.number":"1","frame.protocols":"eth:ethertype:ip:tcp"},
          "ip":{"ip.proto":"6","ip.src":"10.0.0.2","ip.dst":"10.0.0.1"},
          "tcp":{"tcp.srcport":"40001","tcp.dstport":"53","tcp.reassembled_in":"2"}}}},
         {"_source":{"layers":{
          "frame":{"frame.number":"2","frame.protocols":"eth:ethertype:ip:tcp:tls"},
          "ip":{"ip.proto":"6","ip.src":"10.0.0.2","ip.dst":"10.0.0.1"},
          "tcp":{"tcp.srcport":"40002","tcp.dstport":"443"},
          "tls":{"tls.record":{"tls.record.content_type":"22","tls.handshake":{"tls.handshake.type":"1",
            "Extension: server_name (len=18)":{"Server Name Indication extension":{"tls.handshake.extensions_server_name":"DoH.Example.test"}},
            "Extension: application_layer_protocol_negotiation (len=14)":{"tls.handshake.extensions_alpn_list":{
              "tls.handshake.extensions_alpn_str":["h2","http/1.1"]}}}}}}}},
         {"_source":{"layers":{
          "frame":{"frame.number":"3","frame.protocols":"eth:ethertype:ip:tcp:tls"},
          "ip":{"ip.proto":"6","ip.src":"10.0.0.1","ip.dst":"10.0.0.2"},
          "tcp":{"tcp.srcport":"443","tcp.dstport":"40002"},
          "tls":{"tls.record":{"tls.record.content_type":"22","tls.handshake":{"tls.handshake.type":"2"}}}}}},
         {"_source":{"layers":{"frame":{"frame.number":"4","frame.protocols":"eth:ethertype:arp"},"eth":{},"arp":{}}}}]
        """;

    [Fact]
    public void Parse_DuplicateKeys_YieldEveryDnsMessage()
    {
        OracleFrame frame = Assert.Single(TsharkOracle.Parse(DuplicateKeys));
        Assert.Equal(7, frame.Number);
        Assert.Equal("veth0", frame.InterfaceName);
        Assert.Equal(1, frame.InterfaceId);
        Assert.Equal(6, frame.IpVersion);
        Assert.Equal("fd00:53::1", frame.SourceAddress);
        Assert.Equal("fd00:53::2", frame.DestinationAddress);
        Assert.Equal("tcp", frame.Transport);
        Assert.Equal(6, frame.IpProtocol);
        Assert.Equal(53, frame.SourcePort);
        Assert.Equal(40000, frame.DestinationPort);

        Assert.Equal(2, frame.Dns.Count);
        OracleDnsMessage txt = frame.Dns[0];
        Assert.Equal(0x1a2b, txt.Id);
        Assert.True(txt.IsResponse);
        Assert.Equal("example.test", txt.QName);
        Assert.Equal(16, txt.QType);
        Assert.Equal(0, txt.Rcode);
        Assert.Equal(["16:abcde"], txt.Answers);
        Assert.Equal("example.test", txt.AnswerRecords[0].Name);

        OracleDnsMessage nx = frame.Dns[1];
        Assert.Equal(2, nx.Id);
        Assert.Equal("nx.test", nx.QName);
        Assert.Equal(3, nx.Rcode);
        Assert.Empty(nx.Answers);
    }

    [Fact]
    public void Parse_MergedArrays_NormalizeEveryAnswerType()
    {
        OracleFrame frame = Assert.Single(TsharkOracle.Parse(MergedArrays));
        Assert.Equal("lo", frame.InterfaceName);
        Assert.Equal(4, frame.IpVersion);
        Assert.Equal("udp", frame.Transport);
        Assert.Equal(17, frame.IpProtocol);
        OracleDnsMessage dns = Assert.Single(frame.Dns);
        Assert.Equal(0xffff, dns.Id);
        Assert.Equal(["5:b.test", "1:10.0.0.5", "1:10.0.0.5", "28:fd00::5", "15:10 mail.test", "2:x.root", "33:"], dns.Answers);
        Assert.Equal(string.Empty, dns.AnswerRecords[5].Name);
    }

    [Fact]
    public void Parse_TlsClientHello_AndReassembledSegments()
    {
        IReadOnlyList<OracleFrame> frames = TsharkOracle.Parse(TlsAndSegments);
        Assert.Equal([1, 2, 3, 4], frames.Select(f => f.Number));

        Assert.Equal(2, frames[0].TcpReassembledIn);
        Assert.Empty(frames[0].Dns);
        Assert.Null(frames[0].InterfaceName);

        OracleTlsClientHello hello = Assert.Single(frames[1].TlsClientHellos);
        Assert.Equal("doh.example.test", hello.ServerName);
        Assert.Equal(["h2", "http/1.1"], hello.Alpn);

        // A ServerHello is not a ClientHello.
        Assert.Empty(frames[2].TlsClientHellos);

        OracleFrame arp = frames[3];
        Assert.Null(arp.IpVersion);
        Assert.Null(arp.Transport);
        Assert.Null(arp.SourcePort);
        Assert.Equal("eth:ethertype:arp", arp.Protocols);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("\"text\"")]
    public void Parse_NonArrayRoot_Throws(string json)
    {
        Assert.Throws<JsonException>(() => TsharkOracle.Parse(json));
    }

    [Fact]
    public void Parse_SkipsPacketsWithoutLayers()
    {
        Assert.Empty(TsharkOracle.Parse("""[{"_index":"x"},{"_source":{}},{"_source":{"layers":[]}},1]"""));
    }

    [Theory]
    [InlineData("Example.COM.", "example.com")]
    [InlineData("<Root>", "")]
    [InlineData("a.b", "a.b")]
    public void NormalizeName_LowercasesAndDropsTrailingDot(string input, string expected)
    {
        Assert.Equal(expected, TsharkOracle.NormalizeName(input));
    }

    [Theory]
    [InlineData("2001:DB8:0:0:0:0:0:1", "2001:db8::1")]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("not-an-address", "not-an-address")]
    public void NormalizeAddress_UsesIPAddressText(string input, string expected)
    {
        Assert.Equal(expected, TsharkOracle.NormalizeAddress(input));
    }
}
