using System.Threading.Tasks.Sources;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// One query waiting for its reply. Whoever removes it from its <see cref="PendingTable"/> owns it: only that party
/// touches <see cref="Query"/> and <see cref="Response"/> (the caller's buffers) and completes it, so a late reply
/// can never write into a buffer whose caller has already given up.
/// </summary>
/// <remarks>
/// <c>inlineContinuations</c>: the waiter resumes on the thread that completes it (the UDP receive thread),
/// so a reply is carried to the client without a thread-pool hop. Only for completers that never wait on anything the
/// continuation could hold.
/// </remarks>
internal sealed class PendingQuery : IValueTaskSource<UpstreamReply>
{
    // One object per query carries its wait: no completion source, no task, no state machine of its own (a
    // TaskCompletionSource, its task and an async wait per query were measurable on the forwarding path,
    // docs/BENCHMARKS.md). It is awaited once and never reused.
    private ManualResetValueTaskSourceCore<UpstreamReply> _core;
    private CancellationTokenRegistration _cancel;
    private int _completed;

    public PendingQuery(ReadOnlyMemory<byte> query, Memory<byte> response, bool inlineContinuations = false)
    {
        Query = query;
        Response = response;
        ClientId = DnsExchange.ReadId(query.Span);
        _core.RunContinuationsAsynchronously = !inlineContinuations;
    }

    public ReadOnlyMemory<byte> Query { get; }

    public Memory<byte> Response { get; }

    public ushort ClientId { get; }

    public ushort WireId { get; set; }

    /// <summary>The table the query waits in, set when it is added.</summary>
    public PendingTable? Table { get; set; }

    /// <summary>The datagram as sent (UDP): the pending query's own copy, so a retransmission never reads a buffer given back.</summary>
    public byte[] Wire { get; init; } = [];

    /// <summary>When the query times out (<see cref="System.Diagnostics.Stopwatch"/> ticks; UDP).</summary>
    public long Deadline { get; set; }

    /// <summary>When the datagram goes out again if no answer came (<see cref="System.Diagnostics.Stopwatch"/> ticks; UDP).</summary>
    public long ResendAt { get; set; }

    /// <summary>Retransmissions so far (UDP).</summary>
    public int Resent { get; set; }

    public void Fail(UpstreamError error) => SetResult(UpstreamReply.Fail(error));

    /// <summary>
    /// The reply, once whoever took the query from its table completes it; cancellation takes the query back from its
    /// table and fails it. Awaited once.
    /// </summary>
    public ValueTask<UpstreamReply> WaitAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancel = cancellationToken.UnsafeRegister(
                static state =>
                {
                    var pending = (PendingQuery)state!;
                    if (pending.Table?.TryRemove(pending) == true)
                    {
                        pending.Fail(UpstreamError.Canceled);
                    }
                },
                this);
            if (Volatile.Read(ref _completed) != 0)
            {
                _cancel.Unregister();
            }
        }

        return new ValueTask<UpstreamReply>(this, _core.Version);
    }

    /// <summary>Copies the reply into the caller's buffer with the caller's own ID, or fails with TooLarge.</summary>
    public void Complete(ReadOnlySpan<byte> reply)
    {
        Span<byte> destination = Response.Span;
        if (reply.Length > destination.Length)
        {
            Fail(UpstreamError.TooLarge);
            return;
        }

        reply.CopyTo(destination);
        DnsExchange.WriteId(destination, ClientId);
        SetResult(UpstreamReply.Success(reply.Length));
    }

    private void SetResult(UpstreamReply reply)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _cancel.Unregister();
            _core.SetResult(reply);
        }
    }

    UpstreamReply IValueTaskSource<UpstreamReply>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<UpstreamReply>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<UpstreamReply>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>What became of a reply handed to <see cref="PendingTable.TryTake(ReadOnlySpan{byte}, bool, out PendingQuery?)"/>.</summary>
internal enum ReplyMatch
{
    /// <summary>The reply answers a waiting query, which the caller now owns.</summary>
    Taken,

    /// <summary>No query waits under this ID (late, spoofed or duplicate).</summary>
    UnknownId,

    /// <summary>A query waits under this ID but the reply's question differs.</summary>
    WrongQuestion,
}

/// <summary>Queries in flight on one socket or connection, keyed by the ID they carry on the wire.</summary>
internal sealed class PendingTable
{
    private readonly Dictionary<ushort, PendingQuery> _items = [];
    private readonly Lock _lock = new();
    private bool _closed;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>False when the ID is taken or the table was closed (the connection is gone).</summary>
    public bool TryAdd(ushort id, PendingQuery pending)
    {
        lock (_lock)
        {
            if (_closed || !_items.TryAdd(id, pending))
            {
                return false;
            }

            pending.WireId = id;
            pending.Table = this;
            return true;
        }
    }

    /// <summary>Removes <paramref name="pending"/> if it is still waiting; true means the caller now owns it.</summary>
    public bool TryRemove(PendingQuery pending)
    {
        lock (_lock)
        {
            if (_items.TryGetValue(pending.WireId, out PendingQuery? current) && ReferenceEquals(current, pending))
            {
                _items.Remove(pending.WireId);
                return true;
            }

            return false;
        }
    }

    /// <summary>
    /// Finds the query a reply answers by its wire ID; with <paramref name="requireQuestion"/> a reply whose question
    /// differs leaves the query waiting (UDP: it may be forged, RFC 5452 §9.1), otherwise the caller takes it anyway
    /// to fail it (TCP: the stream itself is the server's, so a wrong question is a broken server).
    /// </summary>
    public ReplyMatch TryTake(ReadOnlySpan<byte> reply, bool requireQuestion, out PendingQuery? pending)
    {
        ushort id = DnsExchange.ReadId(reply);
        lock (_lock)
        {
            if (!_items.TryGetValue(id, out pending))
            {
                return ReplyMatch.UnknownId;
            }

            bool matches = DnsExchange.AnswersQuestion(pending.Query.Span, reply);
            if (!matches && requireQuestion)
            {
                pending = null;
                return ReplyMatch.WrongQuestion;
            }

            _items.Remove(id);
            return matches ? ReplyMatch.Taken : ReplyMatch.WrongQuestion;
        }
    }

    /// <summary>
    /// The UDP upstream's one sweep over its deadlines (instead of a timer per query): queries past their deadline are
    /// removed into <paramref name="expired"/> (the caller owns and fails them); those due to go out again, with
    /// retransmissions left, are put in <paramref name="resend"/> with their next time moved on by <paramref name="interval"/>.
    /// </summary>
    public void Sweep(long now, long interval, int maxResends, List<PendingQuery> expired, List<PendingQuery> resend)
    {
        lock (_lock)
        {
            int first = expired.Count;
            foreach (PendingQuery pending in _items.Values)
            {
                if (now >= pending.Deadline)
                {
                    expired.Add(pending);
                }
                else if (now >= pending.ResendAt && pending.Resent < maxResends)
                {
                    pending.Resent++;
                    pending.ResendAt = now + interval;
                    resend.Add(pending);
                }
            }

            for (int i = first; i < expired.Count; i++)
            {
                _items.Remove(expired[i].WireId);
            }
        }
    }

    /// <summary>Fails every waiting query; with <paramref name="close"/> no query can be added afterwards.</summary>
    public void FailAll(UpstreamError error, bool close)
    {
        PendingQuery[] taken;
        lock (_lock)
        {
            _closed |= close;
            if (_items.Count == 0)
            {
                return;
            }

            taken = [.. _items.Values];
            _items.Clear();
        }

        foreach (PendingQuery pending in taken)
        {
            pending.Fail(error);
        }
    }
}
