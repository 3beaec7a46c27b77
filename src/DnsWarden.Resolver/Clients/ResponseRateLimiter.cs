using DnsWarden.Policy;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Clients;

/// <summary>
/// Response rate limiting per client prefix for UDP (after BIND's RRL): each prefix may take
/// <see cref="ResponsesPerSecond"/> answers a second with a burst of one second's worth; beyond that queries are
/// dropped, except every <see cref="Slip"/>-th, which gets a truncated answer (no larger than the query) so a real
/// client whose address was spoofed can still ask over TCP. A reflected flood then carries at most that rate of
/// full answers to a victim, and one client's flood does not use up the resolver for the others. TCP is not limited
/// (a handshake proves the address). Loopback clients are exempt: a packet from outside cannot carry a loopback source.
/// </summary>
/// <remarks>
/// The state is a fixed table (no allocation after construction): 4-way buckets of prefixes, each with its GCRA
/// "theoretical arrival time" (one number per prefix: a response is allowed while it is less than one second ahead
/// of now). A new prefix takes the slot of the idlest one in its bucket, so a flood of spoofed prefixes pushes out
/// quiet clients before a busy flooder. One lock per group of buckets.
/// </remarks>
public sealed class ResponseRateLimiter
{
    private const int Slots = 1 << 14;
    private const int Ways = 4;
    private const int LockCount = 256;

    private readonly IpAddr[] _keys = new IpAddr[Slots];
    private readonly long[] _arrival = new long[Slots];
    private readonly int[] _limited = new int[Slots];
    private readonly bool[] _used = new bool[Slots];
    private readonly Lock[] _locks = new Lock[LockCount];
    private readonly TimeProvider _time;
    private readonly long _interval;
    private readonly long _tolerance;
    private readonly ulong _v4LowMask;
    private readonly ulong _v6HighMask;
    private readonly ulong _v6LowMask;

    /// <param name="responsesPerSecond">Answers a second per prefix (<see cref="ProxyConfig.DefaultRateLimitResponsesPerSecond"/> for the proxy).</param>
    /// <param name="slip">Every this many limited queries one gets a truncated answer; 0 drops them all.</param>
    /// <param name="v4Prefix">IPv4 clients share a budget per prefix of this length.</param>
    /// <param name="v6Prefix">IPv6 clients share a budget per prefix of this length.</param>
    /// <param name="time">The clock; the system's by default.</param>
    public ResponseRateLimiter(int responsesPerSecond, int slip, int v4Prefix, int v6Prefix, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(responsesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(slip);
        ArgumentOutOfRangeException.ThrowIfLessThan(v4Prefix, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(v4Prefix, 32);
        ArgumentOutOfRangeException.ThrowIfLessThan(v6Prefix, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(v6Prefix, 128);
        ResponsesPerSecond = responsesPerSecond;
        Slip = slip;
        V4Prefix = v4Prefix;
        V6Prefix = v6Prefix;
        _time = time ?? TimeProvider.System;
        _interval = Math.Max(1, _time.TimestampFrequency / responsesPerSecond);
        _tolerance = _interval * (responsesPerSecond - 1);
        _v4LowMask = 0xFFFF_FFFF_0000_0000UL | (0xFFFF_FFFFUL << (32 - v4Prefix) & 0xFFFF_FFFFUL);
        _v6HighMask = v6Prefix >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - v6Prefix);
        _v6LowMask = v6Prefix <= 64 ? 0 : v6Prefix == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - v6Prefix);
        for (int i = 0; i < _locks.Length; i++)
        {
            _locks[i] = new Lock();
        }
    }

    public int ResponsesPerSecond { get; }

    /// <summary>Every this many limited queries one gets a truncated answer; 0 drops them all.</summary>
    public int Slip { get; }

    public int V4Prefix { get; }

    public int V6Prefix { get; }

    /// <summary>Counts one response to <paramref name="client"/> against its prefix and says whether to send it.</summary>
    public RateVerdict Check(IpAddr client)
    {
        if (IsLoopback(client))
        {
            return RateVerdict.Answer;
        }

        IpAddr key = client.IsV4
            ? IpAddr.FromV6(client.High, client.Low & _v4LowMask)
            : IpAddr.FromV6(client.High & _v6HighMask, client.Low & _v6LowMask);
        int group = (key.GetHashCode() & (Slots - 1)) & ~(Ways - 1);
        long now = _time.GetTimestamp();
        lock (_locks[(group / Ways) & (LockCount - 1)])
        {
            int slot = Find(group, key, now);
            long arrival = Math.Max(_arrival[slot], now);
            if (arrival - now > _tolerance)
            {
                int limited = ++_limited[slot];
                return Slip > 0 && limited % Slip == 0 ? RateVerdict.Slip : RateVerdict.Drop;
            }

            _arrival[slot] = arrival + _interval;
            return RateVerdict.Answer;
        }
    }

    // The prefix's slot in its bucket, or the idlest slot (earliest arrival time) given to it. Call under the lock.
    private int Find(int group, IpAddr key, long now)
    {
        int victim = group;
        for (int i = group; i < group + Ways; i++)
        {
            if (_used[i] && _keys[i] == key)
            {
                return i;
            }

            if (!_used[i] || (_used[victim] && _arrival[i] < _arrival[victim]))
            {
                victim = i;
            }
        }

        _used[victim] = true;
        _keys[victim] = key;
        _arrival[victim] = now;
        _limited[victim] = 0;
        return victim;
    }

    private static bool IsLoopback(IpAddr a) =>
        a.IsV4 ? a.V4 >> 24 == 127 : a.High == 0 && a.Low == 1;
}
