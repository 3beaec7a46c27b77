namespace DnsWarden.Resolver.Tests;

/// <summary>
/// Tests that measure retained memory with GC.GetTotalMemory: they run alone, since any test allocating in parallel
/// would be counted as theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory measurements";
}
