using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Classify;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Flows;

/// <summary>What the flow tracker tells the rules.</summary>
public interface IFlowSink
{
    /// <summary>A client opened a TCP connection (a SYN without ACK; retransmitted SYNs come again).</summary>
    public void OnConnectionStart(long frameNumber, in FrameOrigin origin, in FlowKey5 clientFlow);

    /// <summary>A tracked flow ended: both FINs, a RST, idle eviction, or the end of the input.</summary>
    public void OnFlowEnd(TcpFlowState flow);
}

/// <summary>One tracked TCP connection on a DoT/HTTPS port, oriented client → server.</summary>
public sealed class TcpFlowState
{
    internal TcpFlowState(FlowKey5 client, FrameOrigin origin, long frame, bool synSeen)
    {
        Client = client;
        StartOrigin = origin;
        StartFrame = frame;
        LastSeenNs = origin.TimestampNs;
        SynSeen = synSeen;
    }

    public FlowKey5 Client { get; }

    public FrameOrigin StartOrigin { get; }

    public long StartFrame { get; }

    public long LastSeenNs { get; internal set; }

    public bool SynSeen { get; }

    /// <summary>The ClientHello, once seen: its frame, origin, server name and ALPN, and how it was classified.</summary>
    public bool HelloSeen { get; internal set; }

    public long HelloFrame { get; internal set; }

    public FrameOrigin HelloOrigin { get; internal set; }

    public string? ServerName { get; internal set; }

    public IReadOnlyList<string> Alpn { get; internal set; } = [];

    /// <summary>Set by the rules when the hello already decided the flow (so the end need not).</summary>
    public bool Decided { get; set; }

    private int _finCount;
    private int _burstIndex = -1;
    private bool _lastFromClient;
    private int _currentBurst;
    private int _exchanges;
    private int _maxClientBurst;
    private int _maxServerBurst;
    private long _serverBytes;
    private int _http2Frames;

    /// <summary>True at the second FIN: both directions closed.</summary>
    internal bool CountFin() => ++_finCount >= 2;

    public TlsShape Shape => new(_exchanges, _maxClientBurst, _maxServerBurst, _serverBytes, _http2Frames);

    /// <summary>Per-direction bursts: burst 0 is the client's hello flight, burst 1 the server's handshake flight; later ones are measured.</summary>
    internal void AddPayload(bool fromClient, int length)
    {
        if (_burstIndex < 0 || fromClient != _lastFromClient)
        {
            CloseBurst();
            _burstIndex++;
            _lastFromClient = fromClient;
            _currentBurst = 0;
        }

        _currentBurst += length;
        if (_burstIndex >= 2 && TransportClassifier.IsEmptyHttp2FrameRecord(length))
        {
            _http2Frames++;
        }
    }

    internal void CloseBurst()
    {
        if (_burstIndex < 2 || _currentBurst == 0)
        {
            return;
        }

        if (_lastFromClient)
        {
            _maxClientBurst = Math.Max(_maxClientBurst, _currentBurst);
        }
        else
        {
            _maxServerBurst = Math.Max(_maxServerBurst, _currentBurst);
            _serverBytes += _currentBurst;
            if (_burstIndex >= 3)
            {
                _exchanges++;
            }
        }

        _currentBurst = 0;
    }
}

/// <summary>
/// Tracks TCP connections on the encrypted-DNS ports (853, 443) from their SYN or ClientHello to their end, measuring
/// the burst shape the DoH heuristic needs, and reports every connection start (any port) for Leak-D.
/// Memory is bounded: at most <see cref="MaxFlows"/> flows, idle ones evicted on packet time.
/// </summary>
public sealed class FlowTracker(IFlowSink sink) : ISegmentObserver
{
    public const int MaxFlows = 65536;
    public static readonly long IdleTimeoutNs = TimeSpan.FromSeconds(120).Ticks * 100;
    private const long SweepIntervalNs = 1_000_000_000L;

    private readonly Dictionary<FlowKey5, TcpFlowState> _flows = [];
    private readonly List<FlowKey5> _expired = [];
    private long _lastSweepNs;

    public int Count => _flows.Count;

    /// <summary>Connections not tracked because the table was full (counted, reported in the summary).</summary>
    public long Dropped { get; private set; }

    public void OnTcpSegment(long frameNumber, in FrameOrigin origin, in FlowKey5 flow, TcpFlags flags, int payloadLength)
    {
        if (origin.TimestampNs - _lastSweepNs > SweepIntervalNs)
        {
            _lastSweepNs = origin.TimestampNs;
            Sweep(origin.TimestampNs - IdleTimeoutNs);
        }

        bool syn = (flags & TcpFlags.Syn) != 0 && (flags & TcpFlags.Ack) == 0;
        if (syn)
        {
            sink.OnConnectionStart(frameNumber, in origin, in flow);
        }

        // Only connections to the encrypted-DNS ports are tracked: other segments need no lookup.
        if (!IsTracked(flow.DestinationPort) && !IsTracked(flow.SourcePort))
        {
            return;
        }

        bool fromClient;
        if (_flows.TryGetValue(flow, out TcpFlowState? state))
        {
            fromClient = true;
        }
        else if (_flows.TryGetValue(flow.Reversed, out state))
        {
            fromClient = false;
        }
        else if (syn && IsTracked(flow.DestinationPort))
        {
            state = Add(flow, origin, frameNumber, synSeen: true);
            if (state is null)
            {
                return;
            }

            fromClient = true;
        }
        else
        {
            return;
        }

        state.LastSeenNs = origin.TimestampNs;
        if (payloadLength > 0)
        {
            state.AddPayload(fromClient, payloadLength);
        }

        if ((flags & TcpFlags.Rst) != 0 || ((flags & TcpFlags.Fin) != 0 && state.CountFin()))
        {
            End(state);
        }
    }

    /// <summary>Records a ClientHello; creates the flow when its SYN was not seen (capture started mid-connection).</summary>
    /// <returns>The flow, or null when the table is full.</returns>
    public TcpFlowState? OnClientHello(long frameNumber, in FrameOrigin origin, in FlowKey5 clientFlow, string? serverName, IReadOnlyList<string> alpn)
    {
        TcpFlowState? state = _flows.GetValueOrDefault(clientFlow) ?? Add(clientFlow, origin, frameNumber, synSeen: false);
        if (state is null)
        {
            return null;
        }

        state.HelloSeen = true;
        state.HelloFrame = frameNumber;
        state.HelloOrigin = origin;
        state.ServerName = serverName;
        state.Alpn = alpn;
        return state;
    }

    /// <summary>Ends every flow (end of input), oldest first.</summary>
    public void Complete()
    {
        foreach (TcpFlowState s in _flows.Values.OrderBy(f => f.StartFrame).ToList())
        {
            End(s);
        }
    }

    private static bool IsTracked(ushort port) => port is TransportClassifier.DotPort or TransportClassifier.HttpsPort;

    private TcpFlowState? Add(in FlowKey5 flow, in FrameOrigin origin, long frame, bool synSeen)
    {
        if (_flows.Count >= MaxFlows)
        {
            Dropped++;
            return null;
        }

        var state = new TcpFlowState(flow, origin, frame, synSeen);
        _flows[flow] = state;
        return state;
    }

    private void End(TcpFlowState state)
    {
        if (!_flows.Remove(state.Client))
        {
            return;
        }

        state.CloseBurst();
        sink.OnFlowEnd(state);
    }

    private void Sweep(long idleBeforeNs)
    {
        foreach (KeyValuePair<FlowKey5, TcpFlowState> kv in _flows)
        {
            if (kv.Value.LastSeenNs < idleBeforeNs)
            {
                _expired.Add(kv.Key);
            }
        }

        foreach (FlowKey5 key in _expired)
        {
            if (_flows.TryGetValue(key, out TcpFlowState? s))
            {
                End(s);
            }
        }

        _expired.Clear();
    }
}
