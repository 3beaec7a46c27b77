namespace DnsWarden.Platform;

/// <summary>A container a cgroup path names: the runtime (<c>docker</c>, <c>podman</c>, <c>containerd</c>, <c>crio</c>), its id, and the Kubernetes pod uid when there is one.</summary>
public sealed record ContainerFacts(string Runtime, string Id, string? Pod);
