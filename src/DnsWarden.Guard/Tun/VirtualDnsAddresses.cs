using System.Net;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary><c>--virtual-dns ADDR</c>: the addresses the TUN filter's DNS service answers on, checked one by one.</summary>
public static class VirtualDnsAddresses
{
    /// <summary>More would be a list of resolvers, not one service: one or two per family is the usual shape.</summary>
    public const int MaxCount = 8;

    /// <summary>
    /// Each of <paramref name="texts"/> as an address for the virtual DNS service; false with one line naming the first
    /// bad value and why. An address the namespace must keep for itself or cannot route to the TUN is refused:
    /// unspecified, loopback, multicast, broadcast, link-local (it needs a scope), IPv4-mapped IPv6, the TUN's own.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> texts, out IReadOnlyList<IpAddr> addresses, out string? error)
    {
        ArgumentNullException.ThrowIfNull(texts);
        addresses = [];
        error = null;
        if (texts.Count > MaxCount)
        {
            error = $"at most {MaxCount} addresses, got {texts.Count}";
            return false;
        }

        var parsed = new List<IpAddr>(texts.Count);
        foreach (string text in texts)
        {
            if (Problem(text, out IpAddr address) is { } why)
            {
                error = $"'{text}': {why}";
                return false;
            }

            if (parsed.Contains(address))
            {
                error = $"'{text}': given twice";
                return false;
            }

            parsed.Add(address);
        }

        addresses = parsed;
        return true;
    }

    private static string? Problem(string text, out IpAddr address)
    {
        address = default;
        if (text.Contains('%', StringComparison.Ordinal))
        {
            return "a scoped address names an interface; the virtual DNS lives on the TUN";
        }

        if (!IPAddress.TryParse(text, out IPAddress? ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') != 3))
        {
            return "not an IPv4 or IPv6 address";
        }

        if (ip.IsIPv4MappedToIPv6)
        {
            return "an IPv4-mapped IPv6 address; give the IPv4 address itself";
        }

        address = IpAddr.FromIPAddress(ip);
        return ip switch
        {
            _ when ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) => "the unspecified address is no destination",
            _ when IPAddress.IsLoopback(ip) => "loopback stays inside the namespace and never reaches the TUN",
            _ when ip.Equals(IPAddress.Broadcast) => "the broadcast address is no destination",
            _ when address.IsV4 && address.V4 >> 28 == 0xE => "a multicast address (224.0.0.0/4) is no single service",
            _ when ip.IsIPv6Multicast => "a multicast address (ff00::/8) is no single service",
            _ when address.IsV4 && address.V4 >> 16 == 0xA9FE => "a link-local address (169.254.0.0/16) is never routed to the TUN",
            _ when ip.IsIPv6LinkLocal => "a link-local address (fe80::/10) needs a scope and is never routed to the TUN",
            _ when address == TunFilterOptions.TunAddressV4 || address == TunFilterOptions.TunAddressV6 => "the TUN's own address in the namespace",
            _ => null,
        };
    }
}
