using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Decisions;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Engine;

/// <summary>What the engine is built from; the listeners, the jail's stub and the TUN filter's virtual DNS share one.</summary>
public sealed class DnsEngineOptions
{
    public ResolverPolicy Policy { get; init; } = ResolverPolicy.Default;

    /// <summary>
    /// The sinkhole A when the policy names none. The jail and the TUN filter keep 6.6.6.6 (their egress is closed, a
    /// connection to it is refused and logged); <c>dnsw proxy</c> answers real hosts and sets 0.0.0.0
    /// (<see cref="ResolverPolicy.ProxySinkholeV4"/>).
    /// </summary>
    public IPAddress DefaultSinkholeV4 { get; init; } = ResolverPolicy.DefaultSinkholeV4;

    /// <summary>Where allowed queries go; null when the policy never forwards (every forward then gets SERVFAIL).</summary>
    public IDnsForwarder? Forwarder { get; init; }

    /// <summary>The answer cache; null to forward every query.</summary>
    public DnsCache? Cache { get; init; }

    /// <summary>Records every A/AAAA of forwarded, cached and local answers before they are released.</summary>
    public IpTracker? Tracker { get; init; }

    /// <summary>Scores each query's base domain (exfiltration indicator); null to skip scoring.</summary>
    public ExfiltrationScorer? Exfiltration { get; init; }

    public IQueryLog? QueryLog { get; init; }

    /// <summary>
    /// Told of every answer that carries real addresses (forwarded, cached, local) after the tracker recorded it and
    /// before it is released: an enforcement backend opens its firewall here (the jail's nftables sets), so the
    /// client's first packet to an answered address is never refused.
    /// </summary>
    public IAnswerObserver? AnswerObserver { get; init; }

    /// <summary>
    /// DNS rebinding protection: forwarded answers lose their loopback, private, link-local, multicast and own
    /// addresses (<see cref="RebindingGuard"/>) before the tracker, the observer, the cache or the client see them,
    /// unless the policy's <c>private_answers</c> names the question. On by default (the jail and the TUN filter open
    /// their firewalls from answers); null turns it off (<c>dnsw proxy</c>'s default, docs/DECISIONS.md).
    /// </summary>
    public RebindingGuard? Rebinding { get; init; } = RebindingGuard.Default;

    /// <summary>
    /// Forwarded queries waiting on an upstream at once, over every listener; beyond it a query is answered SERVFAIL
    /// at once (outcome <see cref="QueryOutcome.Overloaded"/>), so a silent upstream cannot pin memory without bound.
    /// Each listener has a limit of its own as well.
    /// </summary>
    public int MaxForwardsInFlight { get; init; } = ProxyConfig.DefaultInFlightTotal;

    public ResolverMetrics Metrics { get; init; } = new();

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// The DNS engine: policy decision, cache, forwarding with failover, IP tracking, logging and counting for one query
/// at a time, from any listener. <see cref="HandleAsync(ReadOnlyMemory{byte}, Memory{byte}, ListenerProtocol, System.Net.EndPoint?, CancellationToken)"/> completes synchronously for policy and cache answers (no
/// allocation on a cache hit when the query log and scoring are off) and asynchronously only to wait on an upstream.
/// Thread-safe; the policy can be swapped at any moment with <see cref="Reload"/> (queries in flight finish under the
/// policy they started with).
/// </summary>
public sealed class DnsEngine
{
    /// <summary>The largest DNS message (RFC 1035 §4.2.2: TCP's two-byte length); listeners size their buffers with it.</summary>
    public const int MaxMessageSize = 65_535;

    /// <summary>RFC 1035 §4.2.1: without EDNS a UDP message is at most 512 bytes.</summary>
    public const int ClassicUdpLimit = 512;

    private readonly IDnsForwarder? _forwarder;
    private readonly DnsCache? _cache;
    private readonly IpTracker? _tracker;
    private readonly ExfiltrationScorer? _scorer;
    private readonly IQueryLog? _log;
    private readonly IAnswerObserver? _observer;
    private readonly RebindingGuard? _rebinding;
    private readonly InFlightLimit _forwards;
    private readonly ResolverMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly double _ticksPerTimestamp;
    private readonly IPAddress _defaultSinkholeV4;

    // Forwarded queries waiting on an upstream, by cache key: an identical query joins the first instead of asking
    // again (one upstream query for N clients). Bounded by the in-flight limits every query passes first.
    private readonly ConcurrentDictionary<string, SharedForward> _shared = new(StringComparer.Ordinal);
    private volatile ResolverDecider _decider;

    public DnsEngine(DnsEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _defaultSinkholeV4 = options.DefaultSinkholeV4;
        _decider = new ResolverDecider(options.Policy, _defaultSinkholeV4);
        _forwarder = options.Forwarder;
        _cache = options.Cache;
        _tracker = options.Tracker;
        _scorer = options.Exfiltration;
        _log = options.QueryLog;
        _observer = options.AnswerObserver;
        _rebinding = options.Rebinding;
        _forwards = new InFlightLimit(options.MaxForwardsInFlight);
        _metrics = options.Metrics;
        _time = options.Time;
        _ticksPerTimestamp = (double)TimeSpan.TicksPerSecond / _time.TimestampFrequency;
    }

    public ResolverPolicy Policy => _decider.Policy;

    public ResolverMetrics Metrics => _metrics;

    public DnsCache? Cache => _cache;

    public IpTracker? Tracker => _tracker;

    /// <summary>The rebinding protection in force, or null when it is off.</summary>
    public RebindingGuard? Rebinding => _rebinding;

    /// <summary>Forwarded queries waiting on an upstream now, over every listener, and their limit.</summary>
    public InFlightLimit Forwards => _forwards;

    /// <summary>Whether the client's address is used (the query log names it); listeners skip building it otherwise.</summary>
    public bool WantsClientAddress => _log is not null;

    /// <summary>The engine's clock in <see cref="TimeSpan"/> ticks (monotonic), as the cache and the tracker take it.</summary>
    public long NowTicks => (long)(_time.GetTimestamp() * _ticksPerTimestamp);

    /// <summary>
    /// Swaps the policy atomically: the next query is decided by <paramref name="policy"/>. The cache holds answers
    /// as rebinding protection left them, so it is emptied when <c>private_answers</c> changes.
    /// </summary>
    public void Reload(ResolverPolicy policy)
    {
        ResolverDecider old = _decider;
        _decider = new ResolverDecider(policy, _defaultSinkholeV4);
        if (_rebinding is not null && !old.Policy.PrivateAnswers.Rules.SequenceEqual(policy.PrivateAnswers.Rules, StringComparer.OrdinalIgnoreCase))
        {
            _cache?.Clear();
        }
    }

    /// <summary>Drops expired cache entries and tracked addresses; the host calls it every few seconds.</summary>
    public void Sweep()
    {
        long now = NowTicks;
        _cache?.Sweep(now);
        _tracker?.Sweep(now);
    }

    /// <summary>
    /// Serves one query. Writes the response into <paramref name="response"/> (at least <see cref="MaxMessageSize"/>
    /// bytes is always enough) and returns its length, or 0 when nothing must be sent (a response, a packet shorter
    /// than a header). Over UDP and the packet path the response is cut to the client's limit (512 bytes, or its EDNS
    /// payload size) with TC set, so the client asks again over TCP (RFC 1035 §4.2.1, RFC 6891 §6.2.5).
    /// </summary>
    public ValueTask<int> HandleAsync(
        ReadOnlyMemory<byte> query,
        Memory<byte> response,
        ListenerProtocol protocol,
        EndPoint? client,
        CancellationToken cancellationToken = default) =>
        HandleAsync(query, response, protocol, client, null, cancellationToken);

    /// <summary>
    /// Serves one query from a listener with a limit of its own on forwarded queries in flight
    /// (<paramref name="listenerForwards"/>, besides the engine's <see cref="DnsEngineOptions.MaxForwardsInFlight"/>).
    /// </summary>
    public ValueTask<int> HandleAsync(
        ReadOnlyMemory<byte> query,
        Memory<byte> response,
        ListenerProtocol protocol,
        EndPoint? client,
        InFlightLimit? listenerForwards,
        CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        ResolverDecider decider = _decider;
        ReadOnlySpan<byte> q = query.Span;

        string? qname = null;
        ushort qtype = 0;
        int score = -1;
        if (_log is not null || _scorer is not null)
        {
            TryReadQuestion(q, out qname, out qtype);
        }

        PolicyDecision decision = decider.Decide(q);

        // Only what would be forwarded is scored (docs/EXFILTRATION.md, "In the resolver"): names the policy answers
        // anyway cannot carry data out, and must not crowd a real tunnel out of the indicator's table. Under
        // sinkhole-everything nothing is forwarded and the log is the whole report, so every query is scored there.
        if (_scorer is not null && qname is not null
            && (decision.Verdict == PolicyVerdict.Forward || decision.Reason == DecisionReason.SinkholeAll))
        {
            score = _scorer.AddQuery(qname, qtype, decider.Policy.Exfiltration.BurstBaseDomains);
            decision = decider.WithExfiltrationScore(decision, score);
        }

        int length;
        switch (decision.Verdict)
        {
            case PolicyVerdict.Drop:
                Finish(protocol, client, start, QueryOutcome.Dropped, decision.ReasonText, qname, qtype, score, default, null);
                return ValueTask.FromResult(0);

            case PolicyVerdict.Answer:
                if (!decider.TryWriteAnswer(q, decision, response.Span, out length))
                {
                    Finish(protocol, client, start, QueryOutcome.Dropped, "answer did not fit", qname, qtype, score, default, null);
                    return ValueTask.FromResult(0);
                }

                QueryOutcome outcome = OutcomeOf(decision);
                if (outcome == QueryOutcome.Local)
                {
                    _tracker?.Record(response.Span[..length], NowTicks);
                    _observer?.BeforeRelease(response.Span[..length]);
                }

                length = FitToClient(q, response.Span, length, protocol);
                Finish(protocol, client, start, outcome, decision.ReasonText, qname, qtype, score, response.Span[..length], null);
                return ValueTask.FromResult(length);
        }

        if (_cache is not null)
        {
            long now = NowTicks;
            if (_cache.Lookup(q, now, response.Span, out length, out bool refreshDue) == DnsCacheLookupResult.Hit)
            {
                // The tracker may keep addresses for less time than the cache keeps the answer: record again, so
                // an address released from the cache is always one the firewall lets through.
                _tracker?.Record(response.Span[..length], now);
                _observer?.BeforeRelease(response.Span[..length]);
                if (refreshDue)
                {
                    Prefetch(decider, q);
                }

                length = FitToClient(q, response.Span, length, protocol);
                Finish(protocol, client, start, QueryOutcome.Cached, "cache hit", qname, qtype, score, response.Span[..length], null);
                return ValueTask.FromResult(length);
            }
        }

        if (_forwarder is null)
        {
            length = ServFail(q, response.Span, DnsExtendedError.NoReachableAuthority, "no upstream configured");
            Finish(protocol, client, start, QueryOutcome.ServFail, "no upstream configured", qname, qtype, score, response.Span[..length], null);
            return ValueTask.FromResult(length);
        }

        if (listenerForwards is not null && !listenerForwards.TryEnter())
        {
            return ValueTask.FromResult(Overloaded(q, response.Span, protocol, client, start, "too many forwarded queries in flight on this listener", qname, qtype, score));
        }

        if (!_forwards.TryEnter())
        {
            listenerForwards?.Leave();
            return ValueTask.FromResult(Overloaded(q, response.Span, protocol, client, start, "too many forwarded queries in flight", qname, qtype, score));
        }

        return ForwardAsync(decider, query, response, protocol, client, listenerForwards, start, qname, qtype, score, cancellationToken);
    }

    /// <summary>SERVFAIL at once for a query over the limit of forwarded queries in flight: no upstream, no waiting.</summary>
    private int Overloaded(ReadOnlySpan<byte> query, Span<byte> response, ListenerProtocol protocol, EndPoint? client, long start, string reason, string? qname, ushort qtype, int score)
    {
        int length = ServFail(query, response, DnsExtendedError.Other, "overloaded");
        Finish(protocol, client, start, QueryOutcome.Overloaded, reason, qname, qtype, score, response[..length], null);
        return length;
    }

    /// <summary>
    /// Forwards the query, or joins an identical one already waiting on an upstream (same name, type, class, DO and CD:
    /// the cache key) and answers with its reply, so N clients asking at once cost one upstream query.
    /// </summary>
    private ValueTask<int> ForwardAsync(
        ResolverDecider decider,
        ReadOnlyMemory<byte> query,
        Memory<byte> response,
        ListenerProtocol protocol,
        EndPoint? client,
        InFlightLimit? listenerForwards,
        long start,
        string? qname,
        ushort qtype,
        int score,
        CancellationToken cancellationToken)
    {
        Span<byte> key = stackalloc byte[DnsCacheKey.MaxLength];
        if (!DnsCacheKey.TryBuild(query.Span, key, out int keyLength, out int questionNameLength))
        {
            return ForwardAndShareAsync(decider, query, response, protocol, client, listenerForwards, start, qname, qtype, score, null, cancellationToken);
        }

        string text = System.Text.Encoding.Latin1.GetString(key[..keyLength]);
        var mine = new SharedForward(text);
        SharedForward first = _shared.GetOrAdd(text, mine);
        return first == mine
            ? ForwardAndShareAsync(decider, query, response, protocol, client, listenerForwards, start, qname, qtype, score, mine, cancellationToken)
            : JoinAsync(first, decider, query, response, protocol, client, listenerForwards, start, qname, qtype, score, questionNameLength, cancellationToken);
    }

    /// <summary>Waits for the identical query in flight and answers with its reply (the asker's ID and question case); asks itself if that one could not share.</summary>
    private async ValueTask<int> JoinAsync(
        SharedForward first,
        ResolverDecider decider,
        ReadOnlyMemory<byte> query,
        Memory<byte> response,
        ListenerProtocol protocol,
        EndPoint? client,
        InFlightLimit? listenerForwards,
        long start,
        string? qname,
        ushort qtype,
        int score,
        int questionNameLength,
        CancellationToken cancellationToken)
    {
        SharedReply shared;
        _metrics.EnterQuery();
        try
        {
            shared = await first.Reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            shared = default;
        }
        finally
        {
            _metrics.LeaveQuery();
        }

        if (shared.AskAgain)
        {
            return await ForwardAndShareAsync(decider, query, response, protocol, client, listenerForwards, start, qname, qtype, score, null, cancellationToken).ConfigureAwait(false);
        }

        _forwards.Leave();
        listenerForwards?.Leave();
        int length;
        if (shared.Answer is not byte[] answer || answer.Length > response.Length)
        {
            length = ServFail(query.Span, response.Span, DnsExtendedError.NoReachableAuthority, "no upstream answered");
            Finish(protocol, client, start, QueryOutcome.ServFail, "all upstreams failed (an identical query in flight)", qname, qtype, score, response.Span[..length], shared.Upstream);
            return length;
        }

        // The tracker and the firewall were told of these addresses before the first query's answer was released.
        answer.CopyTo(response.Span);
        query.Span[..sizeof(ushort)].CopyTo(response.Span);
        query.Span.Slice(DnsHeader.Length, questionNameLength).CopyTo(response.Span[DnsHeader.Length..]);
        length = FitToClient(query.Span, response.Span, answer.Length, protocol);
        Finish(protocol, client, start, shared.Outcome, shared.Reason + " (shared with an identical query in flight)", qname, qtype, score, response.Span[..length], shared.Upstream);
        return length;
    }

    /// <summary>Tells those who joined <paramref name="sharing"/> the reply, and lets later queries start their own.</summary>
    private void Share(SharedForward? sharing, SharedReply reply)
    {
        if (sharing is not null)
        {
            _shared.TryRemove(new KeyValuePair<string, SharedForward>(sharing.Key, sharing));
            sharing.Reply.TrySetResult(reply);
        }
    }

    private async ValueTask<int> ForwardAndShareAsync(
        ResolverDecider decider,
        ReadOnlyMemory<byte> query,
        Memory<byte> response,
        ListenerProtocol protocol,
        EndPoint? client,
        InFlightLimit? listenerForwards,
        long start,
        string? qname,
        ushort qtype,
        int score,
        SharedForward? sharing,
        CancellationToken cancellationToken)
    {
        // Whatever happens below, those who joined this query are answered (AskAgain unless a reply was shared).
        try
        {
            _metrics.EnterQuery();
            ForwardReply reply;
            byte[] upstreamQuery = ArrayPool<byte>.Shared.Rent(UpstreamQuery.MaxLength);
            try
            {
                if (!UpstreamQuery.TryWrite(query.Span, upstreamQuery, out int upstreamLength))
                {
                    // Not reached for a query the policy forwards (one readable question); never pass the client's bytes on.
                    reply = new ForwardReply(0, null, UpstreamError.BadResponse);
                }
                else
                {
                    reply = await _forwarder!.ForwardAsync(upstreamQuery.AsMemory(0, upstreamLength), response, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(upstreamQuery);
                _forwards.Leave();
                listenerForwards?.Leave();
                _metrics.LeaveQuery();
            }

            int length;
            if (reply.Error == UpstreamError.TooLarge && !IsStream(protocol))
            {
                // The answer is bigger than this datagram path carries: TC, and the client asks again over TCP.
                length = Truncated(query.Span, response.Span);
                Finish(protocol, client, start, QueryOutcome.Forwarded, "answer too large for UDP: truncated", qname, qtype, score, response.Span[..length], reply.Upstream);
                return length;
            }

            if (!reply.Ok || !IsResponseTo(query.Span, response.Span[..reply.Length]))
            {
                if (!reply.Ok && TryStale(query.Span, response.Span, out length))
                {
                    // RFC 8767: an expired answer is better than none while every upstream is down; never a fallback upstream.
                    long staleNow = NowTicks;
                    _tracker?.Record(response.Span[..length], staleNow);
                    _observer?.BeforeRelease(response.Span[..length]);
                    string staleReason = "stale answer: all upstreams failed: " + ErrorText(reply.Error);
                    Share(sharing, new SharedReply(response.Span[..length].ToArray(), AskAgain: false, QueryOutcome.Stale, staleReason, reply.Upstream));
                    length = FitToClient(query.Span, response.Span, length, protocol);
                    Finish(protocol, client, start, QueryOutcome.Stale, staleReason, qname, qtype, score, response.Span[..length], reply.Upstream);
                    return length;
                }

                Share(sharing, new SharedReply(null, AskAgain: reply.Ok, QueryOutcome.ServFail, "", reply.Upstream));
                length = reply.Ok
                    ? ServFail(query.Span, response.Span, DnsExtendedError.Other, "upstream reply does not answer the query")
                    : ServFail(query.Span, response.Span, DnsExtendedError.NoReachableAuthority, "no upstream answered");
                string reason = reply.Ok ? "upstream reply does not answer the query" : "all upstreams failed: " + ErrorText(reply.Error);
                Finish(protocol, client, start, QueryOutcome.ServFail, reason, qname, qtype, score, response.Span[..length], reply.Upstream);
                return length;
            }

            length = Guarded(decider, query.Span, response.Span, reply.Length, out int removed);
            if (length == 0)
            {
                length = ServFail(query.Span, response.Span);
                Finish(protocol, client, start, QueryOutcome.ServFail, "answer held private addresses and could not be rewritten", qname, qtype, score, response.Span[..length], reply.Upstream);
                return length;
            }

            string forwarded = removed switch
            {
                0 => "forwarded",
                1 => "forwarded; 1 record with a private or own address removed (rebinding protection)",
                _ => "forwarded; " + removed.ToString(CultureInfo.InvariantCulture) + " records with private or own addresses removed (rebinding protection)",
            };

            long now = NowTicks;

            // Recorded before the answer leaves: whoever enforces on the tracker never sees a connection to an address
            // whose answer it has not been told about yet.
            _tracker?.Record(response.Span[..length], now);
            _observer?.BeforeRelease(response.Span[..length]);
            _cache?.Store(query.Span, response.Span[..length], now);
            if (_scorer is not null && qname is not null)
            {
                _scorer.AddResponse(qname, (ushort)RcodeOf(response.Span));
            }

            Share(sharing, new SharedReply(response.Span[..length].ToArray(), AskAgain: false, QueryOutcome.Forwarded, forwarded, reply.Upstream));

            length = FitToClient(query.Span, response.Span, length, protocol);
            Finish(protocol, client, start, QueryOutcome.Forwarded, forwarded, qname, qtype, score, response.Span[..length], reply.Upstream);
            return length;
        }
        finally
        {
            Share(sharing, new SharedReply(null, AskAgain: true, QueryOutcome.ServFail, "", null));
        }
    }

    /// <summary>
    /// An upstream's answer after rebinding protection: its length with the records naming private or own addresses
    /// removed (<paramref name="removed"/> of them), or 0 when it could not be rewritten. Every forwarded answer,
    /// whether a client's or a prefetch's, passes here before it is stored or released.
    /// </summary>
    private int Guarded(ResolverDecider decider, ReadOnlySpan<byte> query, Span<byte> response, int length, out int removed)
    {
        removed = 0;
        if (_rebinding is null || !_rebinding.HoldsForbidden(response[..length]) || decider.AllowsPrivateAnswers(query))
        {
            return length;
        }

        length = StripForbidden(_rebinding, response, length, out removed);
        if (length > 0)
        {
            _metrics.RecordRebindingStrip();
        }

        return length;
    }

    /// <summary>
    /// Refreshes a cached answer in its last tenth of TTL (<see cref="DnsCacheOptions.Prefetch"/>) in the background:
    /// the reply is stored, not released, so the tracker and the firewall hear of its addresses when a client is
    /// given it from the cache. Counts as a forward in flight; skipped when none is free (the answer then expires and
    /// the next asker forwards as usual).
    /// </summary>
    private void Prefetch(ResolverDecider decider, ReadOnlySpan<byte> query)
    {
        if (_forwarder is null || !_forwards.TryEnter())
        {
            _metrics.RecordPrefetch(done: false);
            return;
        }

        _ = PrefetchAsync(decider, query.ToArray());
    }

    private async Task PrefetchAsync(ResolverDecider decider, byte[] query)
    {
        byte[] upstreamQuery = ArrayPool<byte>.Shared.Rent(UpstreamQuery.MaxLength);
        byte[] response = ArrayPool<byte>.Shared.Rent(MaxMessageSize);
        bool done = false;
        try
        {
            if (UpstreamQuery.TryWrite(query, upstreamQuery, out int upstreamLength))
            {
                ForwardReply reply = await _forwarder!.ForwardAsync(upstreamQuery.AsMemory(0, upstreamLength), response, CancellationToken.None).ConfigureAwait(false);
                if (reply.Ok && IsResponseTo(query, response.AsSpan(0, reply.Length)))
                {
                    int length = Guarded(decider, query, response, reply.Length, out _);
                    done = length > 0 && _cache!.Store(query, response.AsSpan(0, length), NowTicks) == DnsCacheStoreResult.Stored;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(upstreamQuery);
            ArrayPool<byte>.Shared.Return(response);
            _forwards.Leave();
            _metrics.RecordPrefetch(done);
        }
    }

    /// <summary>A stale answer from the cache (RFC 8767) with EDE 3, Stale Answer (RFC 8914), when its OPT allows.</summary>
    private bool TryStale(ReadOnlySpan<byte> query, Span<byte> response, out int length)
    {
        length = 0;
        if (_cache is not { ServesStale: true } cache || cache.LookupStale(query, NowTicks, response, out length) != DnsCacheLookupResult.Hit)
        {
            return false;
        }

        if (DnsOptEdit.TryAppendExtendedError(response, length, DnsExtendedError.StaleAnswer, out int withEde))
        {
            length = withEde;
        }

        return true;
    }

    /// <summary>One forwarded query others may join: its key and the reply it shares.</summary>
    private sealed class SharedForward(string key)
    {
        public string Key { get; } = key;

        public TaskCompletionSource<SharedReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>What a forwarded query shares: the answer as released (null: none), or AskAgain when a joiner must forward itself.</summary>
    private readonly record struct SharedReply(byte[]? Answer, bool AskAgain, QueryOutcome Outcome, string Reason, string? Upstream);

    /// <summary>The answer rewritten in place without its forbidden records; 0 when it could not be (then nothing of it is released).</summary>
    private static int StripForbidden(RebindingGuard guard, Span<byte> response, int length, out int removed)
    {
        // Names are re-encoded and may take more room than the compressed originals: the largest message fits.
        byte[] scratch = ArrayPool<byte>.Shared.Rent(MaxMessageSize);
        try
        {
            if (!guard.TryStrip(response[..length], scratch, out int written, out removed) || written > response.Length)
            {
                return 0;
            }

            scratch.AsSpan(0, written).CopyTo(response);
            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private void Finish(
        ListenerProtocol protocol,
        EndPoint? client,
        long start,
        QueryOutcome outcome,
        string reason,
        string? qname,
        ushort qtype,
        int score,
        ReadOnlySpan<byte> response,
        string? upstream)
    {
        long micros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        _metrics.Record(protocol, outcome, micros);
        if (_log is null)
        {
            return;
        }

        _log.Write(new QueryLogEntry
        {
            Timestamp = _time.GetUtcNow(),
            Protocol = protocol,
            Client = client?.ToString(),
            QName = qname,
            QType = qname is null ? null : TypeText(qtype),
            Outcome = outcome,
            Reason = reason,
            Rcode = response.Length >= DnsHeader.Length ? RcodeText(RcodeOf(response)) : null,
            Answers = response.Length >= DnsHeader.Length ? AddressesOf(response) : [],
            Upstream = upstream,
            ElapsedMicroseconds = micros,
            ExfiltrationScore = score >= 0 ? score : null,
        });
    }

    private static QueryOutcome OutcomeOf(PolicyDecision decision) => decision.Reason switch
    {
        DecisionReason.LocalRecord or DecisionReason.LocalNoData => QueryOutcome.Local,
        DecisionReason.BlockedExfiltration => QueryOutcome.BlockedExfiltration,
        DecisionReason.Malformed or DecisionReason.QuestionCount or DecisionReason.OpcodeNotImplemented => QueryOutcome.Malformed,
        _ when decision.Kind == AnswerKind.Sinkhole => QueryOutcome.Sinkholed,
        _ => QueryOutcome.Blocked,
    };

    private static bool TryReadQuestion(ReadOnlySpan<byte> query, [NotNullWhen(true)] out string? qname, out ushort qtype)
    {
        qname = null;
        qtype = 0;
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadHeader(out DnsHeader header) || header.IsResponse || header.QuestionCount != 1
            || !reader.TryReadQuestion(out DnsQuestion question))
        {
            return false;
        }

        qname = question.Name.ToString().TrimEnd('.');
        qtype = (ushort)question.Type;
        return true;
    }

    /// <summary>A reply answers a query when it is a response with the same ID and the same question (RFC 5452 §9.1).</summary>
    internal static bool IsResponseTo(ReadOnlySpan<byte> query, ReadOnlySpan<byte> reply)
    {
        var qr = new DnsMessageReader(query);
        var rr = new DnsMessageReader(reply);
        if (!qr.TryReadHeader(out DnsHeader qh) || !rr.TryReadHeader(out DnsHeader rh) || !rh.IsResponse || qh.Id != rh.Id)
        {
            return false;
        }

        if (!qr.TryReadQuestion(out DnsQuestion qq))
        {
            return true; // Nothing to compare against: the ID is all there is.
        }

        return rr.TryReadQuestion(out DnsQuestion rq) && rq.Type == qq.Type && rq.Class == qq.Class && rq.Name.Equals(qq.Name);
    }

    private static int ServFail(ReadOnlySpan<byte> query, Span<byte> response) =>
        DnsMessageWriter.TryWriteServFail(query, response, out int n) ? n : 0;

    /// <summary>SERVFAIL that says why (RFC 8914) to a client that speaks EDNS.</summary>
    private static int ServFail(ReadOnlySpan<byte> query, Span<byte> response, DnsExtendedError why, string text) =>
        DnsMessageWriter.TryWriteErrorResponse(query, response, DnsRcode.ServFail, why, text, out int n) ? n : 0;

    /// <summary>Header and question with TC set and no records (RFC 1035 §4.2.1): the client asks again over TCP.</summary>
    internal static int Truncated(ReadOnlySpan<byte> query, Span<byte> response)
    {
        if (!DnsMessageWriter.TryWriteErrorResponse(query, response, DnsRcode.NoError, out int n))
        {
            return 0;
        }

        response[2] |= 0x02; // TC (RFC 1035 §4.1.1)
        return n;
    }

    private static DnsRcode RcodeOf(ReadOnlySpan<byte> message) => (DnsRcode)(message[3] & 0x0F);

    /// <summary>
    /// Cuts a UDP response to what the client said it can take: the header and question with TC set (RFC 2181 §9:
    /// a truncated answer is not used, the client retries over TCP). TCP takes anything up to 65,535 bytes.
    /// </summary>
    /// <summary>Whether the path carries a whole 65,535-byte message (TCP, DoT, DoH), so nothing is truncated.</summary>
    private static bool IsStream(ListenerProtocol protocol) => protocol is ListenerProtocol.Tcp or ListenerProtocol.Tls or ListenerProtocol.Https;

    internal static int FitToClient(ReadOnlySpan<byte> query, Span<byte> response, int length, ListenerProtocol protocol)
    {
        if (IsStream(protocol))
        {
            return length;
        }

        int limit = UdpLimitOf(query);
        if (length <= limit)
        {
            return length;
        }

        var reader = new DnsMessageReader(response[..length]);
        if (!reader.TryReadHeader(out DnsHeader header))
        {
            return 0;
        }

        for (int i = 0; i < header.QuestionCount; i++)
        {
            if (!reader.TryReadQuestion(out _))
            {
                return 0;
            }
        }

        int cut = reader.Position;
        if (cut > limit)
        {
            return 0;
        }

        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(response[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(response[2..], (ushort)(flags | (ushort)DnsHeaderFlags.Truncated));
        response.Slice(6, 6).Clear(); // ANCOUNT, NSCOUNT, ARCOUNT
        return cut;
    }

    /// <summary>The client's UDP limit: 512, or its EDNS UDP payload size (RFC 6891 §6.2.3, never below 512).</summary>
    internal static int UdpLimitOf(ReadOnlySpan<byte> query)
    {
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadHeader(out DnsHeader header) || header.AdditionalCount == 0)
        {
            return ClassicUdpLimit;
        }

        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (record.Type == DnsType.OPT && record.TryReadOpt(out DnsOpt opt))
            {
                return Math.Max(ClassicUdpLimit, (int)opt.UdpPayloadSize);
            }
        }

        return ClassicUdpLimit;
    }

    private static IReadOnlyList<string> AddressesOf(ReadOnlySpan<byte> response)
    {
        List<string>? addresses = null;
        var reader = new DnsMessageReader(response);
        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (record.Section == DnsSection.Answer && record.TryReadAddress(out var address))
            {
                (addresses ??= []).Add(address.ToString());
            }
        }

        return addresses is null ? [] : addresses;
    }

    internal static string TypeText(ushort type) =>
        Enum.IsDefined((DnsType)type) ? ((DnsType)type).ToString() : "TYPE" + type.ToString(CultureInfo.InvariantCulture);

    internal static string RcodeText(DnsRcode rcode) => rcode switch
    {
        DnsRcode.NoError => "NOERROR",
        DnsRcode.FormErr => "FORMERR",
        DnsRcode.ServFail => "SERVFAIL",
        DnsRcode.NxDomain => "NXDOMAIN",
        DnsRcode.NotImp => "NOTIMP",
        DnsRcode.Refused => "REFUSED",
        _ => "RCODE" + ((int)rcode).ToString(CultureInfo.InvariantCulture),
    };

    private static string ErrorText(UpstreamError error) => error switch
    {
        UpstreamError.Timeout => "timeout",
        UpstreamError.ConnectionRefused => "connection refused",
        UpstreamError.NetworkError => "network error",
        UpstreamError.TlsFailure => "TLS failure",
        UpstreamError.PinMismatch => "certificate pin mismatch",
        UpstreamError.HttpError => "HTTP error",
        UpstreamError.BadResponse => "bad response",
        UpstreamError.TooLarge => "response too large",
        UpstreamError.Canceled => "canceled",
        UpstreamError.Unavailable => "unavailable",
        _ => "no answer",
    };
}
