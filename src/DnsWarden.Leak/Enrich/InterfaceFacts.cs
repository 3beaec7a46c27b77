namespace DnsWarden.Leak.Enrich;

/// <summary>
/// What the kernel says about one interface, as far as its route class depends on it (rtnetlink RTM_NEWLINK).
/// </summary>
/// <param name="Kind">IFLA_INFO_KIND: <c>veth</c>, <c>bridge</c>, <c>tun</c> (also a tap), <c>wireguard</c>…; null for a plain device.</param>
/// <param name="Ethernet">Frames on it are Ethernet (ARPHRD_ETHER): a <c>tun</c> kind with Ethernet frames is a tap.</param>
/// <param name="BridgeName">The bridge this interface is a port of, or null.</param>
/// <param name="Ports">For a bridge, its ports; empty otherwise.</param>
/// <param name="Uplink">A unicast default route leaves by this interface: it is the namespace's way out, whatever its kind.</param>
public sealed record InterfaceFacts(string Name, int Index, string? Kind, bool Ethernet, string? BridgeName, IReadOnlyList<InterfaceFacts> Ports, bool Uplink = false);
