using DnsWarden.Resolver.Engine;

namespace DnsWarden.Resolver.Upstreams;

/// <summary>The engine's view of an <see cref="UpstreamPool"/>.</summary>
public sealed class PoolForwarder(UpstreamPool pool) : IDnsForwarder
{
    public async ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
    {
        PoolReply reply = await pool.QueryAsync(query, response, cancellationToken).ConfigureAwait(false);
        return new ForwardReply(reply.Length, reply.Upstream?.Config.Url, reply.Error);
    }
}
