namespace DnsWarden.Export.Tests;

/// <summary>The URL, table, size and SQL literal forms, with the exact words of each refusal.</summary>
public sealed class OptionParsingTests
{
    [Theory]
    [InlineData("clickhouse://127.0.0.1:18123/dnsw", "127.0.0.1", 18123, "dnsw")]
    [InlineData("clickhouse://store.example/logs", "store.example", 8123, "logs")]
    [InlineData("CLICKHOUSE://[fd00::1]:9999/db_2", "fd00::1", 9999, "db_2")]
    [InlineData("clickhouse://[2001:db8::5]/x", "2001:db8::5", 8123, "x")]
    public void GoodUrls(string text, string host, int port, string database)
    {
        Assert.True(ClickHouseEndpoint.TryParse(text, out ClickHouseEndpoint? e, out string? error), error);
        Assert.Equal(new ClickHouseEndpoint(host, port, database), e);
        Assert.Equal(e!, ClickHouseEndpoint.TryParse(e.ToString(), out ClickHouseEndpoint? again, out _) ? again : null);
    }

    [Theory]
    [InlineData("http://127.0.0.1/dnsw", "is not a ClickHouse URL (expected clickhouse://HOST[:PORT]/DATABASE)")]
    [InlineData("clickhouse://127.0.0.1:8123", "names no database")]
    [InlineData("clickhouse://u:p@127.0.0.1/dnsw", "no user or password in the URL")]
    [InlineData("clickhouse://127.0.0.1:0/dnsw", "port '0' is not 1-65535")]
    [InlineData("clickhouse://127.0.0.1:99999/dnsw", "port '99999' is not 1-65535")]
    [InlineData("clickhouse://127.0.0.1:x/dnsw", "port 'x' is not 1-65535")]
    [InlineData("clickhouse://[fd00::1/dnsw", "is not [IPv6] or [IPv6]:PORT")]
    [InlineData("clickhouse://[10.0.0.1]/dnsw", "is not [IPv6] or [IPv6]:PORT")]
    [InlineData("clickhouse://a b/dnsw", "'a b' is not a host name or address")]
    [InlineData("clickhouse://127.0.0.1/dnsw;DROP", "database 'dnsw;DROP' is not a plain name")]
    [InlineData("clickhouse://127.0.0.1/", "database '' is not a plain name")]
    [InlineData("clickhouse://127.0.0.1/1db", "database '1db' is not a plain name")]
    public void BadUrls_AreNamedWithWhatIsWrong(string text, string expected)
    {
        Assert.False(ClickHouseEndpoint.TryParse(text, out _, out string? error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("leak=leaks_v2", ExportTable.LeakEvents, "leaks_v2")]
    [InlineData("query=q", ExportTable.DnsQueries, "q")]
    [InlineData("decision=guard", ExportTable.GuardDecisions, "guard")]
    [InlineData("dns_queries=q2", ExportTable.DnsQueries, "q2")]
    public void Tables(string text, ExportTable table, string name)
    {
        Assert.True(ExportSettings.TryParseTable(text, out ExportTable t, out string? n, out string? error), error);
        Assert.Equal((table, name), (t, n));
    }

    [Theory]
    [InlineData("leak", "is not KIND=NAME")]
    [InlineData("events=x", "is not KIND=NAME with KIND leak, query or decision")]
    [InlineData("leak=a.b", "table 'a.b' is not a plain name")]
    [InlineData("leak=", "table '' is not a plain name")]
    public void BadTables(string text, string expected)
    {
        Assert.False(ExportSettings.TryParseTable(text, out _, out _, out string? error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("512K", 512L << 10)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("10B", 10L)]
    public void Sizes(string text, long bytes)
    {
        Assert.True(ExportSettings.TryParseSize(text, out long b));
        Assert.Equal(bytes, b);
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("0")]
    [InlineData("-5M")]
    [InlineData("5T")]
    [InlineData("99999999999999999G")]
    public void BadSizes(string text) => Assert.False(ExportSettings.TryParseSize(text, out _));

    [Fact]
    public void SqlLiterals_EscapeQuotesBackslashesAndControls() =>
        Assert.Equal(@"'it\'s a \\ b\x0a'", LeakRowReader.Quote("it's a \\ b\n"));

    [Fact]
    public void TheReportQuery_FiltersHostsAndTime_AndFoldsResentBatches()
    {
        string sql = LeakRowReader.Query("dnsw", "leak_events", ["a", "b'c"], new DateTimeOffset(2026, 12, 6, 1, 2, 3, TimeSpan.Zero), null);
        Assert.Equal("SELECT * FROM dnsw.leak_events FINAL WHERE host IN ('a', 'b\\'c') AND ts >= toDateTime('2026-12-06 01:02:03', 'UTC') ORDER BY ts, ts_ns, event_id FORMAT JSONEachRow", sql);
    }

    [Fact]
    public void TheSchema_TakesTheConfiguredNames()
    {
        string sql = ClickHouseSchema.CreateTable(ExportTable.DnsQueries, "fleet", "queries_v2");
        Assert.Contains("CREATE TABLE IF NOT EXISTS fleet.queries_v2", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("dnsw.dns_queries", sql, StringComparison.Ordinal);
    }
}
