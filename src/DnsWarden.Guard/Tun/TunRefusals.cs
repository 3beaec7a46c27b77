using System.Globalization;
using DnsWarden.Resolver.Logging;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary>
/// Refused packets grouped by kind, protocol, destination and port, for the report at exit. Fed from the filter's
/// <see cref="TunFilter.Refused"/> event on the packet threads; at most <see cref="MaxGroups"/> groups, beyond that only counted.
/// </summary>
public sealed class TunRefusals
{
    public const int MaxGroups = 4096;

    private readonly Dictionary<RefusedPacket, long> _groups = [];
    private readonly Dictionary<RefusedPacket, DateTimeOffset> _firstSeen = [];
    private readonly Lock _gate = new();
    private long _total;
    private long _ungrouped;

    public long Total => Interlocked.Read(ref _total);

    /// <summary>Refusals whose group did not fit under <see cref="MaxGroups"/>.</summary>
    public long Ungrouped => Interlocked.Read(ref _ungrouped);

    public void Record(RefusedPacket packet)
    {
        Interlocked.Increment(ref _total);
        lock (_gate)
        {
            if (_groups.TryGetValue(packet, out long n))
            {
                _groups[packet] = n + 1;
                return;
            }

            if (_groups.Count < MaxGroups)
            {
                _groups[packet] = 1;
                _firstSeen[packet] = DateTimeOffset.UtcNow;
                return;
            }
        }

        Interlocked.Increment(ref _ungrouped);
    }

    /// <summary>The most frequent groups first, as the jail prints them: <c>refused unresolved tcp 203.0.113.9:80 ×3</c>.</summary>
    public IReadOnlyList<string> Describe(string prefix, int max = 20)
    {
        KeyValuePair<RefusedPacket, long>[] groups;
        lock (_gate)
        {
            groups = [.. _groups];
        }

        return [.. groups
            .OrderByDescending(g => g.Value)
            .ThenBy(g => g.Key.Destination)
            .Take(max)
            .Select(g => RefusalText.Line(prefix, KindName(g.Key.Kind), RefusalText.ProtocolName(g.Key.Protocol), g.Key.Destination.ToString(), g.Key.Port, g.Value))];
    }

    /// <summary>
    /// Each group as a <c>blocked_connection</c> line (the jail's vocabulary, docs/EVENTS.md) with its first packet's
    /// time and its <c>count</c>, in the order they were first seen; for the end of <c>--query-log</c>.
    /// </summary>
    public void WriteJsonLines(Stream target, QueryLogFormat format = QueryLogFormat.Json)
    {
        ArgumentNullException.ThrowIfNull(target);
        (RefusedPacket Packet, long Count, DateTimeOffset First)[] groups;
        lock (_gate)
        {
            groups = [.. _groups.Select(g => (g.Key, g.Value, _firstSeen[g.Key])).OrderBy(g => g.Item3)];
        }

        foreach ((RefusedPacket p, long count, DateTimeOffset first) in groups)
        {
            RefusalText.WriteLine(format, target, first, KindName(p.Kind), RefusalText.ProtocolName(p.Protocol), p.Destination.ToString(), p.Port, count: count);
        }
    }

    public static string KindName(RefusedKind kind) => kind switch
    {
        RefusedKind.Unresolved => "unresolved",
        RefusedKind.Quic => "quic",
        RefusedKind.NoService => "no-service",
        RefusedKind.SourceRouted => "source-routed",
        RefusedKind.Dot => "dot",
        _ => kind.ToString(),
    };
}
