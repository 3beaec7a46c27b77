namespace DnsWarden.Resolver.Upstreams;

/// <summary>
/// One query waiting for its reply. Whoever removes it from its <see cref="PendingTable"/> owns it: only that party
/// touches <see cref="Query"/> and <see cref="Response"/> (the caller's buffers) and completes it, so a late reply
/// can never write into a buffer whose caller has already given up.
/// </summary>
/// <remarks>
/// <paramref name="inlineContinuations"/>: the waiter resumes on the thread that completes it (the UDP receive thread),
/// so a reply is carried to the client without a thread-pool hop. Only for completers that never wait on anything the
/// continuation could hold.
/// </remarks>
internal sealed class PendingQuery(ReadOnlyMemory<byte> query, Memory<byte> response, bool inlineContinuations = false)
{
    private readonly TaskCompletionSource<UpstreamReply> _completion =
        new(inlineContinuations ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);

    public ReadOnlyMemory<byte> Query { get; } = query;

    public Memory<byte> Response { get; } = response;

    public ushort ClientId { get; } = DnsExchange.ReadId(query.Span);

    public ushort WireId { get; set; }

    /// <summary>The table the query waits in, set when it is added.</summary>
    public PendingTable? Table { get; set; }

    public Task<UpstreamReply> Task => _completion.Task;

    public void Fail(UpstreamError error) => _completion.TrySetResult(UpstreamReply.Fail(error));

    /// <summary>Waits for the reply; cancellation takes the query back from its table and releases the wait.</summary>
    public async ValueTask<UpstreamReply> WaitAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
            static state =>
            {
                var pending = (PendingQuery)state!;
                if (pending.Table?.TryRemove(pending) == true)
                {
                    pending.Fail(UpstreamError.Canceled);
                }
            },
            this);
        return await _completion.Task.ConfigureAwait(false);
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
        _completion.TrySetResult(UpstreamReply.Success(reply.Length));
    }
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
