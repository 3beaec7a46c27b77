namespace DnsWarden.Wire.Frames;

/// <summary>IEEE 802 EtherType values the decoder looks at; any other value is carried through as a number.</summary>
public enum EtherType : ushort
{
    None = 0,
    Ipv4 = 0x0800,
    Arp = 0x0806,
    /// <summary>IEEE 802.1Q customer VLAN tag.</summary>
    Vlan = 0x8100,
    Ipv6 = 0x86DD,
    /// <summary>IEEE 802.1ad service VLAN tag (QinQ outer tag).</summary>
    QinQ = 0x88A8,
    /// <summary>Pre-standard QinQ outer tag still emitted by some switches.</summary>
    QinQLegacy = 0x9100,
}
