using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// The classic 5-tuple, as seen on the wire (not normalised for direction): the one flow key of the capture decoder,
/// TCP reassembly (one direction of a connection) and the TUN filter's flow table. Ports are 0 when absent; the TUN
/// filter keys an ICMP echo by its identifier in both, as conntrack does.
/// </summary>
public readonly record struct FlowKey5(IpAddr Source, IpAddr Destination, ushort SourcePort, ushort DestinationPort, IpProtocol Protocol)
{
    /// <summary>The same flow seen from the other end.</summary>
    public FlowKey5 Reversed => new(Destination, Source, DestinationPort, SourcePort, Protocol);

    public override string ToString() => $"{Protocol} {Source}:{SourcePort} > {Destination}:{DestinationPort}";
}
