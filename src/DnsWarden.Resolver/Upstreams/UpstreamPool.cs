using System.Buffers;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>The pool's answer: the response's length in the caller's buffer and who gave it, or the last failure.</summary>
public readonly record struct PoolReply(int Length, IDnsUpstream? Upstream, UpstreamError Error)
{
    public bool Ok => Error == UpstreamError.None;
}

/// <summary>One upstream's health as the pool sees it, for the metrics endpoint.</summary>
public sealed record UpstreamHealth(string Url, bool Up, double EwmaMilliseconds, int ConsecutiveFailures);

/// <summary>
/// Spreads queries over the configured upstreams. Each upstream has a latency EWMA and a count of consecutive
/// failures; after <see cref="FailuresBeforeDown"/> it is down and skipped for a back-off (1 s, doubling to 30 s),
/// unless every upstream is down, in which case all are tried anyway. Healthy upstreams are tried fastest first
/// (those never measured after the measured ones; ties in configuration order). <see cref="UpstreamStrategy.Failover"/>
/// tries them one at a time, <see cref="UpstreamStrategy.Race"/> starts the first two together and fails over to the
/// rest when both fail. Only network and protocol failures count against health; a SERVFAIL or REFUSED answer is
/// passed on as an answer but is not a success either. When every upstream failed the reply says why: there is no
/// silent fallback.
/// </summary>
public sealed class UpstreamPool : IAsyncDisposable
{
    public const int FailuresBeforeDown = 3;

    public static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>Weight of the newest sample in the latency EWMA.</summary>
    private const double EwmaWeight = 0.3;

    private readonly IDnsUpstream[] _upstreams;
    private readonly HealthState[] _health;
    private readonly UpstreamStrategy _strategy;
    private readonly TimeSpan _attemptTimeout;
    private readonly TimeProvider _time;

    public UpstreamPool(IReadOnlyList<IDnsUpstream> upstreams, UpstreamStrategy strategy, TimeSpan attemptTimeout, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(upstreams);
        ArgumentOutOfRangeException.ThrowIfZero(upstreams.Count);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(attemptTimeout, TimeSpan.Zero);
        _upstreams = [.. upstreams];
        _health = new HealthState[_upstreams.Length];
        for (int i = 0; i < _health.Length; i++)
        {
            _health[i] = new HealthState();
        }

        _strategy = strategy;
        _attemptTimeout = attemptTimeout;
        _time = timeProvider ?? TimeProvider.System;
    }

    public IReadOnlyList<IDnsUpstream> Upstreams => _upstreams;

    /// <summary>A snapshot of every upstream's health, in configuration order.</summary>
    public IReadOnlyList<UpstreamHealth> Health
    {
        get
        {
            long now = _time.GetTimestamp();
            var list = new UpstreamHealth[_upstreams.Length];
            for (int i = 0; i < list.Length; i++)
            {
                HealthState h = _health[i];
                lock (h)
                {
                    list[i] = new UpstreamHealth(_upstreams[i].Config.Url, !h.IsDown(now), h.HasSample ? h.EwmaMs : 0, h.Failures);
                }
            }

            return list;
        }
    }

    /// <summary>
    /// Asks the upstreams until one answers. Never throws for upstream failures: a reply with an error means every
    /// upstream tried failed (or the caller cancelled) and the engine should answer SERVFAIL.
    /// </summary>
    public async ValueTask<PoolReply> QueryAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        int[] order = ArrayPool<int>.Shared.Rent(_upstreams.Length);
        try
        {
            int count = Order(order);
            int next = 0;
            UpstreamError last = UpstreamError.Unavailable;
            if (_strategy == UpstreamStrategy.Race && count >= 2)
            {
                PoolReply raced = await RaceAsync(order[0], order[1], query, response, cancellationToken).ConfigureAwait(false);
                if (raced.Ok || cancellationToken.IsCancellationRequested)
                {
                    return raced;
                }

                last = raced.Error;
                next = 2;
            }

            for (; next < count; next++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return new PoolReply(0, null, UpstreamError.Canceled);
                }

                int index = order[next];
                UpstreamReply reply = await AttemptAsync(index, query, response, cancellationToken).ConfigureAwait(false);
                if (reply.Ok)
                {
                    return new PoolReply(reply.Length, _upstreams[index], UpstreamError.None);
                }

                if (reply.Error == UpstreamError.TooLarge)
                {
                    // The answer exists but not in the caller's buffer: another upstream would give the same one.
                    return new PoolReply(0, _upstreams[index], UpstreamError.TooLarge);
                }

                last = reply.Error;
            }

            return new PoolReply(0, null, last);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
        }
    }

    private async ValueTask<PoolReply> RaceAsync(int a, int b, ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        // The second racer writes into a buffer of its own, so the loser never scribbles over the winner's answer.
        byte[] spare = ArrayPool<byte>.Shared.Rent(response.Length);
        using var stopA = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopB = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            Task<UpstreamReply> first = AttemptAsync(a, query, response, stopA.Token).AsTask();
            Task<UpstreamReply> second = AttemptAsync(b, query, spare.AsMemory(0, response.Length), stopB.Token).AsTask();
            Task<UpstreamReply> done = await Task.WhenAny(first, second).ConfigureAwait(false);
            Task<UpstreamReply> other = ReferenceEquals(done, first) ? second : first;
            UpstreamReply doneReply = await done.ConfigureAwait(false);
            if (doneReply.Ok)
            {
                await (ReferenceEquals(other, first) ? stopA : stopB).CancelAsync().ConfigureAwait(false);
            }

            UpstreamReply otherReply = await other.ConfigureAwait(false);
            (Task<UpstreamReply> winner, UpstreamReply reply) = doneReply.Ok ? (done, doneReply) : (other, otherReply);
            if (!reply.Ok)
            {
                return new PoolReply(0, null, otherReply.Error);
            }

            if (ReferenceEquals(winner, second))
            {
                spare.AsSpan(0, reply.Length).CopyTo(response.Span);
                return new PoolReply(reply.Length, _upstreams[b], UpstreamError.None);
            }

            return new PoolReply(reply.Length, _upstreams[a], UpstreamError.None);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(spare);
        }
    }

    /// <summary>One bounded attempt at one upstream; updates its health.</summary>
    private async ValueTask<UpstreamReply> AttemptAsync(int index, ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        IDnsUpstream upstream = _upstreams[index];
        long started = _time.GetTimestamp();
        UpstreamReply reply;
        if (upstream is UdpUpstream udp && udp.Timeout <= _attemptTimeout)
        {
            // Bounded already by the upstream's own deadline sweep: no linked source and timer per attempt.
            reply = await upstream.QueryAsync(query, response, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_attemptTimeout);
            reply = await upstream.QueryAsync(query, response, limit.Token).ConfigureAwait(false);
        }

        if (reply.Error == UpstreamError.Canceled && !cancellationToken.IsCancellationRequested)
        {
            reply = UpstreamReply.Fail(UpstreamError.Timeout);
        }

        HealthState health = _health[index];
        long now = _time.GetTimestamp();
        if (reply.Ok)
        {
            DnsRcode rcode = DnsExchange.ReadRcode(response.Span);
            if (rcode is not DnsRcode.ServFail and not DnsRcode.Refused)
            {
                health.Succeeded(_time.GetElapsedTime(started, now).TotalMilliseconds);
            }
        }
        else if (reply.Error is not UpstreamError.Canceled and not UpstreamError.TooLarge)
        {
            health.Failed(now, _time);
        }

        return reply;
    }

    /// <summary>Fills <paramref name="order"/> with the upstreams to try, best first; returns how many.</summary>
    private int Order(int[] order)
    {
        long now = _time.GetTimestamp();
        int n = _upstreams.Length;
        Span<double> keys = n <= 32 ? stackalloc double[n] : new double[n];
        int healthy = 0;
        for (int i = 0; i < n; i++)
        {
            HealthState h = _health[i];
            lock (h)
            {
                if (h.IsDown(now))
                {
                    continue;
                }

                keys[healthy] = h.HasSample ? h.EwmaMs : double.PositiveInfinity;
                order[healthy++] = i;
            }
        }

        if (healthy == 0)
        {
            // Never give up without trying: all down means all are tried, in configuration order.
            for (int i = 0; i < n; i++)
            {
                order[i] = i;
            }

            return n;
        }

        // Insertion sort: stable (ties keep configuration order) and the list is a handful long.
        for (int i = 1; i < healthy; i++)
        {
            double key = keys[i];
            int item = order[i];
            int j = i - 1;
            while (j >= 0 && keys[j] > key)
            {
                keys[j + 1] = keys[j];
                order[j + 1] = order[j];
                j--;
            }

            keys[j + 1] = key;
            order[j + 1] = item;
        }

        return healthy;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IDnsUpstream upstream in _upstreams)
        {
            await upstream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class HealthState
    {
        public double EwmaMs { get; private set; }

        public bool HasSample { get; private set; }

        public int Failures { get; private set; }

        private long _downUntil;
        private TimeSpan _backoff;

        /// <summary>Call under the lock.</summary>
        public bool IsDown(long now) => Failures >= FailuresBeforeDown && now < _downUntil;

        public void Succeeded(double milliseconds)
        {
            lock (this)
            {
                EwmaMs = HasSample ? (EwmaWeight * milliseconds) + ((1 - EwmaWeight) * EwmaMs) : milliseconds;
                HasSample = true;
                Failures = 0;
                _backoff = TimeSpan.Zero;
            }
        }

        public void Failed(long now, TimeProvider time)
        {
            lock (this)
            {
                Failures++;
                if (Failures == FailuresBeforeDown)
                {
                    _backoff = InitialBackoff;
                }
                else if (Failures > FailuresBeforeDown && now >= _downUntil)
                {
                    // A probe after the back-off failed; failures of queries already in flight do not double it again.
                    _backoff = _backoff * 2 > MaxBackoff ? MaxBackoff : _backoff * 2;
                }
                else
                {
                    return;
                }

                _downUntil = now + (long)(_backoff.TotalSeconds * time.TimestampFrequency);
            }
        }
    }
}
