using System.Buffers.Binary;
using System.Collections.Concurrent;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Packets;

namespace DnsWarden.Guard.Tun;

/// <summary>The flow table: 5-tuples the namespace opened, and the address pairs their later fragments ride on.</summary>
public sealed partial class TunFilter
{
    /// <summary>After a RST, or a FIN each way, a TCP flow lives this much longer (Linux conntrack's CLOSE timeout).</summary>
    private static readonly TimeSpan s_closingTimeout = TimeSpan.FromSeconds(10);

    /// <summary>When the table is full, the outbound thread sweeps it itself at most this often before refusing.</summary>
    private static readonly TimeSpan s_fullSweepInterval = TimeSpan.FromSeconds(1);

    // RFC 792 / RFC 4443 §4.1–4.2: echo request and reply types.
    private const byte IcmpV4EchoRequest = 8;
    private const byte IcmpV4EchoReply = 0;
    private const byte IcmpV6EchoRequest = 128;
    private const byte IcmpV6EchoReply = 129;

    private readonly ConcurrentDictionary<FlowKey5, FlowEntry> _flows = new();
    private readonly ConcurrentDictionary<FlowKey5, FlowEntry> _pairs = new();
    private readonly long _tcpTimeout;
    private readonly long _udpTimeout;
    private readonly long _closingTimeout;
    private readonly long _fullSweepInterval;
    private long _lastFullSweep;
    private int _flowCount;
    private int _pairCount;

    /// <summary>Flows in the table, idle ones not yet swept included.</summary>
    public int FlowCount => Volatile.Read(ref _flowCount);

    /// <summary>Forgets idle flows; returns how many. The host calls it every few seconds.</summary>
    public int Sweep() => Sweep(_time.GetTimestamp());

    private int Sweep(long now)
    {
        int removed = SweepTable(_flows, ref _flowCount, now);
        SweepTable(_pairs, ref _pairCount, now);
        return removed;
    }

    private static int SweepTable(ConcurrentDictionary<FlowKey5, FlowEntry> table, ref int count, long now)
    {
        int removed = 0;
        foreach (KeyValuePair<FlowKey5, FlowEntry> pair in table)
        {
            if (!pair.Value.IsExpired(now) || !table.TryRemove(pair))
            {
                continue;
            }

            // A packet may have refreshed the entry between the check and the removal: put it back then.
            if (!pair.Value.IsExpired(now) && table.TryAdd(pair.Key, pair.Value))
            {
                continue;
            }

            Interlocked.Decrement(ref count);
            removed++;
        }

        return removed;
    }

    /// <summary>The flow key of an outbound packet: ports for TCP/UDP, the echo identifier for an ICMP echo request.</summary>
    private static bool TryOutboundKey(ReadOnlySpan<byte> packet, in IpPacketInfo info, out FlowKey5 key)
    {
        switch (info.Protocol)
        {
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
                key = new FlowKey5(info.Source, info.Destination, info.SourcePort, info.DestinationPort, info.Protocol);
                return info.HasTransportHeader;

            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                if (IsEchoRequest(in info))
                {
                    ushort id = EchoIdentifier(packet, in info);
                    key = new FlowKey5(info.Source, info.Destination, id, id, info.Protocol);
                    return true;
                }

                break;
        }

        key = default;
        return false;
    }

    /// <summary>The key of the flow an inbound packet answers (its 5-tuple reversed); an echo reply answers the request with its identifier.</summary>
    private static bool TryInboundKey(ReadOnlySpan<byte> packet, in IpPacketInfo info, out FlowKey5 key)
    {
        switch (info.Protocol)
        {
            case IpProtocol.Tcp:
            case IpProtocol.Udp:
                key = new FlowKey5(info.Destination, info.Source, info.DestinationPort, info.SourcePort, info.Protocol);
                return info.HasTransportHeader;

            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                if (info.HasTransportHeader
                    && info.IcmpType == (info.Protocol == IpProtocol.Icmp ? IcmpV4EchoReply : IcmpV6EchoReply))
                {
                    ushort id = EchoIdentifier(packet, in info);
                    key = new FlowKey5(info.Destination, info.Source, id, id, info.Protocol);
                    return true;
                }

                break;
        }

        key = default;
        return false;
    }

    private static bool IsEchoRequest(in IpPacketInfo info) =>
        info.HasTransportHeader && info.IcmpType == (info.Protocol == IpProtocol.Icmp ? IcmpV4EchoRequest : IcmpV6EchoRequest);

    /// <summary>RFC 792 / RFC 4443 §4.1: the identifier is bytes 4–5 of the echo message (TryRead checked 8 are there).</summary>
    private static ushort EchoIdentifier(ReadOnlySpan<byte> packet, in IpPacketInfo info) =>
        BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(info.TransportOffset + 4));

    private static FlowKey5 PairKey(IpAddr source, IpAddr destination, IpProtocol protocol) => new(source, destination, 0, 0, protocol);

    /// <summary>Refreshes a live flow; false when there is none (an expired one not yet swept counts as none).</summary>
    private bool TryRefresh(in FlowKey5 key, long now, in IpPacketInfo info, bool outbound)
    {
        if (!_flows.TryGetValue(key, out FlowEntry? entry) || entry.IsExpired(now))
        {
            return false;
        }

        if (info.Protocol == IpProtocol.Tcp)
        {
            entry.NoteTcpFlags(info.TcpFlags, outbound, _closingTimeout, _tcpTimeout);
        }

        Volatile.Write(ref entry.LastSeen, now);
        return true;
    }

    private bool TryCreate(in FlowKey5 key, long now, in IpPacketInfo info)
    {
        long timeout = info.Protocol == IpProtocol.Tcp ? _tcpTimeout : _udpTimeout;
        if (_flows.TryGetValue(key, out FlowEntry? stale))
        {
            // Expired but not yet swept: a new connection on the same 5-tuple reuses the entry, unless a sweep took
            // it out meanwhile (then it is added afresh below).
            stale.Reset(now, timeout);
        }

        if (stale is null || !_flows.TryGetValue(key, out FlowEntry? current) || !ReferenceEquals(current, stale))
        {
            if (!TryReserve(ref _flowCount, now))
            {
                return false;
            }

            if (!_flows.TryAdd(key, new FlowEntry(now, timeout)))
            {
                Interlocked.Decrement(ref _flowCount);
                return _flows.TryGetValue(key, out FlowEntry? raced) && !raced.IsExpired(now);
            }
        }

        TouchPair(PairKey(key.Source, key.Destination, key.Protocol), now);
        return true;
    }

    /// <summary>Takes a slot under <see cref="TunFilterOptions.MaxFlows"/>; when full, sweeps once (rate-limited) and tries again.</summary>
    private bool TryReserve(ref int count, long now)
    {
        int max = _options.MaxFlows;
        if (Interlocked.Increment(ref count) <= max)
        {
            return true;
        }

        Interlocked.Decrement(ref count);
        long last = Volatile.Read(ref _lastFullSweep);
        if (now - last < _fullSweepInterval || Interlocked.CompareExchange(ref _lastFullSweep, now, last) != last)
        {
            return false;
        }

        Sweep(now);
        if (Interlocked.Increment(ref count) <= max)
        {
            return true;
        }

        Interlocked.Decrement(ref count);
        return false;
    }

    private void TouchPair(FlowKey5 key, long now)
    {
        if (_pairs.TryGetValue(key, out FlowEntry? entry))
        {
            entry.Reset(now, _udpTimeout);
            return;
        }

        if (Interlocked.Increment(ref _pairCount) > _options.MaxFlows || !_pairs.TryAdd(key, new FlowEntry(now, _udpTimeout)))
        {
            Interlocked.Decrement(ref _pairCount);
        }
    }

    private bool PairIsLive(FlowKey5 key, long now) => _pairs.TryGetValue(key, out FlowEntry? entry) && !entry.IsExpired(now);

    /// <summary>An inbound packet of a live flow, or an ICMP error about one (RFC 1191 / RFC 8201 path MTU discovery needs "too big").</summary>
    private bool InboundBelongs(ReadOnlySpan<byte> packet, in IpPacketInfo info)
    {
        long now = _time.GetTimestamp();
        if (info.IsLaterFragment)
        {
            return PairIsLive(PairKey(info.Destination, info.Source, info.Protocol), now);
        }

        if (TryInboundKey(packet, in info, out FlowKey5 key) && TryRefresh(in key, now, in info, outbound: false))
        {
            if (info.IsFragment)
            {
                TouchPair(PairKey(info.Destination, info.Source, info.Protocol), now);
            }

            return true;
        }

        if (!IsReportedError(in info) || !QuotedPacket.TryRead(packet.Slice(info.PayloadOffset, info.PayloadLength), out QuotedPacket quoted))
        {
            return false;
        }

        // The error reports a packet the namespace sent, so it quotes the flow in its outbound direction.
        if (quoted.Source != info.Destination)
        {
            return false;
        }

        return quoted.HasPorts
            ? _flows.TryGetValue(new FlowKey5(quoted.Source, quoted.Destination, quoted.SourcePort, quoted.DestinationPort, quoted.Protocol), out FlowEntry? e) && !e.IsExpired(now)
            : PairIsLive(PairKey(quoted.Source, quoted.Destination, quoted.Protocol), now);
    }

    /// <summary>
    /// An ICMP error the namespace sends about a packet of a live flow it received (a port unreachable, a "too big"),
    /// addressed to that flow's peer — the sender of the quoted packet — and to no one else: an error quoting a live
    /// flow but sent anywhere would be a channel out for anything that can write raw ICMP.
    /// </summary>
    private bool OutboundErrorBelongs(ReadOnlySpan<byte> packet, in IpPacketInfo info, long now)
    {
        if (!IsReportedError(in info) || !QuotedPacket.TryRead(packet.Slice(info.PayloadOffset, info.PayloadLength), out QuotedPacket quoted)
            || quoted.Destination != info.Source || quoted.Source != info.Destination)
        {
            return false;
        }

        return quoted.HasPorts
            ? _flows.TryGetValue(new FlowKey5(quoted.Destination, quoted.Source, quoted.DestinationPort, quoted.SourcePort, quoted.Protocol), out FlowEntry? e) && !e.IsExpired(now)
            : PairIsLive(PairKey(quoted.Destination, quoted.Source, quoted.Protocol), now);
    }

    /// <summary>
    /// The errors a flow may receive: ICMP destination unreachable, time exceeded, parameter problem (RFC 792 types 3,
    /// 11, 12); ICMPv6 destination unreachable, packet too big, time exceeded, parameter problem (RFC 4443 types 1–4).
    /// </summary>
    private static bool IsReportedError(in IpPacketInfo info) => info.HasTransportHeader && (info.Protocol == IpProtocol.Icmp
        ? info.IcmpType is 3 or 11 or 12
        : info.Protocol == IpProtocol.IcmpV6 && info.IcmpType is 1 or 2 or 3 or 4);

    private sealed class FlowEntry
    {
        private const int FinOut = 1;
        private const int FinIn = 2;

        public long LastSeen;
        public long Timeout;
        public int State;

        public FlowEntry(long now, long timeout)
        {
            LastSeen = now;
            Timeout = timeout;
        }

        public bool IsExpired(long now) => now - Volatile.Read(ref LastSeen) > Volatile.Read(ref Timeout);

        public void Reset(long now, long timeout)
        {
            Volatile.Write(ref State, 0);
            Volatile.Write(ref Timeout, timeout);
            Volatile.Write(ref LastSeen, now);
        }

        /// <summary>A RST ends the connection at once; a FIN each way ends it after the last ACK (RFC 9293 §3.6).</summary>
        public void NoteTcpFlags(byte flags, bool outbound, long closingTimeout, long fullTimeout)
        {
            if ((flags & (TcpFlagBits.Rst | TcpFlagBits.Fin | TcpFlagBits.Syn)) == 0)
            {
                return;
            }

            if (outbound && (flags & (TcpFlagBits.Syn | TcpFlagBits.Ack | TcpFlagBits.Rst)) == TcpFlagBits.Syn)
            {
                // A new connection on a closing 5-tuple (RFC 9293 §3.6.1 TIME-WAIT reuse) gets the full idle time back.
                Volatile.Write(ref State, 0);
                Volatile.Write(ref Timeout, fullTimeout);
                return;
            }

            int state = (flags & TcpFlagBits.Fin) != 0 ? Interlocked.Or(ref State, outbound ? FinOut : FinIn) | (outbound ? FinOut : FinIn) : Volatile.Read(ref State);
            if ((flags & TcpFlagBits.Rst) != 0 || (state & (FinOut | FinIn)) == (FinOut | FinIn))
            {
                if (Volatile.Read(ref Timeout) > closingTimeout)
                {
                    Volatile.Write(ref Timeout, closingTimeout);
                }
            }
        }
    }
}
