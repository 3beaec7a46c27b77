namespace DnsWarden.Resolver.Engine;

/// <summary>
/// Sees each answer with real addresses before the client does (DNS-first enforcement). Called synchronously on the
/// serving thread; the answer waits for it, so it must be quick (the jail's nftables insertion: ~60 µs).
/// </summary>
public interface IAnswerObserver
{
    public void BeforeRelease(ReadOnlySpan<byte> response);
}
