using System.Buffers;
using System.Net;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// Resolves a host the proxy allowed through the jail's upstreams (never the system's resolver, never the address the
/// command dialled): A first, AAAA when there is none. The forwarder is the stub's (the pool, or the per-domain routes
/// over it), so a name under an <c>upstream_for</c> suffix is resolved where the stub would resolve it.
/// </summary>
public sealed class HostResolver(IDnsForwarder forwarder)
{
    private const int BufferSize = 4096;

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

            ForwardReply reply = await forwarder.ForwardAsync(query.AsMemory(0, length), response, cancellationToken).ConfigureAwait(false);
            return reply.Ok ? FirstAddress(response.AsSpan(0, reply.Length), type) : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
        }
    }

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
