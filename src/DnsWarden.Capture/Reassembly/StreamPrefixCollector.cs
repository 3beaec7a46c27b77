using System.Buffers;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Reassembly;

/// <summary>
/// Called whenever a direction's prefix grew. Return true to keep collecting, false once the prefix
/// has been used (e.g. a TLS ClientHello was parsed) so its memory is released.
/// </summary>
public delegate bool StreamPrefixHandler(in FlowKey5 flow, ReadOnlySpan<byte> prefix, bool isFull, long timestampNs);

/// <summary>
/// Keeps the first N bytes of each stream direction, so a message spread over several segments (a TLS
/// ClientHello, an HTTP request line) can be parsed once enough bytes exist. The parser lives elsewhere.
/// </summary>
public sealed class StreamPrefixCollector : ITcpStreamConsumer
{
    public const int DefaultPrefixLength = 16 * 1024;

    private const int InitialBufferSize = 1024;

    private readonly StreamPrefixHandler? _onGrew;
    private readonly int _prefixLength;
    private readonly Dictionary<FlowKey5, Prefix> _prefixes = [];

    public StreamPrefixCollector(StreamPrefixHandler? onGrew = null, int prefixLength = DefaultPrefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixLength, 1);
        _onGrew = onGrew;
        _prefixLength = prefixLength;
    }

    public int PrefixLength => _prefixLength;

    /// <summary>Directions tracked (collecting, full, or done and waiting for their close).</summary>
    public int Count => _prefixes.Count;

    /// <summary>The bytes collected so far for <paramref name="flow"/>; empty and false when none are held.</summary>
    public bool TryGetPrefix(in FlowKey5 flow, out ReadOnlySpan<byte> prefix)
    {
        if (_prefixes.TryGetValue(flow, out Prefix? p) && p.Buffer.Length > 0)
        {
            prefix = p.Buffer.AsSpan(0, p.Filled);
            return true;
        }

        prefix = default;
        return false;
    }

    public void OnData(in FlowKey5 flow, ReadOnlySpan<byte> data, long timestampNs)
    {
        if (!_prefixes.TryGetValue(flow, out Prefix? p))
        {
            p = new Prefix();
            _prefixes.Add(flow, p);
        }

        if (p.Stopped || p.Filled >= _prefixLength)
        {
            return;
        }

        int take = Math.Min(_prefixLength - p.Filled, data.Length);
        if (p.Buffer.Length < p.Filled + take)
        {
            int size = Math.Min(_prefixLength, Math.Max(p.Filled + take, Math.Max(InitialBufferSize, p.Buffer.Length * 2)));
            byte[] grown = ArrayPool<byte>.Shared.Rent(size);
            p.Buffer.AsSpan(0, p.Filled).CopyTo(grown);
            p.Release();
            p.Buffer = grown;
        }

        data.Slice(0, take).CopyTo(p.Buffer.AsSpan(p.Filled));
        p.Filled += take;
        if (_onGrew is not null && !_onGrew(flow, p.Buffer.AsSpan(0, p.Filled), p.Filled >= _prefixLength, timestampNs))
        {
            p.Stopped = true;
            p.Release();
        }
    }

    public void OnGap(in FlowKey5 flow, long missingBytes, long timestampNs)
    {
        // Bytes after a hole are not a prefix of the stream: keep what we have, add nothing more.
        if (!_prefixes.TryGetValue(flow, out Prefix? p))
        {
            p = new Prefix();
            _prefixes.Add(flow, p);
        }

        p.Stopped = true;
    }

    public void OnClosed(in FlowKey5 flow, TcpCloseReason reason, long timestampNs)
    {
        if (_prefixes.Remove(flow, out Prefix? p))
        {
            p.Release();
        }
    }

    private sealed class Prefix
    {
        public byte[] Buffer { get; set; } = [];

        public int Filled { get; set; }

        public bool Stopped { get; set; }

        public void Release()
        {
            if (Buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = [];
                if (Stopped)
                {
                    Filled = 0;
                }
            }
        }
    }
}

/// <summary>Hands every stream event to several consumers in order (e.g. a DNS framer and a prefix collector).</summary>
public sealed class TcpStreamFanout(params ITcpStreamConsumer[] consumers) : ITcpStreamConsumer
{
    private readonly ITcpStreamConsumer[] _consumers = consumers;

    public void OnData(in FlowKey5 flow, ReadOnlySpan<byte> data, long timestampNs)
    {
        foreach (ITcpStreamConsumer c in _consumers)
        {
            c.OnData(flow, data, timestampNs);
        }
    }

    public void OnGap(in FlowKey5 flow, long missingBytes, long timestampNs)
    {
        foreach (ITcpStreamConsumer c in _consumers)
        {
            c.OnGap(flow, missingBytes, timestampNs);
        }
    }

    public void OnClosed(in FlowKey5 flow, TcpCloseReason reason, long timestampNs)
    {
        foreach (ITcpStreamConsumer c in _consumers)
        {
            c.OnClosed(flow, reason, timestampNs);
        }
    }
}
