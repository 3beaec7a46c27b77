using System.Text;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Tests.Logging;

public sealed class QueryLogWriterTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private static string[] Lines(byte[] utf8) =>
        Encoding.UTF8.GetString(utf8).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task WritesOneJsonLinePerEntryAndLosesNothingOnDispose()
    {
        var metrics = new ResolverMetrics();
        var target = new MemoryStream();
        var log = new QueryLogWriter(target, PrivacyMode.Full, QueryLogJsonTests.Domains, metrics, leaveOpen: true, limits: QueryLogLimits.None);
        for (int i = 0; i < 5_000; i++)
        {
            log.Write(QueryLogJsonTests.FullEntry(i));
        }

        await log.DisposeAsync();
        string[] lines = Lines(target.ToArray());
        Assert.Equal(5_000, lines.Length);
        Assert.Equal(5_000, log.Written);
        Assert.Equal(0, metrics.QueryLogDropped);
        for (int i = 0; i < lines.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            Assert.Equal(1_503 + i, doc.RootElement.GetProperty("elapsed_us").GetInt64());
        }
    }

    [Fact]
    public async Task TextWriterTargetGetsTheSameLines()
    {
        var metrics = new ResolverMetrics();
        var target = new StringWriter();
        await using (var log = new QueryLogWriter(target, PrivacyMode.Redacted, QueryLogJsonTests.Domains, metrics, leaveOpen: true))
        {
            log.Write(QueryLogJsonTests.FullEntry());
        }

        string expected = QueryLogJson.Format(QueryLogJsonTests.FullEntry(), new PrivacyRedactor(PrivacyMode.Redacted, QueryLogJsonTests.Domains)) + "\n";
        Assert.Equal(expected, target.ToString());
    }

    [Fact]
    public async Task FullQueueDropsAndCountsWithoutBlockingThenDrainsTheRest()
    {
        var metrics = new ResolverMetrics();
        using var target = new GatedStream();
        var log = new QueryLogWriter(target, PrivacyMode.Minimal, QueryLogJsonTests.Domains, metrics, capacity: 4, leaveOpen: true, limits: QueryLogLimits.None);

        // The first entry is taken by the writer, which then waits inside the stream's Write.
        log.Write(QueryLogJsonTests.FullEntry(0));
        Assert.True(target.WriteEntered.Wait(s_wait));

        // Four fill the queue; three more find it full. None of these calls may wait.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 1; i <= 7; i++)
        {
            log.Write(QueryLogJsonTests.FullEntry(i));
        }

        Assert.True(clock.Elapsed < s_wait);
        Assert.Equal(3, metrics.QueryLogDropped);

        target.Gate.Release(int.MaxValue / 2);
        await log.DisposeAsync();
        string[] lines = Lines(target.Inner.ToArray());
        Assert.Equal(6, lines.Length);
        Assert.Equal(
            [1503, 1504, 1505, 1506, 1507],
            lines[..5].Select(l => JsonDocument.Parse(l).RootElement.GetProperty("elapsed_us").GetInt64()));

        // The three the full queue refused are said to be missing, at the end.
        using (var report = JsonDocument.Parse(lines[5]))
        {
            Assert.Equal("log_suppressed", report.RootElement.GetProperty("event").GetString());
            Assert.Equal(3, report.RootElement.GetProperty("suppressed").GetInt64());
        }

        // One flush for the first batch, one for the four queued behind it, one for the closing report: not one per line.
        Assert.Equal(3, target.Flushes);
        Assert.Equal(3, metrics.QueryLogDropped);
    }

    [Fact]
    public async Task FailingTargetCountsLostLinesAndDoesNotThrow()
    {
        var metrics = new ResolverMetrics();
        var log = new QueryLogWriter(new FailingStream(), PrivacyMode.Full, QueryLogJsonTests.Domains, metrics);
        log.Write(QueryLogJsonTests.FullEntry(0));
        log.Write(QueryLogJsonTests.FullEntry(1));
        await log.DisposeAsync();
        Assert.Equal(2, log.WriteFailures);
        Assert.Equal(2, metrics.QueryLogDropped);
        Assert.IsType<IOException>(log.LastWriteError);
    }

    [Fact]
    public async Task WriteAfterDisposeIsCountedAsDropped()
    {
        var metrics = new ResolverMetrics();
        var log = new QueryLogWriter(new MemoryStream(), PrivacyMode.Full, QueryLogJsonTests.Domains, metrics);
        await log.DisposeAsync();
        await log.DisposeAsync();
        log.Write(QueryLogJsonTests.FullEntry());
        Assert.Equal(1, metrics.QueryLogDropped);
    }

    [Fact]
    public async Task ManyWritersAtOnceLoseNothingWhenTheQueueIsLargeEnough()
    {
        var metrics = new ResolverMetrics();
        var target = new MemoryStream();
        var log = new QueryLogWriter(target, PrivacyMode.Redacted, QueryLogJsonTests.Domains, metrics, leaveOpen: true, limits: QueryLogLimits.None);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                log.Write(QueryLogJsonTests.FullEntry((t * 10_000) + i));
            }
        }, TestContext.Current.CancellationToken)));
        await log.DisposeAsync();
        Assert.Equal(8_000, Lines(target.ToArray()).Length);
        Assert.Equal(0, metrics.QueryLogDropped);
    }

    /// <summary>A stream whose writes wait on a semaphore, as a stuck disk or pipe would.</summary>
    private sealed class GatedStream : Stream
    {
        public MemoryStream Inner { get; } = new();

        public SemaphoreSlim Gate { get; } = new(0);

        public ManualResetEventSlim WriteEntered { get; } = new();

        public int Flushes { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Inner.Length;

        public override long Position { get => Inner.Position; set => throw new NotSupportedException(); }

        public override void Flush() => Flushes++;

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            WriteEntered.Set();
            Gate.Wait();
            Inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WriteEntered.Set();
            await Gate.WaitAsync(cancellationToken);
            Inner.Write(buffer.Span);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Gate.Dispose();
                WriteEntered.Dispose();
                Inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class FailingStream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => 0;

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override void Flush() => throw new IOException("disk full");

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("disk full");

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("disk full"));
    }
}
