using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DnsWarden.Platform.Enforcement;

/// <summary>The route types a <see cref="RouteSpec"/> can add (RTN_*, include/uapi/linux/rtnetlink.h).</summary>
public enum RouteKind : byte
{
    Unicast = 1,
    Blackhole = 6,
    Unreachable = 7,
    Prohibit = 8,
}

/// <summary>
/// One route to add or delete with <see cref="RtnetlinkSocket"/>: what <c>ip route add</c> takes. A null
/// <see cref="Destination"/> (or prefix length 0) is the default route; 0 for <see cref="OutputInterfaceIndex"/> and
/// <see cref="Metric"/> means "not given".
/// </summary>
public sealed record RouteSpec(AddressFamily Family)
{
    /// <summary>RT_TABLE_MAIN.</summary>
    public const int MainTable = 254;

    public IPAddress? Destination { get; init; }

    public int PrefixLength { get; init; }

    public IPAddress? Gateway { get; init; }

    public int OutputInterfaceIndex { get; init; }

    public int Table { get; init; } = MainTable;

    public uint Metric { get; init; }

    public RouteKind Kind { get; init; } = RouteKind.Unicast;

    /// <summary>The preferred source address (RTA_PREFSRC).</summary>
    public IPAddress? Source { get; init; }

    public bool IsDefault => Destination is null || PrefixLength == 0;

    /// <summary><c>default via GATEWAY</c> in the main table.</summary>
    public static RouteSpec DefaultVia(IPAddress gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return new RouteSpec(gateway.AddressFamily) { Gateway = gateway };
    }

    /// <summary>As <c>ip route</c> would print it, for error messages.</summary>
    public override string ToString()
    {
        var s = new StringBuilder();
        if (Kind != RouteKind.Unicast)
        {
            s.Append(Kind.ToString().ToLowerInvariant()).Append(' ');
        }

        s.Append(IsDefault ? (Family == AddressFamily.InterNetworkV6 ? "default (IPv6)" : "default") : $"{Destination}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}");
        if (Gateway is not null)
        {
            s.Append(" via ").Append(Gateway);
        }

        if (OutputInterfaceIndex != 0)
        {
            s.Append(" dev #").Append(OutputInterfaceIndex.ToString(CultureInfo.InvariantCulture));
        }

        if (Table != MainTable)
        {
            s.Append(" table ").Append(Table.ToString(CultureInfo.InvariantCulture));
        }

        if (Metric != 0)
        {
            s.Append(" metric ").Append(Metric.ToString(CultureInfo.InvariantCulture));
        }

        if (Source is not null)
        {
            s.Append(" src ").Append(Source);
        }

        return s.ToString();
    }
}
