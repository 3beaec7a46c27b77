using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Platform.Enforcement;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>
/// rtnetlink changes made in-process inside throwaway namespaces (one playing the host, one the jail), each checked
/// with <c>ip -j -n NS …</c>. The root namespace is only read.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkSocketTests
{
    private static readonly IPAddress s_hostV4 = IPAddress.Parse("10.201.0.1");
    private static readonly IPAddress s_jailV4 = IPAddress.Parse("10.201.0.2");
    private static readonly IPAddress s_hostV6 = IPAddress.Parse("fd00:6a11::1");
    private static readonly IPAddress s_jailV6 = IPAddress.Parse("fd00:6a11::2");

    [Fact]
    public async Task Veth_WithPeerInAnotherNamespace_AddressesRoutesAndRules()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace host = ScratchNamespace.Create("host");
        using ScratchNamespace jail = ScratchNamespace.Create("jail");
        string rootLinksBefore = HostTool.RunOk("ip", ["-j", "link", "show"]);

        await SetUpJailAsync(host, jail.Name, "dnswt0h", "dnswt0n");
        await jail.WithSocketAsync(s =>
        {
            int n = s.GetLinkIndex("dnswt0n");
            s.SetMtu(n, 1400);
            s.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Destination = IPAddress.Parse("198.51.100.0"), PrefixLength = 24, OutputInterfaceIndex = n, Metric = 50 });
            s.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Destination = IPAddress.Parse("203.0.113.0"), PrefixLength = 24, Kind = RouteKind.Unreachable, Table = 100 });
            s.AddRoute(new RouteSpec(AddressFamily.InterNetworkV6) { Kind = RouteKind.Blackhole, Table = 100, Metric = 7 });
            s.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Destination = IPAddress.Parse("192.168.77.0"), PrefixLength = 24, Gateway = s_hostV4, Source = s_jailV4 });
            s.AddRule(AddressFamily.InterNetwork, 100, 100);
            s.AddRule(AddressFamily.InterNetworkV6, 101, 100);
            return 0;
        });

        // The peer was made inside the jail: it is there, not in the host namespace, and nothing reached the root one.
        Assert.Equal(["lo", "dnswt0h"], HostTool.Names(host.IpJson("link", "show")));
        Assert.Equal(["lo", "dnswt0n"], HostTool.Names(jail.IpJson("link", "show")));
        Assert.Equal(rootLinksBefore, HostTool.RunOk("ip", ["-j", "link", "show"]));

        JsonElement jailLink = jail.IpJson("link", "show", "dnswt0n")[0];
        Assert.Equal(1400, jailLink.GetProperty("mtu").GetInt32());
        Assert.Contains("UP", jailLink.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains("UP", jail.IpJson("link", "show", "lo")[0].GetProperty("flags").EnumerateArray().Select(f => f.GetString()));

        AssertAddresses(jail.IpJson("addr", "show", "dev", "dnswt0n"), ("10.201.0.2", 30), ("fd00:6a11::2", 64));
        AssertAddresses(host.IpJson("addr", "show", "dev", "dnswt0h"), ("10.201.0.1", 30), ("fd00:6a11::1", 64));
        JsonElement v6 = jail.IpJson("-6", "addr", "show", "dev", "dnswt0n")[0].GetProperty("addr_info").EnumerateArray().Single(a => a.GetProperty("local").GetString() == "fd00:6a11::2");
        Assert.True(v6.TryGetProperty("nodad", out JsonElement nodad) && nodad.GetBoolean(), v6.ToString());

        JsonElement default4 = Assert.Single(jail.IpJson("route", "show", "default").EnumerateArray());
        Assert.Equal("10.201.0.1", default4.GetProperty("gateway").GetString());
        Assert.Equal("dnswt0n", default4.GetProperty("dev").GetString());
        JsonElement default6 = Assert.Single(jail.IpJson("-6", "route", "show", "default").EnumerateArray());
        Assert.Equal("fd00:6a11::1", default6.GetProperty("gateway").GetString());

        JsonElement devRoute = Assert.Single(jail.IpJson("route", "show", "198.51.100.0/24").EnumerateArray());
        Assert.Equal("dnswt0n", devRoute.GetProperty("dev").GetString());
        Assert.Equal(50, devRoute.GetProperty("metric").GetInt32());
        Assert.Equal("link", devRoute.GetProperty("scope").GetString());

        JsonElement viaSrc = Assert.Single(jail.IpJson("route", "show", "192.168.77.0/24").EnumerateArray());
        Assert.Equal("10.201.0.1", viaSrc.GetProperty("gateway").GetString());
        Assert.Equal("10.201.0.2", viaSrc.GetProperty("prefsrc").GetString());

        JsonElement unreachable = Assert.Single(jail.IpJson("route", "show", "table", "100").EnumerateArray());
        Assert.Equal("unreachable", unreachable.GetProperty("type").GetString());
        Assert.Equal("203.0.113.0/24", unreachable.GetProperty("dst").GetString());
        JsonElement blackhole = Assert.Single(jail.IpJson("-6", "route", "show", "table", "100").EnumerateArray());
        Assert.Equal("blackhole", blackhole.GetProperty("type").GetString());
        Assert.Equal("default", blackhole.GetProperty("dst").GetString());
        Assert.Equal(7, blackhole.GetProperty("metric").GetInt32());

        JsonElement rule4 = Assert.Single(jail.IpJson("rule", "show").EnumerateArray(), r => r.GetProperty("priority").GetInt32() == 100);
        Assert.Equal("100", rule4.GetProperty("table").GetString());
        Assert.Equal("all", rule4.GetProperty("src").GetString());
        Assert.Single(jail.IpJson("-6", "rule", "show").EnumerateArray(), r => r.GetProperty("priority").GetInt32() == 101 && r.GetProperty("table").GetString() == "100");

        // Each removal reports whether there was something to remove.
        await jail.WithSocketAsync(s =>
        {
            var unreachable203 = new RouteSpec(AddressFamily.InterNetwork) { Destination = IPAddress.Parse("203.0.113.0"), PrefixLength = 24, Kind = RouteKind.Unreachable, Table = 100 };
            Assert.True(s.DeleteRoute(unreachable203));
            Assert.False(s.DeleteRoute(unreachable203));
            Assert.True(s.DeleteRoute(RouteSpec.DefaultVia(s_hostV6)));
            Assert.True(s.DeleteRule(AddressFamily.InterNetwork, 100, 100));
            Assert.False(s.DeleteRule(AddressFamily.InterNetwork, 100, 100));
            int n = s.GetLinkIndex("dnswt0n");
            Assert.True(s.DeleteAddress(n, s_jailV4, 30));
            Assert.False(s.DeleteAddress(n, s_jailV4, 30));
            return 0;
        });
        Assert.Empty(jail.IpJson("route", "show", "table", "100").EnumerateArray());
        Assert.Empty(jail.IpJson("-6", "route", "show", "default").EnumerateArray());
        Assert.DoesNotContain(jail.IpJson("rule", "show").EnumerateArray(), r => r.GetProperty("priority").GetInt32() == 100);

        // Deleting one end of a veth takes the other, across namespaces.
        Assert.True(await host.WithSocketAsync(s => s.DeleteLink("dnswt0h")));
        Assert.False(await host.WithSocketAsync(s => s.DeleteLink("dnswt0h")));
        Assert.Equal(["lo"], HostTool.Names(jail.IpJson("link", "show")));
    }

    [Fact]
    public async Task VethInOneNamespace_AndLinkLookups()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace ns = ScratchNamespace.Create("veth");
        (int a, int b, string? nameA, int missing) = await ns.WithSocketAsync(s =>
        {
            s.CreateVeth("dnswta", "dnswtb");
            int a = s.GetLinkIndex("dnswta");
            return (a, s.GetLinkIndex("dnswtb"), s.GetLinkName(a), s.GetLinkIndex("dnswt-none"));
        });
        Assert.Equal(["lo", "dnswta", "dnswtb"], HostTool.Names(ns.IpJson("link", "show")).Order(StringComparer.Ordinal).OrderBy(n => n != "lo").ToArray());
        Assert.Equal(ns.IpJson("link", "show", "dnswta")[0].GetProperty("ifindex").GetInt32(), a);
        Assert.Equal(ns.IpJson("link", "show", "dnswtb")[0].GetProperty("ifindex").GetInt32(), b);
        Assert.Equal("dnswta", nameA);
        Assert.Equal(-1, missing);
        Assert.Null(await ns.WithSocketAsync(s => s.GetLinkName(99999)));
    }

    [Fact]
    public async Task Refusals_AreIOExceptionsNamingTheOperationAndTheReason()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using ScratchNamespace host = ScratchNamespace.Create("errh");
        using ScratchNamespace jail = ScratchNamespace.Create("errj");
        await SetUpJailAsync(host, jail.Name, "dnswj1h", "dnswj1n");
        string[] messages = await jail.WithSocketAsync(s =>
        {
            int n = s.GetLinkIndex("dnswj1n");
            s.AddRule(AddressFamily.InterNetwork, 200, 100);
            return new[]
            {
                Refusal(() => s.AddAddress(n, s_jailV4, 30)),
                Refusal(() => s.SetLinkUp(99999)),
                Refusal(() => s.AddRoute(RouteSpec.DefaultVia(s_hostV4))),
                Refusal(() => s.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Destination = IPAddress.Parse("198.51.100.0"), PrefixLength = 24, Gateway = IPAddress.Parse("192.168.200.1") })),
                Refusal(() => s.CreateVeth("dnswj1n", "dnswj1x")),
                Refusal(() => s.AddRule(AddressFamily.InterNetwork, 200, 100)),
            };
        });
        foreach (string m in messages)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(m);
        }

        Assert.StartsWith("RTM_NEWADDR 10.201.0.2/30 on dnswj1n: File exists", messages[0], StringComparison.Ordinal);
        Assert.StartsWith("RTM_NEWLINK up on #99999: No such device", messages[1], StringComparison.Ordinal);
        Assert.StartsWith("RTM_NEWROUTE default via 10.201.0.1: File exists", messages[2], StringComparison.Ordinal);
        Assert.StartsWith("RTM_NEWROUTE 198.51.100.0/24 via 192.168.200.1: ", messages[3], StringComparison.Ordinal);
        Assert.StartsWith("RTM_NEWLINK veth dnswj1n peer dnswj1x: File exists", messages[4], StringComparison.Ordinal);
        Assert.StartsWith("RTM_NEWRULE IPv4 priority 200 from all lookup 100: File exists", messages[5], StringComparison.Ordinal);

        // Arguments the kernel never sees.
        await jail.WithSocketAsync(s =>
        {
            Assert.Throws<ArgumentException>(() => s.CreateVeth("a-name-longer-than-15", "x"));
            Assert.Throws<ArgumentOutOfRangeException>(() => s.AddAddress(1, s_jailV4, 33));
            Assert.Throws<ArgumentException>(() => s.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Gateway = s_hostV6 }));
            return 0;
        });
    }

    /// <summary>
    /// The jail's network set-up (new namespace, veth with its peer inside, two addresses per side, links up, two
    /// default routes), in-process against the two <c>ip -batch</c> runs it replaces. Printed, not asserted. The
    /// "host" side is a scratch namespace too, made beforehand, as the real host namespace already exists.
    /// </summary>
    [Fact]
    public async Task MeasuresTheJailSetUp_InProcessAgainstIpBatch()
    {
        if (HostTool.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        const int Rounds = 5;
        using ScratchNamespace host = ScratchNamespace.Create("timeh");
        var inProcess = new double[Rounds];
        var ipBatch = new double[Rounds];
        for (int i = 0; i < Rounds; i++)
        {
            string jail = ScratchNamespace.NewName("timej");
            try
            {
                long start = Stopwatch.GetTimestamp();
                NetworkNamespace.Create(jail);
                await SetUpJailAsync(host, jail, "dnswt9h", "dnswt9n");
                inProcess[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            finally
            {
                await host.WithSocketAsync(s => s.DeleteLink("dnswt9h"));
                NetworkNamespace.Delete(jail);
            }

            jail = ScratchNamespace.NewName("timej");
            try
            {
                long start = Stopwatch.GetTimestamp();
                HostTool.RunOk("ip", ["netns", "add", jail]);
                HostTool.RunOk("ip", ["-n", host.Name, "-batch", "-"], $"""
                    link add dnswt9h type veth peer name dnswt9n netns {jail}
                    addr add 10.201.0.1/30 dev dnswt9h
                    addr add fd00:6a11::1/64 dev dnswt9h nodad
                    link set dnswt9h up

                    """);
                HostTool.RunOk("ip", ["-n", jail, "-batch", "-"], """
                    link set lo up
                    addr add 10.201.0.2/30 dev dnswt9n
                    addr add fd00:6a11::2/64 dev dnswt9n nodad
                    link set dnswt9n up
                    route add default via 10.201.0.1
                    route add default via fd00:6a11::1

                    """);
                ipBatch[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                Assert.Single(HostTool.IpJson(["-n", jail, "-6", "route", "show", "default"]).EnumerateArray());
            }
            finally
            {
                await host.WithSocketAsync(s => s.DeleteLink("dnswt9h"));
                NetworkNamespace.Delete(jail);
            }
        }

        Array.Sort(inProcess);
        Array.Sort(ipBatch);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"jail network set-up, median of {Rounds}: in-process {inProcess[Rounds / 2]:F2} ms (min {inProcess[0]:F2}), ip netns add + 2× ip -batch {ipBatch[Rounds / 2]:F2} ms (min {ipBatch[0]:F2})"));
    }

    /// <summary>What <c>JailNetwork</c> does with <c>ip -batch</c>, in-process: the host end in <paramref name="host"/>, the peer made inside <paramref name="jail"/>.</summary>
    private static async Task SetUpJailAsync(ScratchNamespace host, string jail, string hostLink, string jailLink)
    {
        await host.WithSocketAsync(s =>
        {
            using (SafeFileHandle jailHandle = NetworkNamespace.OpenHandle(jail))
            {
                s.CreateVeth(hostLink, jailLink, jailHandle);
            }

            int h = s.GetLinkIndex(hostLink);
            s.AddAddress(h, s_hostV4, 30);
            s.AddAddress(h, s_hostV6, 64, noDad: true);
            s.SetLinkUp(h);
            return 0;
        });
        await NetworkNamespace.RunAsync(jail, () =>
        {
            using RtnetlinkSocket s = RtnetlinkSocket.Open();
            s.SetLinkUp(s.GetLinkIndex("lo"));
            int n = s.GetLinkIndex(jailLink);
            s.AddAddress(n, s_jailV4, 30);
            s.AddAddress(n, s_jailV6, 64, noDad: true);
            s.SetLinkUp(n);
            s.AddRoute(RouteSpec.DefaultVia(s_hostV4));
            s.AddRoute(RouteSpec.DefaultVia(s_hostV6));
            return 0;
        });
    }

    private static string Refusal(Action change)
    {
        try
        {
            change();
            return "(no exception)";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private static void AssertAddresses(JsonElement show, params (string Local, int Prefix)[] expected)
    {
        JsonElement[] info = [.. show[0].GetProperty("addr_info").EnumerateArray()];
        foreach ((string local, int prefix) in expected)
        {
            Assert.Contains(info, a => a.GetProperty("local").GetString() == local && a.GetProperty("prefixlen").GetInt32() == prefix);
        }
    }
}
