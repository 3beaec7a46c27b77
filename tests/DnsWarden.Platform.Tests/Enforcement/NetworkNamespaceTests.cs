using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>Named namespaces made and removed in-process, checked with iproute2 in both directions.</summary>
[SupportedOSPlatform("linux")]
public sealed class NetworkNamespaceTests
{
    [Fact]
    public async Task RunAsync_LeavesEveryThreadOfTheProcessInItsOwnNamespace()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        // A thread started by a thread inside another namespace inherits it. RunAsync's thread completes its task,
        // which may make the runtime start a pool worker from it: it must be back home by then.
        using ScratchNamespace ns = ScratchNamespace.Create("home");
        string home = new FileInfo("/proc/thread-self/ns/net").LinkTarget!;
        string inside = await NetworkNamespace.RunAsync(ns.Name, () => new FileInfo("/proc/thread-self/ns/net").LinkTarget!);
        Assert.NotEqual(home, inside);

        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => NetworkNamespace.RunAsync(ns.Name, () =>
        {
            // Managed work inside, with a socket opened there the way the jail opens its stub's.
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            return 0;
        })));
        using (System.Net.Sockets.Socket made = await NetworkNamespace.OpenSocketAsync(ns.Name, System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp))
        {
            made.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await made.ReceiveAsync(new byte[1].AsMemory(), System.Net.Sockets.SocketFlags.None, cancel.Token));
        }

        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => Thread.Sleep(5))));

        var elsewhere = new List<string>();
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                string? target = new FileInfo(Path.Combine(task, "ns", "net")).LinkTarget;
                string comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();

                // RunAsync threads of tests running alongside are inside their namespaces on purpose, until they end.
                if (target is not null && target != home && !comm.StartsWith("dnsw netns", StringComparison.Ordinal))
                {
                    elsewhere.Add($"{Path.GetFileName(task)} {comm} {target}");
                }
            }
            catch (IOException)
            {
                // The thread ended while it was looked at.
            }
        }

        Assert.Empty(elsewhere);
    }

    [Fact]
    public void Create_IsListedAndUsableByIp_Delete_RemovesIt()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        string name = ScratchNamespace.NewName("ns");
        try
        {
            NetworkNamespace.Create(name);
            Assert.True(NetworkNamespace.Exists(name));
            Assert.Contains(HostTool.IpJson(["netns", "list"]).EnumerateArray(), n => n.GetProperty("name").GetString() == name);

            // ip netns exec enters it: a fresh namespace has only a loopback, and it is down.
            JsonElement links = HostTool.IpJson(["netns", "exec", name, "ip", "-j", "link", "show"]);
            Assert.Equal(["lo"], HostTool.Names(links));
            Assert.Equal("DOWN", links[0].GetProperty("operstate").GetString());

            // iproute2 keeps /run/netns a shared mount so namespaces are seen from other mount namespaces; so do we.
            Assert.Contains("shared", HostTool.RunOk("findmnt", ["-n", "-o", "PROPAGATION", NetworkNamespace.RunDirectory]), StringComparison.Ordinal);

            Assert.True(NetworkNamespace.Delete(name));
            Assert.False(NetworkNamespace.Exists(name));
            Assert.DoesNotContain(HostTool.IpJson(["netns", "list"]).EnumerateArray(), n => n.GetProperty("name").GetString() == name);
            Assert.False(NetworkNamespace.Delete(name));
        }
        finally
        {
            NetworkNamespace.Delete(name);
        }
    }

    [Fact]
    public void Create_ExistingName_IsAnIOExceptionSayingSo()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("dup");
        IOException e = Assert.Throws<IOException>(() => NetworkNamespace.Create(ns.Name));
        Assert.Contains(ns.Name, e.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);

        // The failed attempt left the existing namespace alone.
        Assert.Equal(["lo"], HostTool.Names(ns.IpJson("link", "show")));
    }

    [Fact]
    public async Task ANamespaceIpMade_IsUsableAndDeletableHere()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        string name = ScratchNamespace.NewName("ipadd");
        HostTool.RunOk("ip", ["netns", "add", name]);
        try
        {
            int lo = await NetworkNamespace.RunAsync(name, () =>
            {
                using RtnetlinkSocket socket = RtnetlinkSocket.Open();
                int index = socket.GetLinkIndex("lo");
                socket.SetLinkUp(index);
                return index;
            });
            Assert.Equal(1, lo);
            Assert.Equal("UNKNOWN", HostTool.IpJson(["-n", name, "link", "show", "lo"])[0].GetProperty("operstate").GetString());
            Assert.True(NetworkNamespace.Delete(name));
            Assert.DoesNotContain(HostTool.IpJson(["netns", "list"]).EnumerateArray(), n => n.GetProperty("name").GetString() == name);
        }
        finally
        {
            NetworkNamespace.Delete(name);
        }
    }

    [Fact]
    public async Task LiveIds_HoldThisNamespaceAndANamedOne_UntilItIsDeleted()
    {
        Assert.SkipWhen(HostTool.SkipReason() is not null, HostTool.SkipReason() ?? "");
        Assert.Contains(NetworkNamespace.CurrentId(), NetworkNamespace.LiveIds());
        string id;
        using (ScratchNamespace ns = ScratchNamespace.Create("live"))
        {
            id = await NetworkNamespace.RunAsync(ns.Name, NetworkNamespace.CurrentId);
            Assert.NotEqual(NetworkNamespace.CurrentId(), id);
            Assert.Contains(id, NetworkNamespace.LiveIds());
        }

        Assert.DoesNotContain(id, NetworkNamespace.LiveIds());
    }

    [Fact]
    public void Names_ThatAreNotPlainFileNames_AreRefused()
    {
        Assert.Throws<ArgumentException>(() => NetworkNamespace.PathOf("../etc"));
        Assert.Throws<ArgumentException>(() => NetworkNamespace.PathOf(".."));
        Assert.Throws<ArgumentException>(() => NetworkNamespace.PathOf(""));
    }
}
