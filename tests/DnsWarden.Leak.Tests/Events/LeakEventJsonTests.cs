using System.Text;
using System.Text.Json;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Tests.Events;

public sealed class LeakEventJsonTests
{
    private static string Write(LeakEvent e)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, LeakEventJson.WriterOptions))
        {
            LeakEventJson.Write(w, e);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static LeakEvent Parse(string line)
    {
        Assert.True(LeakEventJson.TryParse(line, out LeakEvent? e, out bool isSummary, out string? error), error);
        Assert.False(isSummary);
        Assert.Null(error);
        return e!;
    }

    [Fact]
    public void LeakEvent_RoundTripsEveryField()
    {
        LeakEvent original = Samples.LeakD();
        string line = Write(original);
        Assert.DoesNotContain('\n', line);
        LeakEvent back = Parse(line);

        Assert.Equal(original.Kind, back.Kind);
        // Every line's time is to the microsecond.
        Assert.Equal(original.Timestamp.Ticks / 10, back.Timestamp.Ticks / 10);
        Assert.Equal(original.LeakType, back.LeakType);
        Assert.Equal(original.Severity, back.Severity);
        Assert.Equal(original.Transport, back.Transport);
        Assert.Equal(original.Confidence, back.Confidence);
        Assert.Equal(original.QName, back.QName);
        Assert.Equal(original.QType, back.QType);
        Assert.Equal(original.Interface, back.Interface);
        Assert.Equal(original.RouteClass, back.RouteClass);
        Assert.Equal(original.Source, back.Source);
        Assert.Equal(original.Destination, back.Destination);
        ProcessInfo p = Assert.IsType<ProcessInfo>(back.Process);
        Assert.Equal(original.Process!.Pid, p.Pid);
        Assert.Equal(original.Process.Name, p.Name);
        Assert.Equal(original.Process.Exe, p.Exe);
        Assert.Equal(original.Process.Uid, p.Uid);
        Assert.Equal(original.Process.CommandLine, p.CommandLine);
        Assert.Equal(original.Process.Parents, p.Parents);
        Assert.Equal(original.Attribution, back.Attribution);
        Assert.Equal(original.Evidence, back.Evidence);
        Assert.Equal(original.Frame, back.Frame);
        Assert.Equal(original.ServerName, back.ServerName);
        Assert.Equal(original.Provider, back.Provider);
        Assert.Equal(original.GeoIp, back.GeoIp);
        Assert.Equal(original.CorrelationId, back.CorrelationId);
        Assert.Equal(original.Connection, back.Connection);
        Assert.Null(back.Exfiltration);
        Assert.Equal(line, Write(back));
    }

    [Fact]
    public void ExfiltrationEvent_RoundTrips_WithNullsKept()
    {
        LeakEvent original = Samples.Exfiltration();
        string line = Write(original);
        LeakEvent back = Parse(line);

        Assert.Null(back.LeakType);
        Assert.Null(back.Process);
        Assert.Null(back.GeoIp);
        Assert.Null(back.Connection);
        Assert.Null(back.ServerName);
        Assert.Equal(original.Exfiltration, back.Exfiltration);
        Assert.Equal(original.Attribution, back.Attribution);
        Assert.Equal(line, Write(back));

        using JsonDocument doc = JsonDocument.Parse(line);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("leak_type").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("process").ValueKind);
        Assert.Equal("2026-11-24T19:55:01.590283Z", doc.RootElement.GetProperty("ts").GetString());
    }

    [Fact]
    public void Line_SpeaksTheSharedVocabulary_TimeAndEventFirst_AddressesAndPortsApart()
    {
        using JsonDocument doc = JsonDocument.Parse(Write(Samples.LeakD()));
        JsonElement r = doc.RootElement;
        Assert.Equal(["ts", "event"], r.EnumerateObject().Take(2).Select(p => p.Name));
        Assert.False(r.TryGetProperty("kind", out _));
        Assert.False(r.TryGetProperty("timestamp", out _));
        Assert.Equal("leak", r.GetProperty("event").GetString());
        Assert.Equal("10.1.2.3", r.GetProperty("src").GetString());
        Assert.Equal(5353, r.GetProperty("sport").GetInt32());
        Assert.Equal("10.8.0.1", r.GetProperty("dst").GetString());
        Assert.Equal(53, r.GetProperty("dport").GetInt32());
        JsonElement c = r.GetProperty("connection");
        Assert.Equal("2001:db8::80", c.GetProperty("dst").GetString());
        Assert.Equal(443, c.GetProperty("dport").GetInt32());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("file").ValueKind);

        using JsonDocument v6 = JsonDocument.Parse(Write(Samples.Exfiltration()));
        Assert.Equal("2001:db8:1:2::5", v6.RootElement.GetProperty("src").GetString());
        Assert.Equal(40000, v6.RootElement.GetProperty("sport").GetInt32());
    }

    [Fact]
    public void RedactedSource_IsANetwork_WithNoPort()
    {
        using JsonDocument doc = JsonDocument.Parse(Write(Samples.LeakD() with { Source = "10.1.2.0/24" }));
        Assert.Equal("10.1.2.0/24", doc.RootElement.GetProperty("src").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("sport").ValueKind);
        Assert.Equal("10.1.2.0/24", Parse(Write(Samples.LeakD() with { Source = "10.1.2.0/24" })).Source);
    }

    [Fact]
    public void FileAndFrames_RoundTrip()
    {
        LeakEvent original = Samples.LeakD() with
        {
            File = "b.pcapng",
            Connection = Samples.LeakD().Connection! with { File = "c.pcapng" },
        };
        LeakEvent back = Parse(Write(original));
        Assert.Equal("b.pcapng", back.File);
        Assert.Equal("c.pcapng", back.Connection!.File);
        Assert.Equal(original.Connection, back.Connection);
    }

    [Fact]
    public void LinesOfTheFirstVocabulary_AreStillRead()
    {
        // As dnsw 1.0 wrote them: "kind", "timestamp" with 7 digits, endpoints as "ip:port".
        LeakEvent e = Parse("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01.5902830Z\",\"leak_type\":\"A\",\"severity\":\"P1\","
            + "\"src\":\"[2001:db8::2]:40000\",\"dst\":\"198.51.100.53:53\",\"connection\":{\"kind\":\"tcp-syn\",\"iface\":\"eth0\",\"route_class\":\"physical\",\"dst\":\"203.0.113.80:443\",\"frame\":7}}");
        Assert.Equal("leak", e.Kind);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 19, 55, 1, TimeSpan.Zero).AddTicks(5902830), e.Timestamp);
        Assert.Equal("[2001:db8::2]:40000", e.Source);
        Assert.Equal("198.51.100.53:53", e.Destination);
        Assert.Equal("203.0.113.80:443", e.Connection!.Destination);
        Assert.False(LeakEventJson.TryParse("{\"kind\":\"summary\"}", out _, out bool isSummary, out _));
        Assert.True(isSummary);
    }

    [Fact]
    public void WrittenEvidence_KeepsPlusAnglesAndNonAsciiReadable()
    {
        string line = Write(Samples.LeakD());
        Assert.Contains("ünïcode + <angle> \\\"quoted\\\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKeys_AreIgnored()
    {
        string line = Write(Samples.LeakD());
        string extended = "{\"future_field\":{\"nested\":[1,2,3]}," + line[1..];
        Assert.Equal(Samples.LeakD().CorrelationId, Parse(extended).CorrelationId);
    }

    [Fact]
    public void SummaryLine_IsSummary_NotAnError()
    {
        Assert.False(LeakEventJson.TryParse("{\"event\":\"summary\",\"events\":3}", out LeakEvent? e, out bool isSummary, out string? error));
        Assert.True(isSummary);
        Assert.Null(e);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("not json", "not JSON")]
    [InlineData("{\"event\":\"leak\"", "not JSON")]
    [InlineData("", "not JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("\"leak\"", "expected a JSON object")]
    [InlineData("{\"ts\":\"2026-11-24T19:55:01Z\"}", "missing \"event\"")]
    [InlineData("{\"event\":7}", "missing \"event\"")]
    [InlineData("{\"event\":\"observation\"}", "unknown event 'observation'")]
    [InlineData("{\"event\":\"leak\",\"leak_type\":\"A\",\"severity\":\"P1\"}", "\"ts\"")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"yesterday\",\"leak_type\":\"A\",\"severity\":\"P1\"}", "\"ts\"")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"E\",\"severity\":\"P1\"}", "bad \"leak_type\" 'E'")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"7\",\"severity\":\"P1\"}", "bad \"leak_type\" '7'")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"severity\":\"P1\"}", "without \"leak_type\"")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\",\"severity\":\"P9\"}", "bad \"severity\" 'P9'")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\"}", "bad \"severity\"")]
    [InlineData("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\",\"severity\":\"9\"}", "bad \"severity\" '9'")]
    public void MalformedLines_AreFalse_WithAMessage(string line, string expected)
    {
        Assert.False(LeakEventJson.TryParse(line, out LeakEvent? e, out bool isSummary, out string? error));
        Assert.Null(e);
        Assert.False(isSummary);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void DeeplyNestedLine_IsFalse_NotAnException()
    {
        string line = "{\"event\":\"leak\",\"x\":" + new string('[', 100) + new string(']', 100) + "}";
        Assert.False(LeakEventJson.TryParse(line, out _, out _, out string? error));
        Assert.StartsWith("not JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MinimalLeakLine_FillsDefaults()
    {
        LeakEvent e = Parse("{\"event\":\"leak\",\"ts\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"C\",\"severity\":\"P3\"}");
        Assert.Equal(LeakType.C, e.LeakType);
        Assert.Equal("unknown", e.Transport);
        Assert.Equal(Confidence.None, e.Confidence);
        Assert.Empty(e.Evidence);
        Assert.Equal("", e.Destination);
    }
}
