using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using DnsWarden.Platform.Interop.Linux.Bpf;

namespace DnsWarden.Platform;

/// <summary>
/// A flow as the send-time records name it: the network namespace (its cookie), the protocol, the destination and
/// both ports. The source address is left out on purpose: an unbound socket has none until the route is chosen,
/// and the source port with the destination and namespace already tells one socket from another.
/// </summary>
internal readonly record struct SendFlowKey(ulong Netns, UInt128 Destination, ushort DestinationPort, ushort SourcePort, byte Protocol)
{
    public const byte Tcp = 6;
    public const byte Udp = 17;

    public static SendFlowKey Of(in DnswSendRecord record) => new(
        record.Key.Netns,
        MemoryMarshal.Read<UInt128>(record.Key.DestinationAddress),
        record.Key.DestinationPort,
        record.Key.SourcePort,
        record.Key.Protocol);

    /// <summary>The key of a packet seen in namespace <paramref name="netns"/>, from this host's side (the sender).</summary>
    public static SendFlowKey Of(ulong netns, SocketProtocol protocol, IPAddress remote, ushort remotePort, ushort localPort)
    {
        Span<byte> address = stackalloc byte[16];
        WriteMapped(remote, address);
        return new(netns, MemoryMarshal.Read<UInt128>(address), remotePort, localPort, protocol == SocketProtocol.Tcp ? Tcp : Udp);
    }

    /// <summary>16 bytes, IPv4 as ::ffff:a.b.c.d: the form the BPF program writes.</summary>
    public static void WriteMapped(IPAddress address, Span<byte> destination)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            destination[..10].Clear();
            destination[10] = 0xff;
            destination[11] = 0xff;
            _ = address.TryWriteBytes(destination[12..], out _);
        }
        else
        {
            _ = address.TryWriteBytes(destination, out _);
        }
    }
}

/// <summary>
/// The senders the kernel reported, by flow, for the pipeline to read at packet time. Only this namespace's flows
/// are kept: the programs sit at the cgroup root and see every namespace, where the same 5-tuple can mean another
/// socket. Bounded in entries and age; a newer record for a flow replaces the older (a reused port is a new socket).
/// Not thread-safe: the owner locks.
/// </summary>
internal sealed class SendRecordTable(ulong netns, int capacity, TimeSpan lifetime)
{
    private readonly Dictionary<SendFlowKey, (ProcessFacts Facts, long Stamp)> _entries = [];
    private readonly long _lifetimeTicks = (long)(lifetime.TotalSeconds * Stopwatch.Frequency);

    public ulong Netns => netns;

    public int Count => _entries.Count;

    /// <summary>Records of other namespaces, not kept.</summary>
    public long OtherNamespaces { get; private set; }

    /// <summary>Entries dropped to stay within the capacity before their age was up.</summary>
    public long Evicted { get; private set; }

    /// <summary>Whether a record is this namespace's; another's is counted and not to be kept.</summary>
    public bool IsOwn(in SendFlowKey key)
    {
        if (key.Netns == netns)
        {
            return true;
        }

        OtherNamespaces++;
        return false;
    }

    /// <summary>False (and not kept) when the record is another namespace's.</summary>
    public bool Add(SendFlowKey key, ProcessFacts facts, long stamp)
    {
        if (!IsOwn(in key))
        {
            return false;
        }

        if (_entries.Count >= capacity && !_entries.ContainsKey(key))
        {
            Trim(stamp);
        }

        _entries[key] = (facts, stamp);
        return true;
    }

    public bool TryFind(SendFlowKey key, long now, out ProcessFacts? facts)
    {
        if (_entries.TryGetValue(key, out (ProcessFacts Facts, long Stamp) hit) && now - hit.Stamp < _lifetimeTicks)
        {
            facts = hit.Facts;
            return true;
        }

        facts = null;
        return false;
    }

    /// <summary>Drops what is past its age; when everything is young, the older half (a burst of new flows outlives the table).</summary>
    private void Trim(long now)
    {
        int before = _entries.Count;
        foreach (KeyValuePair<SendFlowKey, (ProcessFacts Facts, long Stamp)> kv in _entries)
        {
            if (now - kv.Value.Stamp >= _lifetimeTicks)
            {
                _entries.Remove(kv.Key);
            }
        }

        if (_entries.Count >= capacity)
        {
            long[] stamps = [.. _entries.Values.Select(v => v.Stamp)];
            Array.Sort(stamps);
            long median = stamps[stamps.Length / 2];
            foreach (KeyValuePair<SendFlowKey, (ProcessFacts Facts, long Stamp)> kv in _entries)
            {
                if (kv.Value.Stamp <= median)
                {
                    _entries.Remove(kv.Key);
                }
            }

            Evicted += before - _entries.Count;
        }
    }
}
