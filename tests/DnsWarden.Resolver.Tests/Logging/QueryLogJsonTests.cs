using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Tests.Logging;

public sealed class QueryLogJsonTests
{
    internal static readonly BaseDomains Domains = BaseDomains.FromList("com\nco.uk\n");

    internal static QueryLogEntry FullEntry(int i = 0) => new()
    {
        Timestamp = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.FromHours(2)).AddTicks(1_234_567 + (i * 10)),
        Protocol = ListenerProtocol.Tcp,
        Client = "10.1.2.3:40112",
        QName = "a1.b.Example.com",
        QType = "AAAA",
        Outcome = QueryOutcome.Forwarded,
        Reason = "allow list: example.com",
        Rcode = "NOERROR",
        Answers = ["2001:db8::1", "198.51.100.7"],
        Upstream = "tls://dns.example",
        ElapsedMicroseconds = 1_503 + i,
        ExfiltrationScore = 12,
    };

    private static JsonElement Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    private static string[] Keys(JsonElement e) => [.. e.EnumerateObject().Select(p => p.Name)];

    [Fact]
    public void FullModeWritesEveryField()
    {
        string line = QueryLogJson.Format(FullEntry(), new PrivacyRedactor(PrivacyMode.Full, Domains));
        JsonElement e = Parse(line);
        Assert.Equal(
            ["ts", "event", "protocol", "src", "sport", "qname", "qtype", "verdict", "reason", "rcode", "answers", "upstream", "elapsed_us", "exfiltration_score"],
            Keys(e));

        // 05:06:07 at +02:00 is 03:06:07 UTC; 1,234,567 ticks is 123,456.7 µs, cut to microseconds.
        Assert.Equal("2025-03-04T03:06:07.123456Z", e.GetProperty("ts").GetString());
        Assert.Equal("tcp", e.GetProperty("protocol").GetString());
        Assert.Equal("query", e.GetProperty("event").GetString());
        Assert.Equal("10.1.2.3", e.GetProperty("src").GetString());
        Assert.Equal(40112, e.GetProperty("sport").GetInt32());
        Assert.Equal("a1.b.Example.com", e.GetProperty("qname").GetString());
        Assert.Equal("AAAA", e.GetProperty("qtype").GetString());
        Assert.Equal("forwarded", e.GetProperty("verdict").GetString());
        Assert.Equal("allow list: example.com", e.GetProperty("reason").GetString());
        Assert.Equal("NOERROR", e.GetProperty("rcode").GetString());
        Assert.Equal(["2001:db8::1", "198.51.100.7"], e.GetProperty("answers").EnumerateArray().Select(a => a.GetString()!));
        Assert.Equal("tls://dns.example", e.GetProperty("upstream").GetString());
        Assert.Equal(1503, e.GetProperty("elapsed_us").GetInt64());
        Assert.Equal(12, e.GetProperty("exfiltration_score").GetInt32());
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void RedactedModeCutsNameAndClientButKeepsAnswers()
    {
        JsonElement e = Parse(QueryLogJson.Format(FullEntry(), new PrivacyRedactor(PrivacyMode.Redacted, Domains)));
        Assert.Equal("*.example.com", e.GetProperty("qname").GetString());
        Assert.Equal("10.1.2.0/24", e.GetProperty("src").GetString());
        Assert.False(e.TryGetProperty("sport", out _));
        Assert.Equal(2, e.GetProperty("answers").GetArrayLength());
        Assert.Equal("AAAA", e.GetProperty("qtype").GetString());
        Assert.Equal("tls://dns.example", e.GetProperty("upstream").GetString());
    }

    [Fact]
    public void RedactedModeCutsIpv6ClientToSlash48()
    {
        QueryLogEntry entry = FullEntry() with { Client = "[2001:db8:1:2::5]:53", QName = "example.co.uk" };
        JsonElement e = Parse(QueryLogJson.Format(entry, new PrivacyRedactor(PrivacyMode.Redacted, Domains)));
        Assert.Equal("2001:db8:1::/48", e.GetProperty("src").GetString());
        Assert.Equal("example.co.uk", e.GetProperty("qname").GetString());
    }

    [Fact]
    public void MinimalModeLeavesOutNameClientAndAnswers()
    {
        string line = QueryLogJson.Format(FullEntry(), new PrivacyRedactor(PrivacyMode.Minimal, Domains));
        JsonElement e = Parse(line);
        Assert.Equal(["ts", "event", "protocol", "qtype", "verdict", "reason", "rcode", "upstream", "elapsed_us", "exfiltration_score"], Keys(e));
        Assert.DoesNotContain("a1.b", line, StringComparison.Ordinal);
        Assert.DoesNotContain("*.", line, StringComparison.Ordinal);
        Assert.DoesNotContain("10.1.2", line, StringComparison.Ordinal);
        Assert.DoesNotContain("2001:db8", line, StringComparison.Ordinal);
    }

    [Fact]
    public void AbsentFieldsAreLeftOutNotNull()
    {
        var entry = new QueryLogEntry
        {
            Timestamp = DateTimeOffset.UnixEpoch,
            Protocol = ListenerProtocol.Packet,
            Outcome = QueryOutcome.Dropped,
        };
        string line = QueryLogJson.Format(entry, new PrivacyRedactor(PrivacyMode.Full, Domains));
        Assert.Equal("""{"ts":"1970-01-01T00:00:00.000000Z","event":"query","protocol":"packet","verdict":"dropped","elapsed_us":0}""", line);
    }

    [Fact]
    public void VerdictsAreDistinctSnakeCaseAndRoundTrip()
    {
        string[] expected = ["forwarded", "cached", "local", "blocked", "sinkholed", "blocked_exfiltration", "servfail", "malformed", "dropped", "overloaded", "client_refused", "rate_limited", "stale"];
        Assert.Equal(expected, Enum.GetValues<QueryOutcome>().Select(QueryLogJson.FormatVerdict));
        foreach (QueryOutcome o in Enum.GetValues<QueryOutcome>())
        {
            Assert.True(QueryLogJson.TryParseVerdict(QueryLogJson.FormatVerdict(o), out QueryOutcome back));
            Assert.Equal(o, back);
        }

        Assert.False(QueryLogJson.TryParseVerdict("Forwarded", out _));
    }

    [Fact]
    public void ProtocolsNameTheListenerAndRoundTrip()
    {
        string[] expected = ["udp", "tcp", "tls", "https", "packet"];
        Assert.Equal(expected, Enum.GetValues<ListenerProtocol>().Select(QueryLogJson.FormatProtocol));
        foreach (ListenerProtocol p in Enum.GetValues<ListenerProtocol>())
        {
            Assert.True(QueryLogJson.TryParseProtocol(QueryLogJson.FormatProtocol(p), out ListenerProtocol back));
            Assert.Equal(p, back);
        }
    }

    [Theory]
    [InlineData(PrivacyMode.Full)]
    [InlineData(PrivacyMode.Redacted)]
    [InlineData(PrivacyMode.Minimal)]
    public void TryParseReadsWhatWasWritten(PrivacyMode mode)
    {
        var redactor = new PrivacyRedactor(mode, Domains);
        QueryLogEntry original = FullEntry();
        string line = QueryLogJson.Format(original, redactor);
        Assert.True(QueryLogJson.TryParse(line, out QueryLogEntry? back, out QueryLogReadError error));
        Assert.Equal(QueryLogReadError.None, error);
        Assert.Equal(new DateTimeOffset(2025, 3, 4, 3, 6, 7, TimeSpan.Zero).AddTicks(1_234_560), back.Timestamp);
        Assert.Equal(original.Protocol, back.Protocol);
        Assert.Equal(original.Outcome, back.Outcome);
        Assert.Equal(original.QType, back.QType);
        Assert.Equal(original.Reason, back.Reason);
        Assert.Equal(original.Rcode, back.Rcode);
        Assert.Equal(original.Upstream, back.Upstream);
        Assert.Equal(original.ElapsedMicroseconds, back.ElapsedMicroseconds);
        Assert.Equal(original.ExfiltrationScore, back.ExfiltrationScore);
        switch (mode)
        {
            case PrivacyMode.Full:
                Assert.Equal(original.QName, back.QName);
                Assert.Equal(original.Client, back.Client);
                Assert.Equal(original.Answers, back.Answers);
                break;
            case PrivacyMode.Redacted:
                Assert.Equal("*.example.com", back.QName);
                Assert.Equal("10.1.2.0/24", back.Client);
                Assert.Equal(original.Answers, back.Answers);
                break;
            default:
                Assert.Null(back.QName);
                Assert.Null(back.Client);
                Assert.Empty(back.Answers);
                break;
        }
    }

    [Fact]
    public void TryParseSkipsUnknownKeys()
    {
        Assert.True(QueryLogJson.TryParse("""{"future":{"a":[1,2]},"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached"}""", out QueryLogEntry? e, out _));
        Assert.Equal(QueryOutcome.Cached, e.Outcome);
        Assert.Equal(10, e.Timestamp.Ticks % TimeSpan.TicksPerSecond);
    }

    [Fact]
    public void TryParseReadsTheClientAsSrcAndSport_AndAsTheOneFieldOfOlderLogs()
    {
        Assert.True(QueryLogJson.TryParse("""{"ts":"2025-01-01T00:00:00.000001Z","event":"query","protocol":"udp","src":"2001:db8::5","sport":5300,"verdict":"cached"}""", out QueryLogEntry? e, out _));
        Assert.Equal("[2001:db8::5]:5300", e.Client);
        Assert.True(QueryLogJson.TryParse("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","src":"10.1.2.0/24","verdict":"cached"}""", out e, out _));
        Assert.Equal("10.1.2.0/24", e.Client);
        Assert.True(QueryLogJson.TryParse("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","client":"10.1.2.3:40112","verdict":"cached"}""", out e, out _));
        Assert.Equal("10.1.2.3:40112", e.Client);
    }

    [Theory]
    [InlineData("", QueryLogReadError.InvalidJson)]
    [InlineData("[]", QueryLogReadError.InvalidJson)]
    [InlineData("{", QueryLogReadError.InvalidJson)]
    [InlineData("not json", QueryLogReadError.InvalidJson)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached"} {}""", QueryLogReadError.InvalidJson)]
    [InlineData("""{"protocol":"udp","verdict":"cached"}""", QueryLogReadError.MissingField)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","verdict":"cached"}""", QueryLogReadError.MissingField)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp"}""", QueryLogReadError.MissingField)]
    [InlineData("""{"ts":"yesterday","protocol":"udp","verdict":"cached"}""", QueryLogReadError.UnknownValue)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"quic","verdict":"cached"}""", QueryLogReadError.UnknownValue)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"maybe"}""", QueryLogReadError.UnknownValue)]
    [InlineData("""{"ts":1,"protocol":"udp","verdict":"cached"}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","sport":70000}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","sport":"53"}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","answers":"1.2.3.4"}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","answers":[1]}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","elapsed_us":"5"}""", QueryLogReadError.WrongType)]
    [InlineData("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","exfiltration_score":1e400}""", QueryLogReadError.WrongType)]
    public void TryParseRejectsWithAReason(string line, QueryLogReadError expected)
    {
        Assert.False(QueryLogJson.TryParse(line, out QueryLogEntry? entry, out QueryLogReadError error));
        Assert.Null(entry);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void InvalidUtf8AndLoneSurrogatesAreRejected()
    {
        byte[] badUtf8 = [.. """{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","qname":"a"""u8, 0xB1, .. "\"}"u8];
        Assert.False(QueryLogJson.TryParse(badUtf8, out _, out QueryLogReadError error));
        Assert.Equal(QueryLogReadError.InvalidUtf8, error);

        Assert.False(QueryLogJson.TryParse("""{"ts":"2025-01-01T00:00:00.000001Z","protocol":"udp","verdict":"cached","qname":"\udc00"}""", out _, out error));
        Assert.Equal(QueryLogReadError.InvalidJson, error);
    }

    [Fact]
    public void EveryProperPrefixFails()
    {
        byte[] line = Encoding.UTF8.GetBytes(QueryLogJson.Format(FullEntry(), new PrivacyRedactor(PrivacyMode.Full, Domains)));
        Assert.True(QueryLogJson.TryParse(line, out _, out _));
        for (int i = 0; i < line.Length; i++)
        {
            Assert.False(QueryLogJson.TryParse(line.AsSpan(0, i), out _, out QueryLogReadError error), $"prefix {i}");
            Assert.NotEqual(QueryLogReadError.None, error);
        }
    }

    [Fact]
    public void RandomBytesAndMutationsNeverThrow()
    {
        var rng = new Random(5005);
        byte[] seed = Encoding.UTF8.GetBytes(QueryLogJson.Format(FullEntry(), new PrivacyRedactor(PrivacyMode.Full, Domains)));
        byte[] alphabet = "{}[]\",:0123456789.eE-+ntrufalsTZ\\ "u8.ToArray();
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            byte[] input;
            if (iteration % 4 == 0)
            {
                input = new byte[rng.Next(0, 64)];
                rng.NextBytes(input);
            }
            else
            {
                input = (byte[])seed.Clone();
                int mutations = rng.Next(1, 6);
                for (int m = 0; m < mutations; m++)
                {
                    int at = rng.Next(input.Length);
                    input[at] = rng.Next(2) == 0 ? alphabet[rng.Next(alphabet.Length)] : (byte)rng.Next(256);
                }

                if (rng.Next(3) == 0)
                {
                    input = input[..rng.Next(input.Length)];
                }
            }

            bool ok = QueryLogJson.TryParse(input, out QueryLogEntry? entry, out QueryLogReadError error);
            Assert.Equal(ok, entry is not null);
            Assert.Equal(ok, error == QueryLogReadError.None);
        }
    }
}
