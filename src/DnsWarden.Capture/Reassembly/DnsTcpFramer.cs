using System.Buffers;
using System.Buffers.Binary;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Reassembly;

/// <summary>Receives one whole DNS message; the span is valid only during the call.</summary>
public delegate void DnsTcpMessageHandler(in FlowKey5 flow, ReadOnlySpan<byte> message, long timestampNs);

/// <summary>
/// Splits the in-order bytes of DNS-over-TCP streams into messages: each is preceded by a two-byte
/// big-endian length (RFC 1035 §4.2.2, RFC 7766 §8). Whole messages inside one chunk are handed over
/// without copying; only a message split across chunks is gathered in a pooled buffer.
/// </summary>
public sealed class DnsTcpFramer : ITcpStreamConsumer
{
    /// <summary>A DNS message is at least its 12-byte header (RFC 1035 §4.1.1).</summary>
    public const int MinMessageLength = 12;

    private readonly DnsTcpMessageHandler _onMessage;
    private readonly int _maxMessageLength;
    private readonly Dictionary<FlowKey5, Partial> _partials = [];

    public DnsTcpFramer(DnsTcpMessageHandler onMessage, int maxMessageLength = ushort.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(onMessage);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageLength, MinMessageLength);
        _onMessage = onMessage;
        _maxMessageLength = maxMessageLength;
    }

    public long Messages { get; private set; }

    /// <summary>Length prefixes of 0, below the DNS header size, or above the maximum; their bytes are skipped.</summary>
    public long Malformed { get; private set; }

    /// <summary>Directions abandoned after a gap, since message boundaries are lost.</summary>
    public long Desynchronized { get; private set; }

    /// <summary>Directions holding a partial message right now.</summary>
    public int PartialCount => _partials.Count;

    public void OnData(in FlowKey5 flow, ReadOnlySpan<byte> data, long timestampNs)
    {
        if (_partials.TryGetValue(flow, out Partial? p))
        {
            if (p.Desynchronized)
            {
                return;
            }

            data = Continue(flow, p, data, timestampNs);
            if (p.Filled != 0)
            {
                return;
            }

            p.ReleaseBuffer();
            _partials.Remove(flow);
        }

        while (data.Length >= 2)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(data);
            if (data.Length - 2 < length)
            {
                break;
            }

            Emit(flow, data.Slice(2, length), length, timestampNs);
            data = data.Slice(2 + length);
        }

        if (!data.IsEmpty)
        {
            p = new Partial();
            _partials.Add(flow, p);
            Continue(flow, p, data, timestampNs);
        }
    }

    public void OnGap(in FlowKey5 flow, long missingBytes, long timestampNs)
    {
        if (!_partials.TryGetValue(flow, out Partial? p))
        {
            p = new Partial();
            _partials.Add(flow, p);
        }

        if (!p.Desynchronized)
        {
            Desynchronized++;
            p.Desynchronized = true;
            p.ReleaseBuffer();
        }
    }

    public void OnClosed(in FlowKey5 flow, TcpCloseReason reason, long timestampNs)
    {
        if (_partials.Remove(flow, out Partial? p))
        {
            p.ReleaseBuffer();
        }
    }

    /// <summary>Adds bytes to a partial message; returns what is left after it completes.</summary>
    private ReadOnlySpan<byte> Continue(scoped in FlowKey5 flow, Partial p, ReadOnlySpan<byte> data, long timestampNs)
    {
        while (!data.IsEmpty)
        {
            int need = p.Filled < 2 ? 2 : 2 + BinaryPrimitives.ReadUInt16BigEndian(p.Buffer);
            p.EnsureCapacity(need);
            int take = Math.Min(need - p.Filled, data.Length);
            data.Slice(0, take).CopyTo(p.Buffer.AsSpan(p.Filled));
            p.Filled += take;
            data = data.Slice(take);
            if (p.Filled < 2)
            {
                continue;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(p.Buffer);
            if (p.Filled == 2 + length)
            {
                Emit(flow, p.Buffer.AsSpan(2, length), length, timestampNs);
                p.Filled = 0;
                return data;
            }
        }

        return data;
    }

    private void Emit(in FlowKey5 flow, ReadOnlySpan<byte> message, int length, long timestampNs)
    {
        if (length < MinMessageLength || length > _maxMessageLength)
        {
            Malformed++;
            return;
        }

        Messages++;
        _onMessage(flow, message, timestampNs);
    }

    private sealed class Partial
    {
        public byte[] Buffer { get; private set; } = [];

        public int Filled { get; set; }

        public bool Desynchronized { get; set; }

        public void EnsureCapacity(int length)
        {
            if (Buffer.Length >= length)
            {
                return;
            }

            byte[] grown = ArrayPool<byte>.Shared.Rent(Math.Max(length, 512));
            Buffer.AsSpan(0, Filled).CopyTo(grown);
            ReleaseBuffer();
            Buffer = grown;
        }

        public void ReleaseBuffer()
        {
            if (Buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = [];
            }
        }
    }
}
