using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary>firewall: every packet meets the filter (DNS-first egress). dns-only: only the virtual DNS address is routed into the TUN.</summary>
public enum TunFilterMode
{
    Firewall,
    DnsOnly,
}

/// <summary>What to do with one packet.</summary>
public enum TunVerdict : byte
{
    /// <summary>Send it on, unchanged.</summary>
    Pass,

    /// <summary>Drop it (counted).</summary>
    Drop,

    /// <summary>Drop it and send the packet written into the reply buffer back to the side it came from (a RST, an ICMP error).</summary>
    Reply,

    /// <summary>A virtual service took it; its answer reaches the namespace later through the <see cref="IPacketSink"/>.</summary>
    Consumed,
}

/// <summary>Where packets toward the namespace are written (the namespace's TUN).</summary>
public interface IPacketSink
{
    public void Write(ReadOnlySpan<byte> packet);
}

/// <summary>Why a packet was refused.</summary>
public enum RefusedKind : byte
{
    /// <summary>To an address no DNS answer handed out.</summary>
    Unresolved,

    /// <summary>QUIC (UDP 443/80): dropped so applications fall back to TCP.</summary>
    Quic,

    /// <summary>To the virtual address on a port or protocol no virtual service answers.</summary>
    NoService,
}

/// <summary>One refused packet, for the log.</summary>
public readonly record struct RefusedPacket(RefusedKind Kind, IpProtocol Protocol, IpAddr Destination, ushort Port);

public sealed record TunFilterOptions
{
    public static readonly IpAddr DefaultVirtualDnsV4 = IpAddr.Parse("10.30.30.30");
    public static readonly IpAddr DefaultVirtualDnsV6 = IpAddr.Parse("fd00:7475:6e::53");

    public IpAddr VirtualDnsV4 { get; init; } = DefaultVirtualDnsV4;

    public IpAddr VirtualDnsV6 { get; init; } = DefaultVirtualDnsV6;

    /// <summary>The virtual subnets (exempt from the DNS-first rule): 10.30.30.0/24 and fd00:7475:6e::/64 by default.</summary>
    public IpAddr SubnetV4 { get; init; } = IpAddr.Parse("10.30.30.0");

    public int SubnetV4Prefix { get; init; } = 24;

    public IpAddr SubnetV6 { get; init; } = IpAddr.Parse("fd00:7475:6e::");

    public int SubnetV6Prefix { get; init; } = 64;

    public TunFilterMode Mode { get; init; } = TunFilterMode.Firewall;

    /// <summary>A flow with no packet for this long is forgotten (TCP).</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>A flow with no packet for this long is forgotten (UDP, ICMP).</summary>
    public TimeSpan UdpIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public int MaxFlows { get; init; } = 65_536;
}

/// <summary>Counters of the filter, read while it runs.</summary>
public sealed class TunFilterCounters
{
    internal long _passedOut;
    internal long _passedIn;
    internal long _dnsQueries;
    internal long _dnsAnswers;
    internal long _refusedUnresolved;
    internal long _refusedQuic;
    internal long _refusedNoService;
    internal long _droppedInbound;
    internal long _malformed;
    internal long _flowsCreated;

    public long PassedOut => Interlocked.Read(ref _passedOut);

    public long PassedIn => Interlocked.Read(ref _passedIn);

    public long DnsQueries => Interlocked.Read(ref _dnsQueries);

    public long DnsAnswers => Interlocked.Read(ref _dnsAnswers);

    public long RefusedUnresolved => Interlocked.Read(ref _refusedUnresolved);

    public long RefusedQuic => Interlocked.Read(ref _refusedQuic);

    public long RefusedNoService => Interlocked.Read(ref _refusedNoService);

    /// <summary>Packets toward the namespace that belong to no flow it started.</summary>
    public long DroppedInbound => Interlocked.Read(ref _droppedInbound);

    public long Malformed => Interlocked.Read(ref _malformed);

    public long FlowsCreated => Interlocked.Read(ref _flowsCreated);
}

/// <summary>
/// The user-space packet filter over a TUN device (docs/TUN.md): a virtual DNS service answered from the packets
/// themselves, and in firewall mode DNS-first egress — a new flow only to an address the engine's answers put in
/// its IpTracker; TCP otherwise gets a RST, UDP an ICMP port unreachable, QUIC is dropped.
/// </summary>
#pragma warning disable CS0067 // the contract before its implementation
public sealed partial class TunFilter
{
    /// <summary>Engine with a tracker (required in firewall mode); answers to the virtual DNS service go to <paramref name="inside"/>.</summary>
    public TunFilter(TunFilterOptions options, DnsEngine engine, IPacketSink inside, TimeProvider? time = null)
    {
        throw new NotImplementedException();
    }

    /// <summary>Switches at once; no restart, flows kept.</summary>
    public TunFilterMode Mode { get; set; }

    public TunFilterCounters Counters { get; } = new();

    /// <summary>Each refused packet (raised on the packet's thread; keep handlers short).</summary>
    public event Action<RefusedPacket>? Refused;

    /// <summary>A packet from the namespace toward the world. On <see cref="TunVerdict.Reply"/> the reply (an IP packet) is in <paramref name="reply"/>[..replyLength], to go back into the namespace.</summary>
    public TunVerdict Outbound(ReadOnlySpan<byte> packet, Span<byte> reply, out int replyLength) => throw new NotImplementedException();

    /// <summary>A packet from the world toward the namespace: passes only when it belongs to a flow the namespace started (or is an ICMP error about one).</summary>
    public TunVerdict Inbound(ReadOnlySpan<byte> packet, Span<byte> reply, out int replyLength) => throw new NotImplementedException();

    /// <summary>Forgets idle flows; returns how many. The host calls it every few seconds.</summary>
    public int Sweep() => throw new NotImplementedException();
}
