using System.Linq.Expressions;
using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// Parsing a DNS message and walking every question and record: DnsWarden's in-place reader
/// against ARSoft.Tools.Net and DnsClient, which both build object graphs. No I/O.
/// </summary>
/// <remarks>
/// DnsClient keeps its parser internal: <c>DnsClient.DnsMessageHandler.GetResponseMessage(ArraySegment&lt;byte&gt;)</c>
/// on an instance of the internal <c>DnsClient.DnsUdpMessageHandler</c>. [GlobalSetup] binds it once
/// to a delegate, and compiles expression-tree getters for the internal
/// <c>DnsResponseMessage.Questions/Answers/Authorities/Additionals</c>; no reflection runs per call.
/// </remarks>
[MemoryDiagnoser]
public class DnsParseBenchmarks
{
    private byte[] _message = [];
    private Func<ArraySegment<byte>, object> _dnsClientParse = null!;
    private Func<object, List<DnsClient.DnsQuestion>> _dnsClientQuestions = null!;
    private Func<object, List<DnsClient.Protocol.DnsResourceRecord>> _dnsClientAnswers = null!;
    private Func<object, List<DnsClient.Protocol.DnsResourceRecord>> _dnsClientAuthorities = null!;
    private Func<object, List<DnsClient.Protocol.DnsResourceRecord>> _dnsClientAdditionals = null!;

    /// <summary>"Query": a stub's A query with EDNS. "Response5": CNAME + 4 A answers + OPT, compressed.</summary>
    [Params("Query", "Response5")]
    public string Message { get; set; } = "Query";

    [GlobalSetup]
    public void Setup()
    {
        _message = Message == "Query" ? BuildQuery() : BuildResponse();

        Assembly asm = typeof(DnsClient.LookupClient).Assembly;
        Type handlerType = asm.GetType("DnsClient.DnsUdpMessageHandler", throwOnError: true)!;
        object handler = Activator.CreateInstance(handlerType, nonPublic: true)!;
        MethodInfo parse = handlerType.GetMethod("GetResponseMessage", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!;
        _dnsClientParse = (Func<ArraySegment<byte>, object>)Delegate.CreateDelegate(typeof(Func<ArraySegment<byte>, object>), handler, parse);
        Type responseType = parse.ReturnType;
        _dnsClientQuestions = Getter<List<DnsClient.DnsQuestion>>(responseType, "Questions");
        _dnsClientAnswers = Getter<List<DnsClient.Protocol.DnsResourceRecord>>(responseType, "Answers");
        _dnsClientAuthorities = Getter<List<DnsClient.Protocol.DnsResourceRecord>>(responseType, "Authorities");
        _dnsClientAdditionals = Getter<List<DnsClient.Protocol.DnsResourceRecord>>(responseType, "Additionals");

        // The three parsers must agree on what they walk, or the comparison means nothing.
        int ours = DnsWarden();
        int ars = ArsoftToolsNet();
        int dc = DnsClientParser();
        if (ours <= 0 || ars <= 0 || dc <= 0)
        {
            throw new InvalidOperationException($"parse failed: ours={ours} arsoft={ars} dnsclient={dc}");
        }
    }

    [Benchmark(Baseline = true)]
    [SkipLocalsInit] // A 2 KB stackalloc is otherwise zeroed on every call; TryFormat writes before anything reads.
    public int DnsWarden()
    {
        Span<char> text = stackalloc char[DnsName.MaxFormattedLength];
        int work = 0;
        var reader = new DnsMessageReader(_message);
        while (reader.TryReadQuestion(out DnsQuestion q))
        {
            work += q.Name.EqualsAscii("www.example.com") ? 1 : 0;
            work += q.Name.TryFormat(text, out int n) ? n : 0;
            work += (int)q.Type;
        }

        while (reader.TryReadRecord(out DnsRecord record))
        {
            work += record.Name.TryFormat(text, out int n) ? n : 0;
            if (record.TryReadA(out IpAddr address))
            {
                work += (int)(address.V4 & 0xFF);
            }
            else if (record.TryReadName(out DnsName target))
            {
                work += target.TryFormat(text, out int t) ? t : 0;
            }
            else if (record.TryReadOpt(out DnsOpt opt))
            {
                work += opt.UdpPayloadSize;
            }
        }

        return reader.IsComplete ? work : -1;
    }

    [Benchmark]
    public int ArsoftToolsNet()
    {
        ARSoft.Tools.Net.Dns.DnsMessage m = ARSoft.Tools.Net.Dns.DnsMessage.Parse(new ArraySegment<byte>(_message));
        int work = 0;
        foreach (ARSoft.Tools.Net.Dns.DnsQuestion q in m.Questions)
        {
            // Text of the name, as DnsWarden formats it and DnsClient already holds it.
            work += q.Name.ToString().Length + (int)q.RecordType;
        }

        work += WalkArsoft(m.AnswerRecords) + WalkArsoft(m.AuthorityRecords) + WalkArsoft(m.AdditionalRecords);
        return work;
    }

    [Benchmark]
    public int DnsClientParser()
    {
        object m = _dnsClientParse(new ArraySegment<byte>(_message));
        int work = 0;
        foreach (DnsClient.DnsQuestion q in _dnsClientQuestions(m))
        {
            work += q.QueryName.Value.Length + (int)q.QuestionType;
        }

        work += WalkDnsClient(_dnsClientAnswers(m)) + WalkDnsClient(_dnsClientAuthorities(m)) + WalkDnsClient(_dnsClientAdditionals(m));
        return work;
    }

    private static int WalkArsoft(List<ARSoft.Tools.Net.Dns.DnsRecordBase> records)
    {
        int work = 0;
        foreach (ARSoft.Tools.Net.Dns.DnsRecordBase r in records)
        {
            work += r.Name.ToString().Length + r.TimeToLive;
            work += r switch
            {
                ARSoft.Tools.Net.Dns.ARecord a => a.Address.GetHashCode() & 0xFF,
                ARSoft.Tools.Net.Dns.CNameRecord c => c.CanonicalName.ToString().Length,
                _ => 1,
            };
        }

        return work;
    }

    private static int WalkDnsClient(List<DnsClient.Protocol.DnsResourceRecord> records)
    {
        int work = 0;
        foreach (DnsClient.Protocol.DnsResourceRecord r in records)
        {
            work += r.DomainName.Value.Length + r.TimeToLive;
            work += r switch
            {
                DnsClient.Protocol.ARecord a => a.Address.GetHashCode() & 0xFF,
                DnsClient.Protocol.CNameRecord c => c.CanonicalName.Value.Length,
                _ => 1,
            };
        }

        return work;
    }

    private static Func<object, T> Getter<T>(Type declaring, string property)
    {
        ParameterExpression o = Expression.Parameter(typeof(object), "o");
        Expression body = Expression.Property(Expression.Convert(o, declaring), property);
        return Expression.Lambda<Func<object, T>>(body, o).Compile();
    }

    private static byte[] BuildQuery()
    {
        var buffer = new byte[512];
        if (!DnsMessageWriter.TryWriteQuery(buffer, 0x1234, "www.example.com", DnsType.A, recursionDesired: true, DnsMessageWriter.DefaultEdnsUdpPayloadSize, out int n))
        {
            throw new InvalidOperationException("query");
        }

        return buffer.AsSpan(0, n).ToArray();
    }

    private static byte[] BuildResponse()
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        bool ok = w.TryWriteHeader(0x1234, DnsHeaderFlags.Response | DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.RecursionAvailable)
            && w.TryWriteQuestion("www.example.com", DnsType.A)
            && w.TryWriteCname(DnsSection.Answer, "www.example.com", 300, "edge.cdn.example.net");
        for (int i = 1; i <= 4 && ok; i++)
        {
            ok = w.TryWriteA(DnsSection.Answer, "edge.cdn.example.net", 60, IpAddr.FromIPAddress(IPAddress.Parse($"203.0.113.{i}")));
        }

        if (!ok || !w.TryWriteOpt(DnsMessageWriter.DefaultEdnsUdpPayloadSize) || !w.TryFinish(out int n))
        {
            throw new InvalidOperationException("response");
        }

        return buffer.AsSpan(0, n).ToArray();
    }
}
