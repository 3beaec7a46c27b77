using System.Net;

namespace DnsWarden.Platform.Tests;

public sealed class SocketMatcherTests
{
    private static readonly IPAddress s_local = IPAddress.Parse("10.0.0.2");
    private static readonly IPAddress s_remote = IPAddress.Parse("10.0.0.53");

    [Fact]
    public void Tcp_NeedsTheExactFourTuple()
    {
        SocketEntry[] table =
        [
            new(s_local, 40000, s_remote, 853, 1, 0),
            new(IPAddress.Any, 40001, IPAddress.Any, 0, 2, 0),
        ];
        Assert.Equal(new SocketMatch(0, OwnerConfidence.High, null), SocketMatcher.Match(table, SocketProtocol.Tcp, s_local, 40000, s_remote, 853));
        Assert.False(SocketMatcher.Match(table, SocketProtocol.Tcp, s_local, 40000, s_remote, 854).Found);
        Assert.False(SocketMatcher.Match(table, SocketProtocol.Tcp, s_local, 40001, s_remote, 853).Found);
    }

    [Fact]
    public void Ipv4Flow_OnDualStackSocket()
    {
        SocketEntry[] table = [new(IPAddress.Parse("::ffff:10.0.0.2"), 40000, IPAddress.Parse("::ffff:10.0.0.53"), 53, 9, 0)];
        Assert.Equal(OwnerConfidence.High, SocketMatcher.Match(table, SocketProtocol.Tcp, s_local, 40000, s_remote, 53).Confidence);
    }

    [Fact]
    public void UnconnectedUdp_OnlySocketOnThePort_IsHigh()
    {
        SocketEntry[] table = [new(IPAddress.Any, 5353, IPAddress.Any, 0, 3, 0)];
        Assert.Equal(new SocketMatch(0, OwnerConfidence.High, null), SocketMatcher.Match(table, SocketProtocol.Udp, s_local, 5353, s_remote, 53));
    }

    [Fact]
    public void UnconnectedUdp_SeveralOnThePort_IsMedium_PreferringTheBoundAddress()
    {
        SocketEntry[] table =
        [
            new(IPAddress.Any, 5353, IPAddress.Any, 0, 3, 0),
            new(s_local, 5353, IPAddress.Any, 0, 4, 0),
            new(IPAddress.Parse("10.9.9.9"), 5353, IPAddress.Any, 0, 5, 0),
        ];
        SocketMatch m = SocketMatcher.Match(table, SocketProtocol.Udp, s_local, 5353, s_remote, 53);
        Assert.Equal(1, m.Index);
        Assert.Equal(OwnerConfidence.Medium, m.Confidence);
        Assert.Equal(OwnerReasons.UnconnectedUdp, m.Reason);
    }

    [Fact]
    public void ConnectedUdp_BeatsUnconnected()
    {
        SocketEntry[] table =
        [
            new(IPAddress.Any, 5353, IPAddress.Any, 0, 3, 0),
            new(s_local, 5353, s_remote, 53, 4, 0),
        ];
        Assert.Equal(new SocketMatch(1, OwnerConfidence.High, null), SocketMatcher.Match(table, SocketProtocol.Udp, s_local, 5353, s_remote, 53));
    }

    [Fact]
    public void Ipv4WildcardDoesNotTakeIpv6_ButIpv6WildcardTakesBoth()
    {
        SocketEntry[] v4Any = [new(IPAddress.Any, 53, IPAddress.Any, 0, 3, 0)];
        Assert.False(SocketMatcher.Match(v4Any, SocketProtocol.Udp, IPAddress.IPv6Loopback, 53, IPAddress.IPv6Loopback, 9).Found);
        SocketEntry[] v6Any = [new(IPAddress.IPv6Any, 53, IPAddress.IPv6Any, 0, 3, 0)];
        Assert.True(SocketMatcher.Match(v6Any, SocketProtocol.Udp, s_local, 53, s_remote, 9).Found);
    }
}
