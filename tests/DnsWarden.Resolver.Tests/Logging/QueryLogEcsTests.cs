using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Leak.Tests.Events;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Tests.Logging;

/// <summary>The query log in Elastic Common Schema (docs/ECS.md): the mapping, privacy exactly as the JSON log's, the writer's format choice.</summary>
public sealed class QueryLogEcsTests
{
    private static JsonElement Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    private static JsonElement At(JsonElement root, string dotted)
    {
        JsonElement e = root;
        foreach (string part in dotted.Split('.'))
        {
            Assert.True(e.ValueKind == JsonValueKind.Object && e.TryGetProperty(part, out e), $"{dotted} is missing in {root}");
        }

        return e;
    }

    private static bool Has(JsonElement root, string dotted)
    {
        JsonElement e = root;
        foreach (string part in dotted.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(part, out e))
            {
                return false;
            }
        }

        return true;
    }

    private static string Ecs(QueryLogEntry entry, PrivacyMode mode) =>
        QueryLogEcs.Format(entry, new PrivacyRedactor(mode, QueryLogJsonTests.Domains), QueryLogJsonTests.Domains);

    [Fact]
    public void FullEntry_EveryFieldLandsWhereTheTableSays()
    {
        string line = Ecs(QueryLogJsonTests.FullEntry() with { Count = 3 }, PrivacyMode.Full);
        Assert.DoesNotContain('\n', line);
        JsonElement r = Parse(line);
        Assert.Equal("2025-03-04T03:06:07.123456Z", At(r, "@timestamp").GetString());
        Assert.Equal(EcsJson.Version, At(r, "ecs.version").GetString());
        Assert.Equal("event", At(r, "event.kind").GetString());
        Assert.Equal(["network"], At(r, "event.category").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(["protocol", "allowed"], At(r, "event.type").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("forwarded", At(r, "event.action").GetString());
        Assert.Equal("dnsw.query", At(r, "event.dataset").GetString());
        Assert.Equal("allow list: example.com", At(r, "event.reason").GetString());
        Assert.Equal(1_503_000, At(r, "event.duration").GetInt64());
        Assert.Equal("10.1.2.3", At(r, "source.address").GetString());
        Assert.Equal("10.1.2.3", At(r, "source.ip").GetString());
        Assert.Equal(40112, At(r, "source.port").GetInt32());
        Assert.Equal("tcp", At(r, "network.transport").GetString());
        Assert.Equal("dns", At(r, "network.protocol").GetString());
        Assert.Equal("ipv4", At(r, "network.type").GetString());
        Assert.Equal("answer", At(r, "dns.type").GetString());
        Assert.Equal("a1.b.Example.com", At(r, "dns.question.name").GetString());
        Assert.Equal("AAAA", At(r, "dns.question.type").GetString());
        Assert.Equal("example.com", At(r, "dns.question.registered_domain").GetString());
        Assert.Equal("NOERROR", At(r, "dns.response_code").GetString());
        Assert.Equal(["AAAA:2001:db8::1", "A:198.51.100.7"], At(r, "dns.answers").EnumerateArray().Select(a => a.GetProperty("type").GetString() + ":" + a.GetProperty("data").GetString()));
        Assert.Equal(["2001:db8::1", "198.51.100.7"], At(r, "dns.resolved_ip").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["10.1.2.3"], At(r, "related.ip").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("forwarded", At(r, "dnsw.verdict").GetString());
        Assert.Equal("tcp", At(r, "dnsw.protocol").GetString());
        Assert.Equal("tls://dns.example", At(r, "dnsw.upstream").GetString());
        Assert.Equal(1503, At(r, "dnsw.elapsed_us").GetInt64());
        Assert.Equal(12, At(r, "dnsw.exfiltration_score").GetInt32());
        Assert.Equal(3, At(r, "dnsw.count").GetInt32());
        EcsAssert.Clean(r, "");
    }

    [Theory]
    [InlineData(QueryOutcome.Forwarded, "allowed")]
    [InlineData(QueryOutcome.Cached, "allowed")]
    [InlineData(QueryOutcome.Local, "allowed")]
    [InlineData(QueryOutcome.Blocked, "denied")]
    [InlineData(QueryOutcome.Sinkholed, "denied")]
    [InlineData(QueryOutcome.BlockedExfiltration, "denied")]
    [InlineData(QueryOutcome.ClientRefused, "denied")]
    [InlineData(QueryOutcome.RateLimited, "denied")]
    [InlineData(QueryOutcome.ServFail, null)]
    [InlineData(QueryOutcome.Malformed, null)]
    [InlineData(QueryOutcome.Dropped, null)]
    [InlineData(QueryOutcome.Overloaded, null)]
    public void Verdict_IsTheActionAndDecidesTheType(QueryOutcome outcome, string? decision)
    {
        JsonElement r = Parse(Ecs(QueryLogJsonTests.FullEntry() with { Outcome = outcome }, PrivacyMode.Full));
        Assert.Equal(QueryLogJson.FormatVerdict(outcome), At(r, "event.action").GetString());
        string?[] expected = decision is null ? ["protocol"] : ["protocol", decision];
        Assert.Equal(expected, At(r, "event.type").EnumerateArray().Select(x => x.GetString()));
    }

    [Theory]
    [InlineData(PrivacyMode.Full)]
    [InlineData(PrivacyMode.Redacted)]
    [InlineData(PrivacyMode.Minimal)]
    public void Privacy_EcsKeepsExactlyWhatJsonKeeps(PrivacyMode mode)
    {
        foreach (QueryLogEntry entry in new[] { QueryLogJsonTests.FullEntry(), QueryLogJsonTests.FullEntry() with { Client = "[2001:db8:1:2::5]:40000", Protocol = ListenerProtocol.Udp } })
        {
            var redactor = new PrivacyRedactor(mode, QueryLogJsonTests.Domains);
            JsonElement json = Parse(QueryLogJson.Format(entry, redactor));
            string line = Ecs(entry, mode);
            JsonElement ecs = Parse(line);

            Assert.Equal(json.TryGetProperty("src", out JsonElement src), Has(ecs, "source.address"));
            if (Has(ecs, "source.address"))
            {
                Assert.Equal(src.GetString(), At(ecs, "source.address").GetString());
            }

            Assert.Equal(json.TryGetProperty("sport", out JsonElement sport), Has(ecs, "source.port"));
            if (Has(ecs, "source.port"))
            {
                Assert.Equal(sport.GetInt32(), At(ecs, "source.port").GetInt32());
            }

            Assert.Equal(json.TryGetProperty("qname", out JsonElement qname), Has(ecs, "dns.question.name"));
            if (Has(ecs, "dns.question.name"))
            {
                Assert.Equal(qname.GetString(), At(ecs, "dns.question.name").GetString());
            }

            Assert.Equal(json.TryGetProperty("answers", out JsonElement answers), Has(ecs, "dns.answers"));
            if (Has(ecs, "dns.answers"))
            {
                Assert.Equal(answers.EnumerateArray().Select(a => a.GetString()), At(ecs, "dns.answers").EnumerateArray().Select(a => a.GetProperty("data").GetString()));
            }

            switch (mode)
            {
                case PrivacyMode.Redacted:
                    Assert.False(Has(ecs, "source.ip"), line);
                    Assert.False(Has(ecs, "source.port"), line);
                    Assert.Equal("*.example.com", At(ecs, "dns.question.name").GetString());
                    Assert.Equal(entry.Client!.StartsWith('[') ? "ipv6" : "ipv4", At(ecs, "network.type").GetString());
                    Assert.Equal("example.com", At(ecs, "dns.question.registered_domain").GetString());
                    break;
                case PrivacyMode.Minimal:
                    Assert.False(Has(ecs, "source"), line);
                    Assert.False(Has(ecs, "related"), line);
                    Assert.False(Has(ecs, "dns.question.registered_domain"), line);
                    Assert.False(Has(ecs, "dns.resolved_ip"), line);
                    break;
            }

            if (mode != PrivacyMode.Full)
            {
                Assert.DoesNotContain("a1.b", line, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("10.1.2.3", line, StringComparison.Ordinal);
                Assert.DoesNotContain("2001:db8:1:2::5", line, StringComparison.Ordinal);
            }

            EcsAssert.Clean(ecs, "");
        }
    }

    [Fact]
    public void NothingKnown_LeavesFieldsOut()
    {
        var entry = new QueryLogEntry { Timestamp = DateTimeOffset.UnixEpoch, Protocol = ListenerProtocol.Packet, Outcome = QueryOutcome.Dropped };
        JsonElement r = Parse(Ecs(entry, PrivacyMode.Full));
        Assert.False(Has(r, "source"));
        Assert.False(Has(r, "network.transport"));
        Assert.False(Has(r, "dns.question"));
        Assert.False(Has(r, "dns.response_code"));
        Assert.Equal("query", At(r, "dns.type").GetString());
        Assert.Equal("packet", At(r, "dnsw.protocol").GetString());
        EcsAssert.Clean(r, "");
    }

    [Fact]
    public async Task Writer_WithEcsFormat_WritesEcsLinesAndAnEcsSuppressionLine()
    {
        var metrics = new ResolverMetrics();
        var target = new MemoryStream();
        // A burst of 1000 bytes, one line: the rest is suppressed and said in the format's own suppression line.
        var limits = new QueryLogLimits { BytesPerMinute = 4000, AggregationWindow = TimeSpan.Zero };
        await using (var log = new QueryLogWriter(target, PrivacyMode.Redacted, QueryLogJsonTests.Domains, metrics, leaveOpen: true, limits: limits, format: QueryLogFormat.Ecs))
        {
            Assert.Equal(QueryLogFormat.Ecs, log.Format);
            for (int i = 0; i < 10; i++)
            {
                log.Write(QueryLogJsonTests.FullEntry(i));
            }
        }

        string[] lines = Encoding.UTF8.GetString(target.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 2, string.Join("\n", lines));
        JsonElement first = Parse(lines[0]);
        Assert.Equal(Ecs(QueryLogJsonTests.FullEntry(0), PrivacyMode.Redacted), lines[0]);
        Assert.Equal("dnsw.query", At(first, "event.dataset").GetString());
        JsonElement last = Parse(lines[^1]);
        Assert.Equal("log_suppressed", At(last, "event.action").GetString());
        Assert.Equal(10 - (lines.Length - 1), At(last, "dnsw.suppressed").GetInt64());
        Assert.True(Has(last, "event.start"));
    }

    [Fact]
    public void EveryKey_IsAnEcsFieldOrUnderDnsw()
    {
        EcsSchema? schema = EcsSchema.TryGet(out string? missing);
        if (schema is null)
        {
            Assert.Skip(missing!);
        }

        foreach (PrivacyMode mode in Enum.GetValues<PrivacyMode>())
        {
            foreach (QueryOutcome outcome in Enum.GetValues<QueryOutcome>())
            {
                JsonElement r = Parse(Ecs(QueryLogJsonTests.FullEntry() with { Outcome = outcome, Count = 2 }, mode));
                Assert.Empty(schema.Problems(r));
            }
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            QueryLogEcs.WriteSuppressed(w, DateTimeOffset.UnixEpoch.AddSeconds(10), DateTimeOffset.UnixEpoch, 42);
        }

        Assert.Empty(schema.Problems(Parse(Encoding.UTF8.GetString(buffer.WrittenSpan))));
    }
}
