using DnsWarden.Policy;
using DnsWarden.Resolver.Tests.Cache;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>An upstream that answers from memory after a delay, or fails as told; it sends nothing anywhere.</summary>
internal sealed class FakeUpstream(string url) : IDnsUpstream
{
    private int _calls;
    private int _cancellations;

    public UpstreamConfig Config { get; } = TestDns.Config(url);

    public UpstreamStats Stats { get; } = new();

    public TimeSpan Delay { get; set; }

    public UpstreamError Error { get; set; }

    public DnsRcode Rcode { get; set; }

    public int Calls => Volatile.Read(ref _calls);

    public int Cancellations => Volatile.Read(ref _cancellations);

    public async ValueTask<UpstreamReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        try
        {
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancellations);
            return UpstreamReply.Fail(UpstreamError.Canceled);
        }

        if (Error != UpstreamError.None)
        {
            return UpstreamReply.Fail(Error);
        }

        byte[] q = query.ToArray();
        byte[] answer = Rcode == DnsRcode.NoError
            ? DnsCacheTests.AnswerA(q, 60, "10.3.3.3")
            : DnsCacheTests.Respond(q, Rcode, (ref DnsMessageWriter _) => { });
        answer.CopyTo(response);
        return UpstreamReply.Success(answer.Length);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A clock that moves only when told to; timers are the system's.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
