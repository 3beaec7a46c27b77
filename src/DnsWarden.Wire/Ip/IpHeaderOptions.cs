namespace DnsWarden.Wire.Ip;

/// <summary>The less common IP header fields for <see cref="IpHeaderWriter"/>; defaults give an ordinary packet.</summary>
public readonly struct IpHeaderOptions
{
    public IpHeaderOptions()
    {
    }

    /// <summary>IPv4 TTL or IPv6 hop limit; 64 as Linux sends by default.</summary>
    public byte TimeToLive { get; init; } = 64;

    /// <summary>IPv4 TOS / IPv6 traffic class byte (DSCP and ECN).</summary>
    public byte TrafficClass { get; init; }

    /// <summary>IPv4 identification.</summary>
    public ushort Identification { get; init; }

    /// <summary>IPv6 flow label (20 bits).</summary>
    public uint FlowLabel { get; init; }

    public bool DontFragment { get; init; }

    public bool MoreFragments { get; init; }

    /// <summary>IPv4 fragment offset in bytes, a multiple of 8.</summary>
    public int FragmentOffset { get; init; }
}
