namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // getsockopt(2) itself is declared with name_to_handle_at. linux/in.h, linux/in6.h; linux/netfilter_ipv4.h
    // SO_ORIGINAL_DST, linux/netfilter_ipv6/ip6_tables.h IP6T_SO_ORIGINAL_DST.
    public const int SolIp = 0;
    public const int SolIpv6 = 41;
    public const int SoOriginalDst = 80;
}
