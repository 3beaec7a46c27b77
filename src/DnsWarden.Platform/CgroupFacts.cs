namespace DnsWarden.Platform;

/// <summary>
/// The cgroup v2 group of a process: its id (the kernel's, as BPF reports it), its path under the cgroup2 mount, and
/// what the path says about who runs it (<see cref="CgroupClassifier"/>).
/// </summary>
public sealed record CgroupFacts(ulong Id, string? Path, string? Unit, ContainerFacts? Container);
