using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>One connection attempt the jail refused: when, why (the rule's kind), protocol, destination and port.</summary>
public sealed record BlockedAttempt(DateTimeOffset Timestamp, string Kind, string Protocol, string Destination, int Port);

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
    private readonly List<BlockedAttempt> _attempts = [];
    private readonly Lock _gate = new();
    private volatile bool _stopping;
    private long _notKept;

    public BlockedAttempts(string netns)
    {
        _socket = NetworkNamespace.RunAsync(netns, () => NflogSocket.Open(Group)).GetAwaiter().GetResult();
        _reader = new Thread(Read) { IsBackground = true, Name = "dnsw jail nflog" };
        _reader.Start();
    }

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
    public void WriteJsonLines(Stream target)
    {
        foreach (BlockedAttempt a in Snapshot())
        {
            using (var json = new Utf8JsonWriter(target))
            {
                json.WriteStartObject();
                json.WriteString("ts", a.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
                json.WriteString("event", "blocked_connection");
                json.WriteString("kind", a.Kind);
                json.WriteString("protocol", a.Protocol);
                json.WriteString("dst", a.Destination);
                json.WriteNumber("port", a.Port);
                json.WriteEndObject();
            }

            target.WriteByte((byte)'\n');
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _reader.Join();
        _socket.Dispose();
    }

    private void Read()
    {
        byte[] buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            int n = _socket.Receive(buffer);
            if (n < 0)
            {
                return;
            }

            ReadOnlySpan<byte> rest = buffer.AsSpan(0, n);
            while (NflogSocket.TryReadNext(ref rest, out NflogPacket packet))
            {
                Record(packet);
            }
        }
    }

    private void Record(NflogPacket packet)
    {
        if (!PacketDecoder.TryDecode(LinkType.Raw, packet.Payload, out DecodedPacket decoded) || decoded.IpVersion == 0)
        {
            return;
        }

        string protocol = decoded.IpProtocol switch
        {
            IpProtocol.Tcp => "tcp",
            IpProtocol.Udp => "udp",
            IpProtocol.Icmp => "icmp",
            IpProtocol.IcmpV6 => "icmpv6",
            _ => ((int)decoded.IpProtocol).ToString(CultureInfo.InvariantCulture),
        };
        var attempt = new BlockedAttempt(DateTimeOffset.UtcNow, packet.Prefix, protocol, decoded.Destination.ToString(), decoded.HasTransportHeader ? decoded.DestinationPort : 0);
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
