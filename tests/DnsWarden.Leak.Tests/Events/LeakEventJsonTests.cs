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
        Assert.Equal(original.Timestamp, back.Timestamp);
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
        Assert.Equal("2026-11-24T19:55:01.5902831Z", doc.RootElement.GetProperty("timestamp").GetString());
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
        Assert.False(LeakEventJson.TryParse("{\"kind\":\"summary\",\"events\":3}", out LeakEvent? e, out bool isSummary, out string? error));
        Assert.True(isSummary);
        Assert.Null(e);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("not json", "not JSON")]
    [InlineData("{\"kind\":\"leak\"", "not JSON")]
    [InlineData("", "not JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("\"leak\"", "expected a JSON object")]
    [InlineData("{\"timestamp\":\"2026-11-24T19:55:01Z\"}", "missing \"kind\"")]
    [InlineData("{\"kind\":7}", "missing \"kind\"")]
    [InlineData("{\"kind\":\"observation\"}", "unknown kind 'observation'")]
    [InlineData("{\"kind\":\"leak\",\"leak_type\":\"A\",\"severity\":\"P1\"}", "timestamp")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"yesterday\",\"leak_type\":\"A\",\"severity\":\"P1\"}", "timestamp")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"E\",\"severity\":\"P1\"}", "bad \"leak_type\" 'E'")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"7\",\"severity\":\"P1\"}", "bad \"leak_type\" '7'")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"severity\":\"P1\"}", "without \"leak_type\"")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\",\"severity\":\"P9\"}", "bad \"severity\" 'P9'")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\"}", "bad \"severity\"")]
    [InlineData("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"A\",\"severity\":\"9\"}", "bad \"severity\" '9'")]
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
        string line = "{\"kind\":\"leak\",\"x\":" + new string('[', 100) + new string(']', 100) + "}";
        Assert.False(LeakEventJson.TryParse(line, out _, out _, out string? error));
        Assert.StartsWith("not JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MinimalLeakLine_FillsDefaults()
    {
        LeakEvent e = Parse("{\"kind\":\"leak\",\"timestamp\":\"2026-11-24T19:55:01Z\",\"leak_type\":\"C\",\"severity\":\"P3\"}");
        Assert.Equal(LeakType.C, e.LeakType);
        Assert.Equal("unknown", e.Transport);
        Assert.Equal(Confidence.None, e.Confidence);
        Assert.Empty(e.Evidence);
        Assert.Equal("", e.Destination);
    }
}
