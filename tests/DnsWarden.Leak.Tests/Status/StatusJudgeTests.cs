using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Status;
using DnsWarden.Leak.Tests.Rules;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Tests.Status;

/// <summary><c>leak status</c>'s verdict on an interface is what the detector raises for plaintext queries on it.</summary>
public sealed class StatusJudgeTests
{
    /// <summary>An interface of each route class, named as the classifier reads it with no kernel facts (a capture file).</summary>
    private static readonly Dictionary<RouteClass, string> s_interfaces = new()
    {
        [RouteClass.Loopback] = "lo",
        [RouteClass.Tunnel] = "wg0",
        [RouteClass.Physical] = "eth0",
        [RouteClass.Virtual] = "veth1",
        [RouteClass.Unknown] = "ifindex7",
    };

    public static TheoryData<PolicyProfile, string, RouteClass> Cells()
    {
        var data = new TheoryData<PolicyProfile, string, RouteClass>();
        foreach (PolicyProfile profile in Enum.GetValues<PolicyProfile>())
        {
            foreach (string split in new[] { "none", "proxy_domains", "default_proxy" })
            {
                foreach (RouteClass routeClass in Enum.GetValues<RouteClass>())
                {
                    data.Add(profile, split, routeClass);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void InterfaceVerdict_IsWhatTheDetectorRaises(PolicyProfile profile, string split, RouteClass routeClass)
    {
        LeakPolicy policy = Profiles.Create(profile);
        policy = split switch
        {
            "proxy_domains" => Expect.WithProxyDomains(policy, "proxy.example"),
            "default_proxy" => policy with { Split = policy.Split with { Default = SplitDefault.Proxy, DirectDomains = new DomainSet(["direct.example"]) } },
            _ => policy,
        };
        string iface = s_interfaces[routeClass];
        RouteClassResult route = new RouteClassifier(policy).Classify(iface, LinkType.Ethernet);
        Assert.Equal(routeClass, route.Class);

        (string verdict, _) = StatusJudge.Interface(policy, iface, route);

        // What the detector raises for an ordinary name and for a proxy-required one on that interface. Without
        // proxy-required names, "direct" (off the safe path, nothing to leak yet) and "safe" differ in what a name made
        // proxy-required would give there.
        string ordinary = split == "default_proxy" ? "www.direct.example" : "www.example.com";
        LeakPolicy probe = split == "none" ? Expect.WithProxyDomains(policy, "proxy.example") : policy;
        LeakType? ordinaryEvent = Detect(policy, iface, ordinary);
        LeakType? requiredEvent = Detect(probe, iface, "www.proxy.example");
        string detected = (ordinaryEvent, requiredEvent) switch
        {
            (null, null) => "safe",
            (null, LeakType.B) => split == "none" ? "direct" : "leak-b",
            (LeakType.A, LeakType.B) => "leak-a",
            _ => $"unexpected {ordinaryEvent} {requiredEvent}",
        };

        Assert.Equal(detected, verdict);
    }

    /// <summary>The one event a plaintext UDP query for <paramref name="name"/> on <paramref name="iface"/> gives, or null.</summary>
    private static LeakType? Detect(LeakPolicy policy, string iface, string name)
    {
        var h = new Harness(policy);
        h.Feed(iface, Harness.Udp("192.168.1.10", "192.168.1.1", 40000, 53, Harness.Query(name, 0x4444)));
        h.Complete();
        Assert.Equal(1, h.Pipeline.Dissector.DnsMessages);
        return h.Events.Count == 0 ? null : Assert.Single(h.Events).LeakType;
    }
}
