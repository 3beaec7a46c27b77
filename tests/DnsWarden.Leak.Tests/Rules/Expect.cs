using DnsWarden.Leak.Events;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Tests.Rules;

/// <summary>Policies the rule tests share, and an exact check of a leak event's fields.</summary>
internal static class Expect
{
    public static LeakPolicy FullTunnel => Profiles.Create(PolicyProfile.FullTunnel);

    public static LeakPolicy ProxyStub => Profiles.Create(PolicyProfile.ProxyStub);

    public static LeakPolicy Split => Profiles.Create(PolicyProfile.Split);

    public static LeakPolicy WithProxyDomains(LeakPolicy policy, params string[] domains) => Profiles.WithQuickFlags(policy, [], [], domains);

    public static LeakPolicy WithSafeResolver(LeakPolicy policy, string endpoint)
    {
        Assert.True(Profiles.TryParseEndpoint(endpoint, out EndpointRule? rule, out string? error), error);
        return Profiles.WithQuickFlags(policy, [], [rule!], []);
    }

    public static LeakPolicy WithTunnelInterface(LeakPolicy policy, string iface) => Profiles.WithQuickFlags(policy, [iface], [], []);

    public static EndpointRule Endpoint(string text)
    {
        Assert.True(Profiles.TryParseEndpoint(text, out EndpointRule? rule, out string? error), error);
        return rule!;
    }

    /// <summary>Asserts every field the rules decide; fields the caller passes null for must be null.</summary>
    public static void Leak(
        LeakEvent e, LeakType type, Severity severity, string transport, Confidence confidence, string iface, string routeClass, string dst,
        string? qname, string? correlationId, long? frame = null)
    {
        Assert.Equal("leak", e.Kind);
        Assert.Equal(type, e.LeakType);
        Assert.Equal(severity, e.Severity);
        Assert.Equal(transport, e.Transport);
        Assert.Equal(confidence, e.Confidence);
        Assert.Equal(iface, e.Interface);
        Assert.Equal(routeClass, e.RouteClass);
        Assert.Equal(dst, e.Destination);
        Assert.Equal(qname, e.QName);
        Assert.Equal(correlationId, e.CorrelationId);
        Assert.NotEmpty(e.Evidence);
        Assert.All(e.Evidence, line => Assert.False(string.IsNullOrWhiteSpace(line)));
        Assert.Same(Attribution.FromFile, e.Attribution);
        Assert.Null(e.Process);
        Assert.Null(e.Exfiltration);
        if (frame is { } f)
        {
            Assert.Equal(f, e.Frame);
        }
    }
}
