using System.Net;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Upstreams;

internal static class TestDns
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static byte[] Query(string name, DnsType type = DnsType.A, ushort id = 0x1234, bool edns = false)
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryWriteHeader(id, DnsHeaderFlags.RecursionDesired));
        Assert.True(w.TryWriteQuestion(name, type));
        if (edns)
        {
            Assert.True(w.TryWriteOpt(1232));
        }

        Assert.True(w.TryFinish(out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    public static UpstreamConfig Config(string url, IPAddress? bootstrap = null)
    {
        Assert.True(UpstreamConfig.TryParse(url, requireBootstrap: false, out UpstreamConfig? config, out string? error), error);
        return bootstrap is null ? config : config with { Bootstrap = bootstrap };
    }

    public static ushort Id(ReadOnlySpan<byte> message) => (ushort)((message[0] << 8) | message[1]);

    public static DnsRcode Rcode(ReadOnlySpan<byte> message) => (DnsRcode)(message[3] & 0x0F);

    public static string QuestionName(ReadOnlySpan<byte> message)
    {
        var reader = new DnsMessageReader(message);
        Assert.True(reader.TryReadQuestion(out DnsQuestion q));
        return q.Name.ToString();
    }

    /// <summary>The A addresses in the answer section.</summary>
    public static List<string> Addresses(ReadOnlySpan<byte> message)
    {
        var list = new List<string>();
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer && r.Type == DnsType.A && r.RdataLength == 4)
            {
                list.Add(new IPAddress(r.Rdata).ToString());
            }
        }

        Assert.True(reader.IsComplete, $"reply does not parse: {reader.Error}");
        return list;
    }

    /// <summary>Total bytes of TXT strings in the answer section.</summary>
    public static int TxtLength(ReadOnlySpan<byte> message)
    {
        int total = 0;
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer && r.Type == DnsType.TXT)
            {
                Assert.True(DnsCharacterStrings.TryRead(r.Rdata, allowEmptyStrings: true, out DnsCharacterStrings s, out _));
                total += s.TotalLength;
            }
        }

        Assert.True(reader.IsComplete, $"reply does not parse: {reader.Error}");
        return total;
    }
}
