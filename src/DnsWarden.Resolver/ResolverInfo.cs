namespace DnsWarden.Resolver;

/// <summary>The resolve plane: one DNS engine behind the jail's stub, the TUN filter's virtual service and <c>dnsw proxy</c>.</summary>
public static class ResolverInfo
{
    public const string Name = "dnsw resolver";
}
