using System.Globalization;

namespace DnsWarden.Indicators;

/// <summary>
/// The one way an endpoint is taken apart for the JSON lines and put back together when they are read
/// (docs/EVENTS.md, "One vocabulary"): the models keep <c>ip:port</c> (<c>[v6]:port</c>) for people, the lines carry
/// the address and the port as two fields. A redacted source is a network with no port (<c>10.1.2.0/24</c>).
/// </summary>
public static class EndpointText
{
    /// <summary>
    /// Splits <c>ip:port</c>, <c>[v6]:port</c> into address and port; anything else (a network, a bare address) is
    /// the address with no port.
    /// </summary>
    public static (string Address, int? Port) Split(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        Range address = Parse(endpoint, out int? port);
        return (port is null ? endpoint : endpoint[address], port);
    }

    /// <summary><see cref="Split"/> without a copy, for writers on a hot path: where the address is, and the port.</summary>
    public static Range Parse(ReadOnlySpan<char> endpoint, out int? port)
    {
        port = null;
        if (endpoint.StartsWith('['))
        {
            int close = endpoint.IndexOf(']');
            if (close > 0 && close + 1 < endpoint.Length && endpoint[close + 1] == ':' && TryPort(endpoint[(close + 2)..], out int port6))
            {
                port = port6;
                return 1..close;
            }

            return ..;
        }

        int colon = endpoint.LastIndexOf(':');
        // One colon only: an IPv6 address without brackets has several and no port.
        if (colon > 0 && endpoint.IndexOf(':') == colon && TryPort(endpoint[(colon + 1)..], out int port4))
        {
            port = port4;
            return ..colon;
        }

        return ..;
    }

    /// <summary>The inverse of <see cref="Split"/>: the address alone when there is no port.</summary>
    public static string Join(string address, int? port)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (port is not { } p)
        {
            return address;
        }

        string portText = p.ToString(CultureInfo.InvariantCulture);
        return address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{portText}" : $"{address}:{portText}";
    }

    private static bool TryPort(ReadOnlySpan<char> text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
}
