using DnsWarden.Guard.Jail.Report;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Report.Tests;

/// <summary>The jail's tally of names by verdict: cut by the privacy mode, bounded, and the query log still gets every entry.</summary>
public sealed class JailQueryTallyTests
{
    private static QueryLogEntry Entry(string name, QueryOutcome outcome) => new()
    {
        Timestamp = DateTimeOffset.UnixEpoch,
        Protocol = ListenerProtocol.Udp,
        QName = name,
        QType = "A",
        Outcome = outcome,
    };

    private sealed class Collect : IQueryLog
    {
        public List<QueryLogEntry> Entries { get; } = [];

        public void Write(QueryLogEntry entry) => Entries.Add(entry);
    }

    [Theory]
    [InlineData(PrivacyMode.Full, "a1.b.example.com")]
    [InlineData(PrivacyMode.Redacted, "*.example.com")]
    [InlineData(PrivacyMode.Minimal, null)]
    public void Names_AreWrittenAsThePrivacyModeSays(PrivacyMode mode, string? expected)
    {
        var next = new Collect();
        var tally = new JailQueryTally(next, mode, BaseDomains.Fallback);
        tally.Write(Entry("a1.b.example.com", QueryOutcome.Forwarded));
        tally.Write(Entry("a1.b.example.com", QueryOutcome.Forwarded));
        tally.Write(Entry("a1.b.example.com", QueryOutcome.Sinkholed));
        Assert.Equal([new JailNameCount(expected, "forwarded", 2), new JailNameCount(expected, "sinkholed", 1)], tally.Snapshot());
        Assert.Equal(3, next.Entries.Count);
        Assert.All(next.Entries, e => Assert.Equal("a1.b.example.com", e.QName)); // the log applies its own privacy
    }

    [Fact]
    public void PastTheBound_QueriesAreCountedOnly()
    {
        var tally = new JailQueryTally(null, PrivacyMode.Full, BaseDomains.Fallback);
        for (int i = 0; i < JailQueryTally.MaxNames + 7; i++)
        {
            tally.Write(Entry($"n{i}.example.com", QueryOutcome.Sinkholed));
        }

        tally.Write(Entry("n0.example.com", QueryOutcome.Sinkholed));
        Assert.Equal(JailQueryTally.MaxNames, tally.Snapshot().Count);
        Assert.Equal(7, tally.NotListed);
        Assert.Equal(2, tally.Snapshot()[0].Queries);
    }
}
