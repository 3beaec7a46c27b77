using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;

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

    /// <summary>With an IPv6 routing header or IPv4 options: an allowed first hop would carry it on anywhere.</summary>
    SourceRouted,

    /// <summary>To port 853 (DNS over TLS, DNS over QUIC), to any address: DNS the engine cannot see.</summary>
    Dot,
}

/// <summary>One refused packet, for the log.</summary>
public readonly record struct RefusedPacket(RefusedKind Kind, IpProtocol Protocol, IpAddr Destination, ushort Port);

public sealed record TunFilterOptions
{
    public static readonly IpAddr DefaultVirtualDnsV4 = IpAddr.Parse("10.30.30.30");
    public static readonly IpAddr DefaultVirtualDnsV6 = IpAddr.Parse("fd00:7475:6e::53");

    /// <summary>The TUN's own addresses inside the namespace (the first hosts after the subnets' gateway-free start).</summary>
    public static readonly IpAddr TunAddressV4 = IpAddr.Parse("10.30.30.2");

    public static readonly IpAddr TunAddressV6 = IpAddr.Parse("fd00:7475:6e::2");

    /// <summary>
    /// The virtual DNS service's addresses (<c>--virtual-dns</c>): answered in every mode, and the only addresses
    /// dns-only mode routes into the TUN. In firewall mode DNS to any other address is answered too.
    /// </summary>
    public IReadOnlyList<IpAddr> VirtualDns { get; init; } = [DefaultVirtualDnsV4, DefaultVirtualDnsV6];

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
    internal long _refusedSourceRouted;
    internal long _refusedNoService;
    internal long _droppedInbound;
    internal long _malformed;
    internal long _flowsCreated;
    internal long _droppedLinkScoped;
    internal long _refusedTableFull;
    internal long _droppedFragments;
    internal long _dnsDropped;
    internal long _refusedDot;

    public long PassedOut => Interlocked.Read(ref _passedOut);

    public long PassedIn => Interlocked.Read(ref _passedIn);

    public long DnsQueries => Interlocked.Read(ref _dnsQueries);

    public long DnsAnswers => Interlocked.Read(ref _dnsAnswers);

    public long RefusedUnresolved => Interlocked.Read(ref _refusedUnresolved);

    public long RefusedQuic => Interlocked.Read(ref _refusedQuic);

    /// <summary>Outbound packets with an IPv6 routing header or IPv4 options, dropped in firewall mode.</summary>
    public long RefusedSourceRouted => Interlocked.Read(ref _refusedSourceRouted);

    public long RefusedNoService => Interlocked.Read(ref _refusedNoService);

    /// <summary>Packets to port 853 (TCP or UDP), to any address: DNS over TLS or QUIC would pass the engine by.</summary>
    public long RefusedDot => Interlocked.Read(ref _refusedDot);

    /// <summary>Packets toward the namespace that belong to no flow it started.</summary>
    public long DroppedInbound => Interlocked.Read(ref _droppedInbound);

    public long Malformed => Interlocked.Read(ref _malformed);

    public long FlowsCreated => Interlocked.Read(ref _flowsCreated);

    /// <summary>Link-scoped multicast from the namespace (neighbour discovery, MLD, mDNS): dropped without a report.</summary>
    public long DroppedLinkScoped => Interlocked.Read(ref _droppedLinkScoped);

    /// <summary>New flows refused because the flow table was full of live flows (fail-closed; answered like an unresolved address).</summary>
    public long RefusedTableFull => Interlocked.Read(ref _refusedTableFull);

    /// <summary>Later fragments (no transport header) whose address pair has no live flow.</summary>
    public long DroppedFragments => Interlocked.Read(ref _droppedFragments);

    /// <summary>Virtual DNS queries that got no answer: too many in flight, the engine gave none or failed, or the reply could not be written.</summary>
    public long DnsDropped => Interlocked.Read(ref _dnsDropped);
}


/// <summary>
/// The user-space packet filter over a TUN device (docs/TUN.md): a virtual DNS service answered from the packets
/// themselves, and in firewall mode DNS-first egress — a new flow only to an address the engine's answers put in
/// its IpTracker; TCP otherwise gets a RST, UDP an ICMP port unreachable, QUIC is dropped.
/// </summary>
/// <remarks>
/// <see cref="Outbound"/> and <see cref="Inbound"/> may run on two threads at once, <see cref="Sweep()"/> and
/// <see cref="Mode"/> from any other. A packet of a live flow costs one lock-free dictionary lookup and no
/// allocation. The flow table is bounded by <see cref="TunFilterOptions.MaxFlows"/>: when it is full of live flows a
/// new flow is refused (fail-closed) rather than evicting a live one an attacker could not otherwise reach.
/// </remarks>
public sealed partial class TunFilter
{
    private const int VirtualDnsService = 0;

    /// <summary>RFC 1035 §4.2.1: DNS over UDP listens on port 53.</summary>
    private const ushort DnsPort = 53;

    /// <summary>RFC 7858 §3.1 (DNS over TLS) and RFC 9250 §4.1.1 (DNS over QUIC): port 853.</summary>
    private const ushort EncryptedDnsPort = 853;

    // RFC 9000 §2 and RFC 9308 §7: QUIC runs on UDP 443 (and some deployments on 80).
    private const ushort QuicPort = 443;
    private const ushort QuicAltPort = 80;

    private readonly TunFilterOptions _options;
    private readonly DnsEngine _engine;
    private readonly IPacketSink _inside;
    private readonly TimeProvider _time;
    private readonly DestinationRuleTable _virtual = new();
    private readonly uint _subnetV4;
    private readonly uint _maskV4;
    private readonly ulong _subnetV6High;
    private readonly ulong _subnetV6Low;
    private readonly ulong _maskV6High;
    private readonly ulong _maskV6Low;
    private volatile int _mode;

    /// <summary>Engine with a tracker (required in firewall mode); answers to the virtual DNS service go to <paramref name="inside"/>.</summary>
    /// <exception cref="ArgumentException">The options name an address of the wrong family, a prefix out of range, fewer than one flow, or firewall mode with an engine that has no tracker.</exception>
    public TunFilter(TunFilterOptions options, DnsEngine engine, IPacketSink inside, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(inside);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxFlows, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.SubnetV4Prefix, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SubnetV4Prefix, 32, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.SubnetV6Prefix, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.SubnetV6Prefix, 128, nameof(options));
        if (!options.SubnetV4.IsV4 || options.SubnetV6.IsV4)
        {
            throw new ArgumentException("SubnetV4 must be IPv4, SubnetV6 IPv6.", nameof(options));
        }

        if (options.VirtualDns.Count == 0)
        {
            throw new ArgumentException("At least one virtual DNS address.", nameof(options));
        }

        if (options.Mode == TunFilterMode.Firewall && engine.Tracker is null)
        {
            throw new ArgumentException("Firewall mode needs an engine with an IpTracker.", nameof(engine));
        }

        _options = options;
        _engine = engine;
        _inside = inside;
        _time = time ?? TimeProvider.System;
        _mode = (int)options.Mode;
        foreach (IpAddr address in options.VirtualDns)
        {
            _virtual.Add(address, VirtualDnsService);
        }

        _maskV4 = options.SubnetV4Prefix == 0 ? 0 : uint.MaxValue << (32 - options.SubnetV4Prefix);
        _subnetV4 = options.SubnetV4.V4 & _maskV4;
        int p = options.SubnetV6Prefix;
        _maskV6High = p == 0 ? 0 : p >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - p);
        _maskV6Low = p <= 64 ? 0 : p == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - p);
        _subnetV6High = options.SubnetV6.High & _maskV6High;
        _subnetV6Low = options.SubnetV6.Low & _maskV6Low;

        long frequency = _time.TimestampFrequency;
        _tcpTimeout = ToTimestamp(options.TcpIdleTimeout, frequency);
        _udpTimeout = ToTimestamp(options.UdpIdleTimeout, frequency);
        _closingTimeout = Math.Min(_tcpTimeout, ToTimestamp(s_closingTimeout, frequency));
        _fullSweepInterval = ToTimestamp(s_fullSweepInterval, frequency);
        _lastFullSweep = _time.GetTimestamp() - _fullSweepInterval;
    }

    /// <summary>Switches at once; no restart, flows kept.</summary>
    public TunFilterMode Mode
    {
        get => (TunFilterMode)_mode;
        set
        {
            if (value == TunFilterMode.Firewall && _engine.Tracker is null)
            {
                throw new InvalidOperationException("Firewall mode needs an engine with an IpTracker.");
            }

            _mode = (int)value;
        }
    }

    public TunFilterCounters Counters { get; } = new();

    /// <summary>Each refused packet (raised on the packet's thread; keep handlers short).</summary>
    public event Action<RefusedPacket>? Refused;

    /// <summary>The options the filter was built with.</summary>
    public TunFilterOptions Options => _options;

    /// <summary>A packet from the namespace toward the world. On <see cref="TunVerdict.Reply"/> the reply (an IP packet) is in <paramref name="reply"/>[..replyLength], to go back into the namespace.</summary>
    public TunVerdict Outbound(ReadOnlySpan<byte> packet, Span<byte> reply, out int replyLength)
    {
        replyLength = 0;
        if (!IpPacket.TryRead(packet, out IpPacketInfo info, out _))
        {
            Interlocked.Increment(ref Counters._malformed);
            return TunVerdict.Drop;
        }

        // In firewall mode DNS is the engine's whatever the address; in dns-only mode only the virtual addresses are
        // routed here and only they answer. Encrypted DNS is refused to any address in both.
        bool toVirtual = _virtual.Match(packet) == VirtualDnsService;
        if (info.HasTransportHeader && info.Protocol is IpProtocol.Udp or IpProtocol.Tcp)
        {
            if (info.DestinationPort == DnsPort && (toVirtual || _mode == (int)TunFilterMode.Firewall))
            {
                return ToDns(packet, in info, reply, out replyLength);
            }

            if (info.DestinationPort == EncryptedDnsPort)
            {
                Interlocked.Increment(ref Counters._refusedDot);
                RaiseRefused(RefusedKind.Dot, in info);
                return RefuseWithReply(packet, in info, UnreachableKind.PortUnreachable, reply, out replyLength);
            }
        }

        if (toVirtual)
        {
            return RefuseNoService(packet, in info, reply, out replyLength);
        }

        if (_mode == (int)TunFilterMode.DnsOnly)
        {
            // DNS to the TUN's subnet that is no virtual address: nothing here answers it, and passed on it would
            // only come back (the host routes the subnet to the TUN).
            if (info.HasTransportHeader && info.DestinationPort == DnsPort && info.Protocol is IpProtocol.Udp or IpProtocol.Tcp)
            {
                return RefuseNoService(packet, in info, reply, out replyLength);
            }

            Interlocked.Increment(ref Counters._passedOut);
            return TunVerdict.Pass;
        }

        // A first hop that is allowed would carry the packet on to one that is not (RFC 8200 §4.4, RFC 791 LSRR/SSRR).
        if (info.HasRoutingHeader || (info.Version == 4 && info.IpHeaderLength > IpPacket.Ipv4MinHeaderLength))
        {
            Interlocked.Increment(ref Counters._refusedSourceRouted);
            RaiseRefused(RefusedKind.SourceRouted, in info);
            return TunVerdict.Drop;
        }

        return Firewall(packet, in info, reply, out replyLength);
    }

    /// <summary>
    /// A packet from the world toward the namespace: passes only when it belongs to a flow the namespace started (or is
    /// an ICMP error about one). A source inside the virtual subnet earns nothing: anyone who can route to the host can
    /// put one on a packet.
    /// </summary>
    public TunVerdict Inbound(ReadOnlySpan<byte> packet, Span<byte> reply, out int replyLength)
    {
        replyLength = 0;
        if (!IpPacket.TryRead(packet, out IpPacketInfo info, out _))
        {
            Interlocked.Increment(ref Counters._malformed);
            return TunVerdict.Drop;
        }

        if (_mode == (int)TunFilterMode.DnsOnly || InboundBelongs(packet, in info))
        {
            Interlocked.Increment(ref Counters._passedIn);
            return TunVerdict.Pass;
        }

        Interlocked.Increment(ref Counters._droppedInbound);
        return TunVerdict.Drop;
    }

    /// <summary>
    /// Port 53 to any address: a whole UDP query is the engine's, answered from the address and port it was sent to.
    /// TCP is handed to the engine's listener by the namespace's nat rule before routing; one that reaches the filter
    /// missed it and is refused, like a fragmented query, rather than let past the engine.
    /// </summary>
    private TunVerdict ToDns(ReadOnlySpan<byte> packet, in IpPacketInfo info, Span<byte> reply, out int replyLength)
    {
        replyLength = 0;
        if (info.Protocol == IpProtocol.Udp && !info.IsFragment)
        {
            ServeDns(packet, in info);
            return TunVerdict.Consumed;
        }

        return RefuseNoService(packet, in info, reply, out replyLength);
    }

    /// <summary>Anything a virtual service does not take is refused out loud, never dropped silently.</summary>
    private TunVerdict RefuseNoService(ReadOnlySpan<byte> packet, in IpPacketInfo info, Span<byte> reply, out int replyLength)
    {
        replyLength = 0;
        Interlocked.Increment(ref Counters._refusedNoService);
        RaiseRefused(RefusedKind.NoService, in info);
        return info.Protocol is IpProtocol.Tcp or IpProtocol.Udp
            ? RefuseWithReply(packet, in info, UnreachableKind.PortUnreachable, reply, out replyLength)
            : TunVerdict.Drop;
    }

    private TunVerdict Firewall(ReadOnlySpan<byte> packet, in IpPacketInfo info, Span<byte> reply, out int replyLength)
    {
        replyLength = 0;
        long now = _time.GetTimestamp();
        if (info.IsLaterFragment)
        {
            // A later fragment carries no ports: it rides on its first fragment's address pair.
            if (PairIsLive(PairKey(info.Source, info.Destination, info.Protocol), now))
            {
                Interlocked.Increment(ref Counters._passedOut);
                return TunVerdict.Pass;
            }

            Interlocked.Increment(ref Counters._droppedFragments);
            return TunVerdict.Drop;
        }

        bool keyed = TryOutboundKey(packet, in info, out FlowKey key);
        if (keyed && TryRefresh(in key, now, in info, outbound: true))
        {
            if (info.IsFragment)
            {
                TouchPair(PairKey(info.Source, info.Destination, info.Protocol), now);
            }

            Interlocked.Increment(ref Counters._passedOut);
            return TunVerdict.Pass;
        }

        if (IsLinkScopedMulticast(info.Destination))
        {
            // Router solicitations, MLD reports, mDNS and the like never leave the link: not an escape, not reported.
            Interlocked.Increment(ref Counters._droppedLinkScoped);
            return TunVerdict.Drop;
        }

        if (info.Protocol == IpProtocol.Udp && info.DestinationPort is QuicPort or QuicAltPort)
        {
            Interlocked.Increment(ref Counters._refusedQuic);
            RaiseRefused(RefusedKind.Quic, in info);
            return TunVerdict.Drop;
        }

        if (info.IsIcmpError && OutboundErrorBelongs(packet, in info, now))
        {
            Interlocked.Increment(ref Counters._passedOut);
            return TunVerdict.Pass;
        }

        bool opens = keyed && (info.Protocol != IpProtocol.Tcp || (info.TcpFlags & (TcpFlagBits.Syn | TcpFlagBits.Ack | TcpFlagBits.Rst)) == TcpFlagBits.Syn);
        if (opens && _engine.Tracker is { } tracker && tracker.Contains(info.Destination, _engine.NowTicks))
        {
            if (TryCreate(in key, now, in info))
            {
                Interlocked.Increment(ref Counters._flowsCreated);
                Interlocked.Increment(ref Counters._passedOut);
                return TunVerdict.Pass;
            }

            Interlocked.Increment(ref Counters._refusedTableFull);
            return RefuseWithReply(packet, in info, UnreachableKind.AdministrativelyProhibited, reply, out replyLength);
        }

        Interlocked.Increment(ref Counters._refusedUnresolved);
        RaiseRefused(RefusedKind.Unresolved, in info);
        return RefuseWithReply(packet, in info, UnreachableKind.AdministrativelyProhibited, reply, out replyLength);
    }

    /// <summary>
    /// TCP gets a RST (RFC 9293 §3.10.7.1), UDP an ICMP port unreachable, an ICMP echo the <paramref name="icmpKind"/>
    /// unreachable; anything the rules give no reply for (a RST, an ICMP error, other protocols) is dropped.
    /// </summary>
    private static TunVerdict RefuseWithReply(ReadOnlySpan<byte> packet, in IpPacketInfo info, UnreachableKind icmpKind, Span<byte> reply, out int replyLength)
    {
        bool written = info.Protocol switch
        {
            IpProtocol.Tcp => IpReplyWriter.TryWriteTcpReset(in info, reply, out replyLength),
            IpProtocol.Udp => IpReplyWriter.TryWriteUnreachable(packet.Slice(0, info.TotalLength), in info, UnreachableKind.PortUnreachable, reply, out replyLength),
            IpProtocol.Icmp or IpProtocol.IcmpV6 when IsEchoRequest(in info) =>
                IpReplyWriter.TryWriteUnreachable(packet.Slice(0, info.TotalLength), in info, icmpKind, reply, out replyLength),
            _ => NoReply(out replyLength),
        };
        if (written)
        {
            return TunVerdict.Reply;
        }

        replyLength = 0;
        return TunVerdict.Drop;
    }

    private static bool NoReply(out int replyLength)
    {
        replyLength = 0;
        return false;
    }

    /// <summary>ff02::/16 (RFC 4291 §2.7, link-local scope) and 224.0.0.0/24 (RFC 5771, local network control block).</summary>
    private static bool IsLinkScopedMulticast(IpAddr address) =>
        address.IsV4 ? address.V4 >> 8 == 0xE0_00_00 : address.High >> 48 == 0xFF02;

    private void RaiseRefused(RefusedKind kind, in IpPacketInfo info) =>
        Refused?.Invoke(new RefusedPacket(kind, info.Protocol, info.Destination, info.DestinationPort));

    private static long ToTimestamp(TimeSpan span, long frequency)
    {
        if (span <= TimeSpan.Zero)
        {
            return 0;
        }

        double value = span.TotalSeconds * frequency;
        return value >= long.MaxValue / 4 ? long.MaxValue / 4 : (long)value;
    }
}
