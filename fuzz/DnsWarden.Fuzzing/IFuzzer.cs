namespace DnsWarden.Fuzzing;

/// <summary>One fuzz target: a public reader driven over arbitrary bytes, with its invariants asserted.</summary>
internal interface IFuzzer
{
    public string Name { get; }

    /// <summary>Runs the target; throws only when an invariant is broken or the reader itself threw (a bug).</summary>
    public void FuzzTarget(ReadOnlySpan<byte> bytes);

    /// <summary>Valid inputs built in code that the mutation loop starts from.</summary>
    public IReadOnlyList<byte[]> GetSeeds();
}
