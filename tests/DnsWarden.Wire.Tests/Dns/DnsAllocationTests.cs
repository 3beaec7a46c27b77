using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Tests.Dns;

public sealed class DnsAllocationTests
{
    private static byte[] FiveAnswerResponse()
    {
        var buf = new byte[512];
        var w = new DnsMessageWriter(buf);
        Assert.True(w.TryWriteHeader(77, DnsHeaderFlags.Response | DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.RecursionAvailable));
        Assert.True(w.TryWriteQuestion("www.example.com", DnsType.A));
        Assert.True(w.TryWriteCname(DnsSection.Answer, "www.example.com", 300, "edge.cdn.example.net"));
        for (uint i = 1; i <= 4; i++)
        {
            Assert.True(w.TryWriteA(DnsSection.Answer, "edge.cdn.example.net", 60, IpAddr.FromV4(0xCB007100 + i)));
        }

        Assert.True(w.TryWriteOpt(1232));
        Assert.True(w.TryFinish(out int n));
        return buf.AsSpan(0, n).ToArray();
    }

    private static int ParseAll(ReadOnlySpan<byte> message)
    {
        Span<char> text = stackalloc char[DnsName.MaxFormattedLength];
        int work = 0;
        var r = new DnsMessageReader(message);
        while (r.TryReadQuestion(out DnsQuestion q))
        {
            work += q.Name.EqualsAscii("www.example.com") ? 1 : 0;
            work += q.Name.TryFormat(text, out int n) ? n : 0;
        }

        while (r.TryReadRecord(out DnsRecord rec))
        {
            work += rec.Name.TryFormat(text, out int n) ? n : 0;
            work += rec.Name.IsSubdomainOf("example.net") ? 1 : 0;
            if (rec.TryReadA(out IpAddr a))
            {
                work += (int)(a.V4 & 0xFF);
            }
            else if (rec.TryReadName(out DnsName target))
            {
                work += target.LabelCount;
            }
            else if (rec.TryReadOpt(out DnsOpt opt))
            {
                work += opt.UdpPayloadSize;
            }
        }

        Assert.True(r.IsComplete);
        return work;
    }

    [Fact]
    public void FullParse_OfFiveAnswerResponse_AllocatesNothing()
    {
        byte[] message = FiveAnswerResponse();
        int expected = ParseAll(message);
        for (int i = 0; i < 100; i++)
        {
            ParseAll(message);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        for (int i = 0; i < 1000; i++)
        {
            total += ParseAll(message);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(expected * 1000, total);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void WritingQueriesAndResponses_AllocatesNothing()
    {
        byte[] query = new byte[512];
        byte[] response = new byte[512];

        static int Round(byte[] query, byte[] response)
        {
            DnsMessageWriter.TryWriteQuery(query, 1, "www.example.com", DnsType.A, true, 1232, out int q);
            var w = new DnsMessageWriter(response);
            w.TryBeginResponse(query.AsSpan(0, q), DnsRcode.NoError);
            w.TryWriteA(DnsSection.Answer, "www.example.com", 60, IpAddr.FromV4(0xC0000201));
            w.TryFinish(out int n);
            return n;
        }

        int size = Round(query, response);
        for (int i = 0; i < 100; i++)
        {
            Round(query, response);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long total = 0;
        for (int i = 0; i < 1000; i++)
        {
            total += Round(query, response);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(size * 1000L, total);
        Assert.Equal(0, allocated);
    }
}
