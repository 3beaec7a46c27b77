namespace DnsWarden.Platform.Tests;

/// <summary>Owner lookups over this process's own sockets run while no other test of the assembly forks.</summary>
[CollectionDefinition(nameof(LiveOwnerTests), DisableParallelization = true)]
public sealed class LiveOwnerCollection
{
}
