using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Indicators;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Resolver.Logging;
using DnsWarden.Wire.Packets;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// One packet the jail refused: when, why (the rule's kind: dot, quic, unresolved, multicast, routing, ipoptions,
/// inbound), protocol, destination and port; for an inbound one also where it came from.
/// </summary>
public sealed record BlockedAttempt(DateTimeOffset Timestamp, string Kind, string Protocol, string Destination, int Port)
{
    /// <summary>The sender of a refused inbound packet (someone trying to reach the jail); null for the jail's own attempts.</summary>
    public string? Source { get; init; }
}

/// <summary>
/// Reads the jail's NFLOG group (every refused packet is logged there by the egress rules) on a thread of its own
/// and keeps what was refused, bounded (<see cref="MaxKept"/>; beyond that only counted).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BlockedAttempts : IDisposable
{
    /// <summary>The NFLOG group the jail's rules log to (groups are per network namespace).</summary>
    public const ushort Group = 7;

    public const int MaxKept = 10_000;

    private readonly NflogSocket _socket;
    private readonly Thread _reader;
    private bool _started;
    private readonly List<BlockedAttempt> _attempts = [];
    private readonly Lock _gate = new();
    private readonly Action<BlockedAttempt>? _onAttempt;
    private volatile bool _stopping;
    private long _notKept;
    private long _unreadable;

    /// <param name="onAttempt">Also called with every attempt, kept or not (the exporter); must not block.</param>
    public BlockedAttempts(string netns, Action<BlockedAttempt>? onAttempt = null)
    {
        _onAttempt = onAttempt;
        _socket = NetworkNamespace.RunAsync(netns, () => NflogSocket.Open(Group, CopyRange)).GetAwaiter().GetResult();
        _reader = new Thread(Read) { IsBackground = true, Name = "dnsw jail nflog" };
    }

    /// <summary>Starts reading the refused packets (their headers are the jail's bytes: read once the run has dropped to nobody).</summary>
    public void Start()
    {
        _started = true;
        _reader.Start();
    }

    /// <summary>How many bytes of each refused packet the kernel copies: enough for IPv6 with extension headers and a TCP header with options.</summary>
    public const int CopyRange = 256;

    /// <summary>Refused packets whose headers could not be read (counted, never guessed at).</summary>
    public long Unreadable => Interlocked.Read(ref _unreadable);

    /// <summary>Attempts past <see cref="MaxKept"/>, counted only.</summary>
    public long NotKept => Interlocked.Read(ref _notKept);

    public IReadOnlyList<BlockedAttempt> Snapshot()
    {
        lock (_gate)
        {
            return [.. _attempts];
        }
    }

    /// <summary>Writes each attempt as a JSON line (<c>"event": "blocked_connection"</c>).</summary>
    public void WriteJsonLines(Stream target, QueryLogFormat format = QueryLogFormat.Json)
    {
        foreach (BlockedAttempt a in Snapshot())
        {
            RefusalText.WriteLine(format, target, a.Timestamp, a.Kind, a.Protocol, a.Destination, a.Port, a.Source);
        }
    }

    /// <summary>
    /// Takes what the kernel has queued now and stops reading. The queue threshold is one packet, so every packet
    /// refused before the command exited is already in the socket: no waiting for the reader's next wake-up.
    /// </summary>
    public void Finish()
    {
        _stopping = true;
        byte[] buffer = new byte[64 * 1024];
        while (_socket.ReceiveQueued(buffer) is int n && n > 0)
        {
            RecordAll(buffer.AsSpan(0, n));
        }
    }

    public void Dispose()
    {
        _stopping = true;
        if (!_started || _reader.Join(0))
        {
            _socket.Dispose();
        }

        // Otherwise the reader, blocked for at most its receive timeout, closes the socket itself: closing it under
        // a blocked recv would neither wake it nor keep the descriptor number from being reused meanwhile.
    }

    private void Read()
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (!_stopping)
            {
                int n = _socket.Receive(buffer);
                if (n < 0)
                {
                    return;
                }

                RecordAll(buffer.AsSpan(0, n));
            }
        }
        finally
        {
            _socket.Dispose();
        }
    }

    private void RecordAll(ReadOnlySpan<byte> received)
    {
        while (NflogSocket.TryReadNext(ref received, out NflogPacket packet))
        {
            Record(packet);
        }
    }

    private void Record(NflogPacket packet)
    {
        // The kernel copies only the packet's start (CopyRange): its headers are read from that, whatever its length.
        if (!IpPacket.TryReadHeaders(packet.Payload, out IpPacketInfo info, out _))
        {
            Interlocked.Increment(ref _unreadable);
            return;
        }

        string protocol = RefusalText.ProtocolName(info.Protocol);
        var attempt = new BlockedAttempt(DateTimeOffset.UtcNow, packet.Prefix, protocol, info.Destination.ToString(), info.HasTransportHeader && !info.IsLaterFragment ? info.DestinationPort : 0)
        {
            Source = packet.Prefix == "inbound" ? info.Source.ToString() : null,
        };
        _onAttempt?.Invoke(attempt);
        lock (_gate)
        {
            if (_attempts.Count < MaxKept)
            {
                _attempts.Add(attempt);
                return;
            }
        }

        Interlocked.Increment(ref _notKept);
    }
}
