using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Engine;

/// <summary>The outcome of forwarding one query: the response's length, which upstream gave it, or why none did.</summary>
public readonly record struct ForwardReply(int Length, string? Upstream, UpstreamError Error)
{
    public bool Ok => Error == UpstreamError.None && Length > 0;
}

/// <summary>
/// Where the engine sends what the policy lets through: the upstream pool in every real use, a fake in unit tests of
/// the engine alone. Never throws for network failures and never falls back to the system resolver.
/// </summary>
public interface IDnsForwarder
{
    /// <summary>Forwards <paramref name="query"/>; the response written to <paramref name="response"/> carries the query's ID.</summary>
    public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken);
}
