namespace DnsWarden.Platform;

/// <summary>
/// What a cgroup v2 path says about who runs a process: the systemd unit (the innermost <c>.service</c> or
/// <c>.scope</c>) and the container, after the layouts the runtimes write: docker (<c>docker-ID.scope</c> under
/// systemd, <c>/docker/ID</c> under cgroupfs), podman (<c>libpod-ID.scope</c>, <c>/libpod_parent/libpod-ID</c>),
/// containerd and CRI-O (<c>cri-containerd-ID.scope</c>, <c>crio-ID.scope</c>) and Kubernetes pods
/// (<c>kubepods-…-podUID.slice</c>, <c>/kubepods/QOS/podUID/ID</c>). Pure: paths in, facts out.
/// </summary>
public static class CgroupClassifier
{
    /// <summary>A container id is 64 hex digits for every runtime named here.</summary>
    private const int ContainerIdLength = 64;

    private static readonly (string Prefix, string Runtime)[] s_scopePrefixes =
    [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "crio"),
    ];

    public static (string? Unit, ContainerFacts? Container) Classify(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return (null, null);
        }

        string[] segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? unit = null;
        string? pod = null;
        ContainerFacts? container = null;
        for (int i = 0; i < segments.Length; i++)
        {
            string segment = segments[i];
            if (segment.EndsWith(".service", StringComparison.Ordinal) || segment.EndsWith(".scope", StringComparison.Ordinal))
            {
                unit = segment;
            }

            if (TryPod(segment, out string? podId))
            {
                pod = podId;
                continue;
            }

            if (TryScopeContainer(segment, out string? runtime, out string? id))
            {
                container = new ContainerFacts(runtime!, id!, pod);
            }
            else if (i > 0 && IsContainerId(segment))
            {
                // cgroupfs layouts: /docker/ID, /libpod_parent/libpod-ID (above), /kubepods/QOS/podUID/ID.
                string parent = segments[i - 1];
                string? byParent = parent == "docker" ? "docker" : pod is not null ? "kubernetes" : null;
                if (byParent is not null)
                {
                    container = new ContainerFacts(byParent, segment, pod);
                }
            }
        }

        return (unit, container);
    }

    private static bool TryScopeContainer(string segment, out string? runtime, out string? id)
    {
        runtime = null;
        id = null;
        string name = segment.EndsWith(".scope", StringComparison.Ordinal) ? segment[..^".scope".Length] : segment;
        foreach ((string prefix, string r) in s_scopePrefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal) && IsContainerId(name.AsSpan(prefix.Length)))
            {
                runtime = r;
                id = name[prefix.Length..];
                return true;
            }
        }

        return false;
    }

    /// <summary><c>kubepods-burstable-pod1a2b_3c.slice</c> (systemd driver, dashes as underscores) or <c>pod1a2b-3c</c> (cgroupfs).</summary>
    private static bool TryPod(string segment, out string? pod)
    {
        pod = null;
        int at = segment.LastIndexOf("-pod", StringComparison.Ordinal);
        if (segment.StartsWith("kubepods", StringComparison.Ordinal) && at > 0 && segment.EndsWith(".slice", StringComparison.Ordinal))
        {
            pod = segment[(at + 4)..^".slice".Length].Replace('_', '-');
            return pod.Length > 0;
        }

        if (segment.StartsWith("pod", StringComparison.Ordinal) && segment.Length > 3 && segment.AsSpan(3).IndexOfAnyExcept("0123456789abcdef-_") < 0)
        {
            pod = segment[3..].Replace('_', '-');
            return true;
        }

        return false;
    }

    private static bool IsContainerId(ReadOnlySpan<char> text) =>
        text.Length == ContainerIdLength && text.IndexOfAnyExcept("0123456789abcdef") < 0;
}
