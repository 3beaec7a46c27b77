namespace DnsWarden.Platform.Tests;

/// <summary>cgroup v2 paths as systemd, docker, podman, containerd, CRI-O and the kubelet write them, and paths that name nothing.</summary>
public sealed class CgroupClassifierTests
{
    private const string Id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("/system.slice/dnsmasq.service", "dnsmasq.service", null, null, null)]
    [InlineData("/user.slice/user-1000.slice/session-2.scope", "session-2.scope", null, null, null)]
    [InlineData("/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope", "app-firefox-1234.scope", null, null, null)]
    [InlineData("/system.slice/docker-" + Id + ".scope", "docker-" + Id + ".scope", "docker", Id, null)]
    [InlineData("/docker/" + Id, null, "docker", Id, null)]
    [InlineData("/machine.slice/libpod-" + Id + ".scope/container", "libpod-" + Id + ".scope", "podman", Id, null)]
    [InlineData("/libpod_parent/libpod-" + Id, null, "podman", Id, null)]
    [InlineData("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + Id + ".scope", "libpod-" + Id + ".scope", "podman", Id, null)]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12ab_34cd.slice/cri-containerd-" + Id + ".scope",
        "cri-containerd-" + Id + ".scope", "containerd", Id, "12ab-34cd")]
    [InlineData("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9f_1.slice/crio-" + Id + ".scope", "crio-" + Id + ".scope", "crio", Id, "9f-1")]
    [InlineData("/kubepods/burstable/pod12ab-34cd/" + Id, null, "kubernetes", Id, "12ab-34cd")]
    [InlineData("/", null, null, null, null)]
    [InlineData("/dnsw-test-client", null, null, null, null)]
    [InlineData("/system.slice/docker-notanid.scope", "docker-notanid.scope", null, null, null)]
    [InlineData("/docker/short", null, null, null, null)]
    [InlineData("/system.slice/crio-conmon-" + Id + ".scope", "crio-conmon-" + Id + ".scope", null, null, null)]
    [InlineData("", null, null, null, null)]
    public void Classify(string path, string? unit, string? runtime, string? id, string? pod)
    {
        (string? u, ContainerFacts? c) = CgroupClassifier.Classify(path);
        Assert.Equal(unit, u);
        Assert.Equal(runtime, c?.Runtime);
        Assert.Equal(id, c?.Id);
        Assert.Equal(pod, c?.Pod);
    }

    [Fact]
    public void Garbage_NamesNothing_AndNeverThrows()
    {
        var random = new Random(17);
        const string alphabet = "/-_.@abcdef0123456789kubepodsdockerlibpodscopeslice";
        for (int i = 0; i < 5000; i++)
        {
            char[] text = new char[random.Next(0, 200)];
            for (int j = 0; j < text.Length; j++)
            {
                text[j] = alphabet[random.Next(alphabet.Length)];
            }

            _ = CgroupClassifier.Classify(new string(text));
        }
    }
}
