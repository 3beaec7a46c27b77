using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Leak.Evidence;

/// <summary>
/// Writes the packets behind each event to a pcapng (<c>leak watch --write-pcap</c>): a DNS event's query and answer,
/// a Leak-C's and a Leak-D's first packets of the connection (SYN, handshake, ClientHello…), each packet on an
/// interface block of its own interface, with its original time and an opt_comment naming the event
/// (<c>dnsw event N: Leak-X Pn correlation qF; role, capture frame F</c>).
/// <para>
/// Events are decided after the packets that prove them went by (a Leak-D names a DNS answer seconds or an hour
/// old), so the first packets of every flow are kept in a buffer keyed by flow — a UDP DNS transaction by its
/// 5-tuple and ID — bounded by <see cref="EvidenceLimits"/>: at most <see cref="EvidenceLimits.MaxFramesPerFlow"/>
/// packets a flow and a byte budget per pool, the oldest flow dropped first. A flow named by an event has its later
/// packets written as they come, up to the same per-flow bound. Part of <see cref="LeakPipeline"/>: live capture and
/// files alike; single-threaded like the pipeline.
/// </para>
/// </summary>
public sealed class EvidenceRecorder
{
    /// <summary>An estimate of a flow's bookkeeping (its object, list and table slots), charged to its pool.</summary>
    private const int FlowOverhead = 256;

    /// <summary>An estimate of a kept frame's bookkeeping (array header, record, frame-index slot).</summary>
    private const int FrameOverhead = 96;

    /// <summary>Fragment keys remembered (to put a datagram's later fragments with its first); cleared when full.</summary>
    private const int MaxFragmentKeys = 4096;

    private const ushort DnsPort = 53;

    private readonly PcapNgWriter _writer;
    private readonly EvidenceLimits _limits;
    private readonly bool _flushEachWrite;
    private readonly FrameNumbering? _frames;
    private readonly Dictionary<FlowSlot, FlowEvidence> _flows = [];
    private readonly Dictionary<long, FlowEvidence> _byFrame = [];
    private readonly Dictionary<(IpAddr, IpAddr, IpProtocol, uint), FlowEvidence> _fragments = [];
    private readonly Pool _dnsPool;
    private readonly Pool _flowPool;
    private readonly Dictionary<(string Name, LinkType Link), int> _interfaces = [];
    private readonly List<(FlowEvidence? Flow, Claim Claim, bool Again)> _pending = [];
    private readonly List<string> _comments = [];

    // The frame being processed: events fire inside it, and one that names it finds it here even when its flow is past
    // the per-flow bound.
    private long _currentFrame = -1;
    private FrameOrigin _currentOrigin;
    private FlowEvidence? _currentFlow;
    private int _currentIndex = -1;
    private bool _currentFromClient;
    private bool _currentHasPayload;
    private int _events;

    /// <param name="writer">Where the evidence goes; owned by the caller.</param>
    /// <param name="limits">The buffer's bounds.</param>
    /// <param name="flushEachWrite">Flush after each batch of packets (live capture: a watch that is killed keeps what it wrote).</param>
    /// <param name="frames">Several capture files: the comments name each frame in its own file's numbering.</param>
    public EvidenceRecorder(PcapNgWriter writer, EvidenceLimits? limits = null, bool flushEachWrite = false, FrameNumbering? frames = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
        _frames = frames;
        _limits = limits ?? EvidenceLimits.Default;
        _flushEachWrite = flushEachWrite;
        _dnsPool = new Pool(_limits.MaxDnsBytes);
        _flowPool = new Pool(_limits.MaxFlowBytes);
    }

    public EvidenceStats Stats { get; } = new();

    /// <summary>Why the evidence file stopped being written (the disk is full, say); null while it is written.</summary>
    public string? WriteError { get; private set; }

    /// <summary>What the buffer holds now, bookkeeping included.</summary>
    public long RetainedBytes => _dnsPool.Bytes + _flowPool.Bytes;

    /// <summary>The comment every packet of event <paramref name="eventNumber"/> starts with (its number is its line in the events file).</summary>
    public static string CommentPrefix(int eventNumber) =>
        "dnsw event " + eventNumber.ToString(CultureInfo.InvariantCulture) + ":";

    /// <summary>Sees a frame before the dissector does: keeps it when it is among its flow's first packets.</summary>
    internal void FrameStart(long frameNumber, in FrameOrigin origin, ReadOnlySpan<byte> frame)
    {
        _currentFrame = frameNumber;
        _currentOrigin = origin;
        _currentFlow = null;
        _currentIndex = -1;
        _currentFromClient = true;
        _currentHasPayload = true;
        if (!PacketDecoder.TryDecode(origin.LinkType, frame, out DecodedPacket packet) || packet.IpVersion == 0
            || packet.IpProtocol is not (IpProtocol.Udp or IpProtocol.Tcp))
        {
            return;
        }

        FlowEvidence? flow;
        bool fromClient = true;
        if (packet.IsFragment && packet.FragmentOffset != 0)
        {
            // A later fragment has no ports: it joins the flow its first fragment went to (or waits for it).
            var fragment = (packet.Source, packet.Destination, packet.IpProtocol, packet.FragmentId);
            if (!_fragments.TryGetValue(fragment, out flow) || flow.Evicted)
            {
                // Ports unknown yet: the orphan remembers the addresses, to tell the direction when adopted.
                flow = NewFlow(new FlowKey5(packet.Source, packet.Destination, 0, 0, packet.IpProtocol), isDns: false, orphan: true);
                RememberFragment(fragment, flow);
            }

            fromClient = packet.Source == flow.Client.Source;
        }
        else
        {
            if (!packet.HasTransportHeader || packet.PortClass is PortClass.Mdns or PortClass.Llmnr)
            {
                return; // link-local name services are never judged
            }

            flow = FindOrAdd(in packet, frame, out fromClient);
            if (packet.IsFragment)
            {
                var fragment = (packet.Source, packet.Destination, packet.IpProtocol, packet.FragmentId);
                if (_fragments.TryGetValue(fragment, out FlowEvidence? orphan) && orphan.Orphan && !orphan.Evicted)
                {
                    Adopt(flow, orphan);
                }

                RememberFragment(fragment, flow);
            }
        }

        _currentFlow = flow;
        _currentFromClient = fromClient;
        _currentHasPayload = packet.PayloadLength > 0;
        _currentIndex = Retain(flow, frameNumber, in origin, frame, fromClient, hasPayload: packet.PayloadLength > 0);
    }

    /// <summary>After the dissector and the rules saw the frame: writes what the events it caused named.</summary>
    internal void FrameEnd(ReadOnlySpan<byte> frame) => WritePending(frame);

    /// <summary>The input ended: events from here on (flows judged at the end) name earlier frames only.</summary>
    internal void InputEnd()
    {
        _currentFrame = -1;
        _currentFlow = null;
        _currentIndex = -1;
    }

    /// <summary>Writes what the last events named.</summary>
    internal void Flush()
    {
        WritePending([]);
        if (WriteError is null)
        {
            try
            {
                _writer.Flush();
            }
            catch (IOException e)
            {
                WriteError = e.Message;
            }
        }
    }

    /// <summary>Numbers the event (its place in the output) and notes the flows whose packets it names.</summary>
    internal void OnEvent(LeakEvent e)
    {
        int number = ++_events;
        string type = e.Kind == "exfiltration" ? "exfiltration" : "Leak-" + e.LeakType;
        string? correlation = _frames is null ? e.CorrelationId : _frames.LocalizeCorrelation(e.CorrelationId);
        string label = correlation is { } c ? $"{type} {e.Severity} correlation {c}" : $"{type} {e.Severity}";
        var claim = new Claim(number, label);
        bool complete;
        if (e.LeakType == LeakType.D && e.Connection is { } connection)
        {
            // The connection (named by its frame), and the DNS transaction whose answer it used (the correlation id).
            complete = ClaimFrame(claim, e.Frame, again: false, f => f.HasEndpoint(connection.Destination));
            complete &= TryCorrelationFrame(e.CorrelationId, out long dnsFrame)
                && ClaimFrame(claim, dnsFrame, again: true, f => f.IsDns && (f.HasEndpoints(e.Source, e.Destination) || f.IsLoopback));
        }
        else
        {
            // A query (Leak-A/B, exfiltration) or an encrypted-DNS connection (Leak-C): the flow of the event's frame.
            complete = ClaimFrame(claim, e.Frame, again: false, f => f.HasEndpoints(e.Source, e.Destination));
        }

        if (complete)
        {
            Stats.EventsComplete++;
        }
        else
        {
            Stats.EventsIncomplete++;
        }
    }

    /// <param name="again">
    /// Write the flow's packets so far with this event's comment even when an earlier event already had them written:
    /// a Leak-D's DNS transaction, decided long after, must be whole under its own comment. Otherwise a flow that
    /// events already named (a TCP/53 connection carrying several leaked queries) only adds this event's comment to
    /// its packets from now on.
    /// </param>
    private bool ClaimFrame(Claim claim, long frameNumber, bool again, Func<FlowEvidence, bool> matches)
    {
        // Frame numbers restart with each capture file: the index holds the latest flow to use a number, and the
        // event's endpoints confirm it is the one meant.
        if (_byFrame.TryGetValue(frameNumber, out FlowEvidence? flow) && !flow.Evicted && matches(flow))
        {
            _pending.Add((flow, claim, again));
            return true;
        }

        if (frameNumber == _currentFrame)
        {
            _pending.Add((null, claim, again)); // past its flow's bound, or not kept: the frame alone
            return true;
        }

        return false;
    }

    private static bool TryCorrelationFrame(string? correlationId, out long frame)
    {
        frame = 0;
        return correlationId is { Length: > 1 } id && id[0] is 'q' or 'r'
            && long.TryParse(id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out frame);
    }

    private void WritePending(ReadOnlySpan<byte> currentFrame)
    {
        var claimsOfCurrent = new List<Claim>();
        if (_pending.Count > 0)
        {
            // Named flows: their earlier packets, once, with the comments of every event naming them now (for a flow
            // events named before, only of those that ask for it again).
            for (int i = 0; i < _pending.Count; i++)
            {
                (FlowEvidence? flow, Claim claim, _) = _pending[i];
                if (flow is null)
                {
                    claimsOfCurrent.Add(claim);
                    continue;
                }

                if (flow.PendingMark)
                {
                    continue;
                }

                flow.PendingMark = true;
                var batch = new List<Claim>();
                var written = new List<Claim>();
                for (int j = i; j < _pending.Count; j++)
                {
                    if (ReferenceEquals(_pending[j].Flow, flow))
                    {
                        batch.Add(_pending[j].Claim);
                        if (flow.Claims is null || _pending[j].Again)
                        {
                            written.Add(_pending[j].Claim);
                        }
                    }
                }

                if (written.Count > 0)
                {
                    for (int f = 0; f < flow.Frames.Count; f++)
                    {
                        if (!ReferenceEquals(flow, _currentFlow) || f != _currentIndex)
                        {
                            Write(flow.Frames[f], flow, written);
                        }
                    }
                }

                (flow.Claims ??= []).AddRange(batch);
            }

            foreach ((FlowEvidence? flow, _, _) in _pending)
            {
                if (flow is not null)
                {
                    flow.PendingMark = false;
                }
            }

            _pending.Clear();
        }

        // The current frame: once, with every event that names its flow (earlier ones included) or the frame itself.
        if (_currentIndex >= 0 && _currentFlow!.Claims is { } claims)
        {
            claimsOfCurrent.InsertRange(0, claims);
            Write(_currentFlow.Frames[_currentIndex], _currentFlow, claimsOfCurrent);
        }
        else if (claimsOfCurrent.Count > 0 && _currentFrame >= 0 && !currentFrame.IsEmpty)
        {
            RetainedFrame alone = _currentIndex >= 0 ? _currentFlow!.Frames[_currentIndex] : new RetainedFrame(
                _currentFrame, _currentOrigin.TimestampNs, _currentOrigin.InterfaceName, _currentOrigin.LinkType,
                Math.Max(_currentOrigin.OriginalLength, currentFrame.Length), currentFrame.ToArray(), currentFrame.Length, _currentFromClient, _currentHasPayload);
            Write(alone, _currentFlow, claimsOfCurrent);
        }
        else
        {
            return;
        }

        if (_flushEachWrite && WriteError is null)
        {
            try
            {
                _writer.Flush();
            }
            catch (IOException e)
            {
                WriteError = e.Message;
            }
        }
    }

    private void Write(RetainedFrame frame, FlowEvidence? flow, List<Claim> claims)
    {
        if (WriteError is not null)
        {
            return;
        }

        try
        {
            WritePacket(frame, flow, claims);
        }
        catch (IOException e)
        {
            // A full disk ends the evidence, not the watch: the events go on being found and written.
            WriteError = e.Message;
        }
    }

    private void WritePacket(RetainedFrame frame, FlowEvidence? flow, List<Claim> claims)
    {
        if (!_interfaces.TryGetValue((frame.Interface, frame.LinkType), out int id))
        {
            id = _writer.AddInterface(frame.LinkType, frame.Interface);
            _interfaces[(frame.Interface, frame.LinkType)] = id;
        }

        // A DNS flow's packets that carry no DNS (a TCP/53 handshake, its ACKs and FINs) are its connection.
        string role = flow is null || flow.Orphan ? "packet"
            : !flow.IsDns || !frame.HasPayload ? "connection"
            : frame.FromClient ? "query" : "answer";
        _comments.Clear();
        foreach (Claim c in claims)
        {
            _comments.Add(string.Create(
                CultureInfo.InvariantCulture, $"{CommentPrefix(c.EventNumber)} {c.Label}; {role}, capture frame {_frames?.Label(frame.FrameNumber) ?? frame.FrameNumber.ToString(CultureInfo.InvariantCulture)}"));
        }

        _writer.WritePacket(id, frame.TimestampNs, frame.Data, Math.Max(frame.OriginalLength, frame.Length), _comments);
        Stats.PacketsWritten++;
    }

    private FlowEvidence FindOrAdd(in DecodedPacket packet, ReadOnlySpan<byte> frame, out bool fromClient)
    {
        FlowKey5 flow = packet.FlowKey;
        bool isDns = packet.SourcePort == DnsPort || packet.DestinationPort == DnsPort;

        // A UDP DNS transaction is its 5-tuple and ID: a stub's upstream socket carries thousands of them.
        int transaction = isDns && packet.IpProtocol == IpProtocol.Udp && packet.PayloadLength >= 2
            ? BinaryPrimitives.ReadUInt16BigEndian(packet.Payload(frame))
            : -1;
        var key = new FlowSlot(Canonical(flow), transaction);
        if (_flows.TryGetValue(key, out FlowEvidence? found) && !found.Evicted)
        {
            fromClient = found.Client == flow;
            return found;
        }

        // The client is the side that sent the first packet seen, unless that packet says otherwise (a SYN-ACK, or an
        // answer from port 53).
        bool reversed = (packet.IpProtocol == IpProtocol.Tcp && (packet.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack))
                        || (isDns && flow.SourcePort == DnsPort && flow.DestinationPort != DnsPort);
        FlowEvidence created = NewFlow(reversed ? flow.Reversed : flow, isDns, orphan: false);
        created.Key = key;
        _flows[key] = created;
        fromClient = !reversed;
        return created;
    }

    /// <summary>One key for both directions: the lower endpoint first.</summary>
    private static FlowKey5 Canonical(FlowKey5 flow) =>
        flow.Source > flow.Destination || (flow.Source == flow.Destination && flow.SourcePort > flow.DestinationPort) ? flow.Reversed : flow;

    private FlowEvidence NewFlow(FlowKey5 client, bool isDns, bool orphan)
    {
        // A DNS transaction is a query and its answer; a connection fills its ten.
        var flow = new FlowEvidence(client, isDns, orphan, isDns ? 2 : _limits.MaxFramesPerFlow);
        Pool pool = isDns ? _dnsPool : _flowPool;
        flow.Pool = pool;
        pool.Order.Enqueue(flow);
        Charge(flow, FlowOverhead);
        return flow;
    }

    /// <summary>Keeps the frame when its flow has room; returns its index in the flow, or -1.</summary>
    private int Retain(FlowEvidence flow, long frameNumber, in FrameOrigin origin, ReadOnlySpan<byte> frame, bool fromClient, bool hasPayload)
    {
        if (flow.Frames.Count >= _limits.MaxFramesPerFlow)
        {
            return -1;
        }

        // Pooled: a long watch keeps and drops millions of frames, and short-lived arrays that survive a collection or
        // two are what costs the GC most.
        ReadOnlySpan<byte> kept = flow.IsDns || frame.Length <= _limits.FlowSnapLength ? frame : frame[.._limits.FlowSnapLength];
        byte[] buffer = ArrayPool<byte>.Shared.Rent(kept.Length);
        kept.CopyTo(buffer);
        flow.Frames.Add(new RetainedFrame(
            frameNumber, origin.TimestampNs, origin.InterfaceName, origin.LinkType, Math.Max(origin.OriginalLength, frame.Length), buffer, kept.Length, fromClient, hasPayload));
        _byFrame[frameNumber] = flow;
        Charge(flow, kept.Length + FrameOverhead);
        return flow.Frames.Count - 1;
    }

    private void Charge(FlowEvidence flow, long bytes)
    {
        Pool pool = flow.Pool!;
        flow.Bytes += bytes;
        pool.Bytes += bytes;

        // Oldest first; never the flow being added to (it is the newest, and one flow alone is bounded per flow).
        while (pool.Bytes > pool.Budget && pool.Order.TryPeek(out FlowEvidence? oldest) && !ReferenceEquals(oldest, flow))
        {
            pool.Order.Dequeue();
            Evict(oldest);
        }

        Stats.PeakBytes = Math.Max(Stats.PeakBytes, RetainedBytes);
    }

    private void Evict(FlowEvidence flow)
    {
        if (flow.Evicted)
        {
            return;
        }

        flow.Evicted = true;
        flow.Pool!.Bytes -= flow.Bytes;
        if (flow.Key is { } key && _flows.TryGetValue(key, out FlowEvidence? mapped) && ReferenceEquals(mapped, flow))
        {
            _flows.Remove(key);
        }

        foreach (RetainedFrame r in flow.Frames)
        {
            if (_byFrame.TryGetValue(r.FrameNumber, out FlowEvidence? owner) && ReferenceEquals(owner, flow))
            {
                _byFrame.Remove(r.FrameNumber);
            }

            ArrayPool<byte>.Shared.Return(r.Buffer);
        }

        flow.Frames.Clear();
        flow.Claims = null;
        Stats.FlowsEvicted++;
    }

    /// <summary>Later fragments that arrived before their first fragment join the first fragment's flow.</summary>
    private void Adopt(FlowEvidence flow, FlowEvidence orphan)
    {
        bool fromClient = orphan.Client.Source == flow.Client.Source;
        int moved = 0;
        foreach (RetainedFrame r in orphan.Frames)
        {
            if (flow.Frames.Count >= _limits.MaxFramesPerFlow)
            {
                break;
            }

            RetainedFrame adopted = r with { FromClient = fromClient };
            flow.Frames.Add(adopted);
            _byFrame[r.FrameNumber] = flow;
            Charge(flow, r.Length + FrameOverhead);
            moved++;
            if (flow.Claims is { } claims)
            {
                Write(adopted, flow, claims);
            }
        }

        orphan.Frames.RemoveRange(0, moved); // their buffers now belong to the flow
        Evict(orphan);
        Stats.FlowsEvicted--; // merged, not dropped
    }

    private void RememberFragment((IpAddr, IpAddr, IpProtocol, uint) key, FlowEvidence flow)
    {
        if (_fragments.Count >= MaxFragmentKeys)
        {
            _fragments.Clear();
        }

        _fragments[key] = flow;
    }

    private sealed record Claim(int EventNumber, string Label);

    /// <summary>A flow in the buffer: both directions as one key, and for UDP DNS the transaction ID (-1 otherwise).</summary>
    private readonly record struct FlowSlot(FlowKey5 Flow, int Transaction);

    /// <param name="Buffer">Rented from the shared pool (longer than <paramref name="Length"/>); returned when the flow is dropped.</param>
    /// <param name="HasPayload">The transport carries data (a later fragment always does).</param>
    private readonly record struct RetainedFrame(
        long FrameNumber, long TimestampNs, string Interface, LinkType LinkType, int OriginalLength, byte[] Buffer, int Length, bool FromClient, bool HasPayload)
    {
        public ReadOnlySpan<byte> Data => Buffer.AsSpan(0, Length);
    }

    /// <summary>A pool's flows in the order they were first seen, and what they hold.</summary>
    private sealed class Pool(long budget)
    {
        public long Budget { get; } = budget;

        public long Bytes { get; set; }

        public Queue<FlowEvidence> Order { get; } = new();
    }

    private sealed class FlowEvidence(FlowKey5 client, bool isDns, bool orphan, int capacity)
    {
        /// <summary>The flow from its client's side (default for fragments whose first fragment is not seen yet).</summary>
        public FlowKey5 Client { get; } = client;

        public bool IsDns { get; } = isDns;

        public bool Orphan { get; } = orphan;

        public FlowSlot? Key { get; set; }

        public Pool? Pool { get; set; }

        public List<RetainedFrame> Frames { get; } = new(capacity);

        /// <summary>The events that named this flow: its later packets carry their comments.</summary>
        public List<Claim>? Claims { get; set; }

        public long Bytes { get; set; }

        public bool Evicted { get; set; }

        public bool PendingMark { get; set; }

        public bool IsLoopback => !Orphan && IPAddress.IsLoopback(Client.Source.ToIPAddress());

        public bool HasEndpoint(string endpoint) =>
            !Orphan && (Endpoint(Client.Destination, Client.DestinationPort) == endpoint || Endpoint(Client.Source, Client.SourcePort) == endpoint);

        public bool HasEndpoints(string? a, string b)
        {
            if (Orphan)
            {
                return false;
            }

            string client = Endpoint(Client.Source, Client.SourcePort);
            string server = Endpoint(Client.Destination, Client.DestinationPort);
            return (client == a && server == b) || (client == b && server == a);
        }

        private static string Endpoint(IpAddr address, ushort port) => LeakDetector.Endpoint(address, port);
    }
}
