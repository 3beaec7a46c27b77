using System.Net;
using System.Net.Sockets;
using DnsWarden.Platform.Network;

namespace DnsWarden.Platform.Tests.Network;

public sealed class RouteLookupTests
{
    private static RouteInfo V4(uint table, string dst, int len, int oif, uint? metric = null, byte type = RouteInfo.TypeUnicast) =>
        new(AddressFamily.InterNetwork, table, len == 0 ? null : IPAddress.Parse(dst), (byte)len, null, oif, metric, 4, 0, type, null, []);

    private static readonly RouteInfo[] s_routes =
    [
        V4(RouteInfo.TableMain, "0.0.0.0", 0, 2, 100),
        V4(RouteInfo.TableMain, "0.0.0.0", 0, 3, 50),
        V4(RouteInfo.TableMain, "10.8.0.0", 16, 5),
        V4(RouteInfo.TableMain, "10.8.1.0", 24, 6),
        V4(100, "10.0.0.0", 8, 9),
        V4(RouteInfo.TableLocal, "127.0.0.0", 8, 1, type: RouteInfo.TypeLocal),
        V4(RouteInfo.TableLocal, "127.255.255.255", 32, 1, type: 3),
        new(AddressFamily.InterNetworkV6, RouteInfo.TableMain, null, 0, IPAddress.Parse("fd00::1"), 7, 1024, 3, 0, 1, null, []),
    ];

    [Theory]
    [InlineData("10.8.1.53", 6)]
    [InlineData("10.8.2.53", 5)]
    [InlineData("198.51.100.53", 3)]
    [InlineData("127.0.0.53", 1)]
    [InlineData("2001:db8::53", 7)]
    [InlineData("::ffff:10.8.1.1", 6)]
    public void LongestPrefix_LocalTableFirst_LowestMetric(string address, int expectedOif) =>
        Assert.Equal(expectedOif, RouteLookup.Lookup(s_routes, IPAddress.Parse(address))!.OutputInterfaceIndex);

    [Fact]
    public void OtherTablesAreNotConsulted() => Assert.NotEqual(9, RouteLookup.Lookup(s_routes, IPAddress.Parse("10.1.1.1"))!.OutputInterfaceIndex);

    [Fact]
    public void NoRoute_IsNull() => Assert.Null(RouteLookup.Lookup([V4(RouteInfo.TableMain, "10.0.0.0", 8, 2)], IPAddress.Parse("203.0.113.1")));

    [Theory]
    [InlineData("10.8.0.0", 13, "10.15.255.255", true)]
    [InlineData("10.8.0.0", 13, "10.16.0.0", false)]
    [InlineData("10.8.0.0", 32, "10.8.0.0", true)]
    [InlineData("10.8.0.0", 32, "10.8.0.1", false)]
    public void Contains_RespectsPartialBytes(string net, int len, string address, bool expected) =>
        Assert.Equal(expected, RouteLookup.Contains(V4(RouteInfo.TableMain, net, len, 1), IPAddress.Parse(address)));
}
