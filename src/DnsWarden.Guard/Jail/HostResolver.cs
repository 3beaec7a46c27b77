using System.Buffers;
using System.Net;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// Resolves a host the proxy allowed through the jail's upstreams (never the system's resolver, never the address the
/// command dialled): A first, AAAA when there is none. The forwarder is the stub's (the pool, or the per-domain routes
/// over it), so a name under an <c>upstream_for</c> suffix is resolved where the stub would resolve it.
/// <para>
/// Answers are kept for their TTL in a cache of the engine's kind (<see cref="DnsCache"/>): every connection needs its
/// name resolved, the command has usually just asked the stub for the same name, and a client opens several
/// connections per name — without it each would wait for an upstream round trip before its first byte is sent on.
/// The stub's own cache cannot serve here: in sinkhole mode its answers are the sinkhole.
/// </para>
/// </summary>
public sealed class HostResolver(IDnsForwarder forwarder, TimeProvider? time = null)
{
    private const int BufferSize = 4096;

    private readonly DnsCache _cache = new(new DnsCacheOptions { MaxEntries = 4096, MaxBytes = 4L * 1024 * 1024, ShardCount = 4 });
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Queries sent upstream (a cached answer sends none).</summary>
    public long UpstreamQueries => Interlocked.Read(ref _upstreamQueries);

    private long _upstreamQueries;

    /// <summary>The first address of the answer, or null (no such name, no address, upstream failure).</summary>
    public async Task<IPAddress?> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        return await ResolveAsync(host, DnsType.A, cancellationToken).ConfigureAwait(false)
            ?? await ResolveAsync(host, DnsType.AAAA, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IPAddress?> ResolveAsync(string host, DnsType type, CancellationToken cancellationToken)
    {
        byte[] query = ArrayPool<byte>.Shared.Rent(512);
        byte[] response = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int length = Write(query, host, type);
            if (length == 0)
            {
                return null;
            }

            if (_cache.TryAnswer(query.AsSpan(0, length), NowTicks, response, out int cached))
            {
                return FirstAddress(response.AsSpan(0, cached), type);
            }

            Interlocked.Increment(ref _upstreamQueries);
            ForwardReply reply = await forwarder.ForwardAsync(query.AsMemory(0, length), response, cancellationToken).ConfigureAwait(false);
            if (!reply.Ok)
            {
                return null;
            }

            _cache.Store(query.AsSpan(0, length), response.AsSpan(0, reply.Length), NowTicks);
            return FirstAddress(response.AsSpan(0, reply.Length), type);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
        }
    }

    private long NowTicks => (long)(_time.GetTimestamp() * ((double)TimeSpan.TicksPerSecond / _time.TimestampFrequency));

    private static int Write(byte[] buffer, string host, DnsType type)
    {
        var writer = new DnsMessageWriter(buffer);
        return writer.TryWriteHeader((ushort)Random.Shared.Next(ushort.MaxValue + 1), DnsHeaderFlags.RecursionDesired) && writer.TryWriteQuestion(host, type)
            ? writer.BytesWritten
            : 0;
    }

    private static IPAddress? FirstAddress(ReadOnlySpan<byte> message, DnsType type)
    {
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (record.Section == DnsSection.Answer && record.Type == type && record.TryReadAddress(out IpAddr address))
            {
                return address.ToIPAddress();
            }
        }

        return null;
    }
}
