namespace DnsWarden.Wire.Frames;

/// <summary>Link-layer header types as numbered by tcpdump.org's LINKTYPE_ registry (pcap and pcapng share them).</summary>
public enum LinkType : ushort
{
    /// <summary>BSD loopback: 4-byte address family in host byte order.</summary>
    Null = 0,
    Ethernet = 1,
    /// <summary>Raw IP (v4 or v6 told apart by the version nibble).</summary>
    Raw = 101,
    /// <summary>OpenBSD loopback: 4-byte address family in network byte order.</summary>
    Loop = 108,
    /// <summary>Linux cooked capture v1 ("any" device).</summary>
    LinuxSll = 113,
    Ipv4 = 228,
    Ipv6 = 229,
    /// <summary>Linux cooked capture v2 (carries the interface index).</summary>
    LinuxSll2 = 276,
}
