using System.Buffers;
using System.Net;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;

namespace DnsWarden.Guard.Tun;

/// <summary>The virtual DNS service: a UDP query to the virtual address is answered by the engine from the packet itself.</summary>
public sealed partial class TunFilter
{
    /// <summary>Queries waiting on an upstream at once; beyond it a query gets no answer (the client retries), so a flood cannot pin memory.</summary>
    public const int MaxPendingQueries = 1024;

    /// <summary>Room for the IP and UDP headers in front of an answer: IPv6's 40 bytes plus UDP's 8.</summary>
    private const int ReplyHeaderRoom = 48;

    private int _pendingQueries;

    private void ServeDns(ReadOnlySpan<byte> packet, in IpPacketInfo info)
    {
        Interlocked.Increment(ref Counters._dnsQueries);
        if (Interlocked.Increment(ref _pendingQueries) > MaxPendingQueries)
        {
            Interlocked.Decrement(ref _pendingQueries);
            Interlocked.Increment(ref Counters._dnsDropped);
            return;
        }

        int length = info.PayloadLength;
        byte[] query = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        byte[] response = ArrayPool<byte>.Shared.Rent(DnsEngine.MaxMessageSize);
        packet.Slice(info.PayloadOffset, length).CopyTo(query);
        EndPoint? client = _engine.WantsClientAddress ? new IPEndPoint(info.Source.ToIPAddress(), info.SourcePort) : null;
        ValueTask<int> pending;
        try
        {
            pending = _engine.HandleAsync(query.AsMemory(0, length), response, ListenerProtocol.Packet, client, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Finish(in info, query, response, 0);
            return;
        }

        if (!pending.IsCompleted)
        {
            // Waiting on an upstream: only this path allocates (the state machine); the packet thread moves on.
            _ = FinishLaterAsync(pending, info, query, response);
            return;
        }

        int answer;
        try
        {
            answer = pending.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            answer = 0;
        }

        Finish(in info, query, response, answer);
    }

    private async Task FinishLaterAsync(ValueTask<int> pending, IpPacketInfo info, byte[] query, byte[] response)
    {
        int answer;
        try
        {
            answer = await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            answer = 0;
        }

        Finish(in info, query, response, answer);
    }

    /// <summary>Writes the answer into the namespace as a UDP packet from the virtual address; returns the buffers whatever happens.</summary>
    private void Finish(in IpPacketInfo request, byte[] query, byte[] response, int answerLength)
    {
        byte[]? reply = null;
        bool sent = false;
        try
        {
            if (answerLength > 0)
            {
                reply = ArrayPool<byte>.Shared.Rent(answerLength + ReplyHeaderRoom);
                if (IpReplyWriter.TryWriteUdpReply(in request, response.AsSpan(0, answerLength), reply, out int written))
                {
                    _inside.Write(reply.AsSpan(0, written));
                    sent = true;
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The inside device went away under a late answer: the query is lost like any datagram.
            sent = false;
        }
        finally
        {
            if (reply is not null)
            {
                ArrayPool<byte>.Shared.Return(reply);
            }

            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
            Interlocked.Decrement(ref _pendingQueries);
        }

        Interlocked.Increment(ref sent ? ref Counters._dnsAnswers : ref Counters._dnsDropped);
    }
}
