using System.Buffers.Binary;
using System.Text;
using DnsWarden.Capture.Live;
using DnsWarden.Capture.Reassembly;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;
using DnsWarden.Wire.Quic;
using DnsWarden.Wire.Tls;
using DnsWarden.Wire.Transport;

namespace DnsWarden.Capture.Dissect;

/// <summary>
/// Turns frames (live or from a file, the same path) into DNS evidence: frame decode → IP defragmentation
/// → UDP DNS, DNS over TCP (reassembled, 2-byte framing), TLS ClientHellos on DoT/HTTPS ports and
/// decrypted QUIC client Initials. Single-threaded; frames must be fed in capture order.
/// Frames that carry nothing of interest cost one decode and no allocation; an observation allocates
/// its record (it is evidence that leaves the pipeline).
/// </summary>
public sealed class FrameDissector
{
    /// <summary>Connections whose QUIC ClientHello is still being assembled; beyond this the oldest half is dropped.</summary>
    public const int MaxPendingQuicConnections = 4096;

    private const int TcpHeaderMinLength = 20;
    private const int UdpHeaderLength = 8;
    private const long ExpirySweepIntervalNs = 1_000_000_000L;

    /// <summary>How long after its last Initial a reported QUIC connection's Initials count as repeats.</summary>
    private const long QuicRepeatWindowNs = 60_000_000_000L;

    private readonly Action<Observation> _onObservation;
    private readonly ISegmentObserver? _segments;
    private readonly IpDefragmenter _defragmenter = new();
    private readonly TcpReassembler _dnsStreams;
    private readonly TcpReassembler _tlsStreams;
    private readonly Dictionary<(FlowKey5 Flow, int Dcid), QuicCryptoAssembler> _quic = [];

    // Connections whose ClientHello was reported, with the time of their latest Initial: a client resends its
    // Initial (same DCID, same CRYPTO bytes) until the server answers, and that is one piece of evidence.
    private readonly Dictionary<(FlowKey5 Flow, int Dcid), long> _quicReported = [];
    private readonly byte[] _scratch = new byte[65536];
    private readonly byte[] _helloScratch = new byte[StreamPrefixCollector.DefaultPrefixLength];

    // The frame being processed: DNS-over-TCP and ClientHello callbacks fire inside it.
    private FrameOrigin _origin;
    private long _frameNumber;
    private long _lastSweepNs;

    public FrameDissector(Action<Observation> onObservation, ISegmentObserver? segments = null)
    {
        _onObservation = onObservation;
        _segments = segments;
        _dnsStreams = new TcpReassembler(new DnsTcpFramer(OnTcpDnsMessage));
        _tlsStreams = new TcpReassembler(new StreamPrefixCollector(OnTlsPrefix));
    }

    public DissectorStats Stats { get; } = new();

    /// <summary>
    /// Names for the interface indexes a Linux "any" capture (SLL2) records per packet; when set, a frame that
    /// carries an index is attributed to the returned name instead of the capture's own interface.
    /// </summary>
    public Func<int, string>? InterfaceIndexNames { get; init; }

    /// <summary>Interfaces whose frames are left out (counted as excluded), by the name a frame is attributed to.</summary>
    public Func<string, bool>? ExcludedInterface { get; init; }

    /// <summary>Processes one frame. Frame numbers start at 1, as in tshark.</summary>
    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame) => Process(in origin, frame, Stats.Frames + 1);

    /// <summary>Processes one frame whose number in its capture is known (frames fed out of file order, by time).</summary>
    public void Process(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber)
    {
        _origin = origin;
        Stats.Frames++;
        _frameNumber = frameNumber;
        if (origin.TimestampNs - _lastSweepNs > ExpirySweepIntervalNs)
        {
            _lastSweepNs = origin.TimestampNs;
            _defragmenter.ExpireOlderThan(origin.TimestampNs);
            _dnsStreams.ExpireIdle(origin.TimestampNs);
            _tlsStreams.ExpireIdle(origin.TimestampNs);
        }

        if (ExcludedInterface is { } excluded && origin.LinkType != LinkType.LinuxSll2 && excluded(origin.InterfaceName))
        {
            Stats.Excluded++;
            return;
        }

        if (!PacketDecoder.TryDecode(origin.LinkType, frame, out DecodedPacket packet))
        {
            if (packet.Error == DecodeError.NotIp)
            {
                Stats.NotIp++;
            }
            else
            {
                Stats.CountMalformed(Reason("frame", packet.Error));
            }

            return;
        }

        if (packet.InterfaceIndex >= 0 && InterfaceIndexNames is { } names)
        {
            _origin = _origin with { InterfaceName = names(packet.InterfaceIndex) };
        }

        if (origin.LinkType == LinkType.LinuxSll2 && ExcludedInterface is { } leftOut && leftOut(_origin.InterfaceName))
        {
            Stats.Excluded++;
            return;
        }

        Stats.Decoded++;
        if (packet.IsFragment)
        {
            ProcessFragment(in packet, frame);
            return;
        }

        if (!packet.HasTransportHeader)
        {
            return;
        }

        var flow = packet.FlowKey;
        ReadOnlySpan<byte> payload = packet.Payload(frame);
        if (packet.IpProtocol == IpProtocol.Udp)
        {
            ProcessUdp(in flow, packet.PortClass, payload);
        }
        else if (packet.IpProtocol == IpProtocol.Tcp)
        {
            ProcessTcp(in flow, packet.PortClass, packet.TcpSequence, packet.TcpFlags, payload);
        }
    }

    /// <summary>Ends the run: closes every stream so nothing buffered is held back.</summary>
    public void Complete()
    {
        _dnsStreams.CloseAll(_origin.TimestampNs);
        _tlsStreams.CloseAll(_origin.TimestampNs);
    }

    private void ProcessFragment(in DecodedPacket packet, ReadOnlySpan<byte> frame)
    {
        Stats.Fragments++;
        int start = packet.FragmentPayloadOffset;
        int end = packet.IpPayloadOffset + packet.IpPayloadLength;
        if (start < 0 || end < start || end > frame.Length)
        {
            Stats.CountMalformed("ip:fragment-bounds");
            return;
        }

        DefragStatus status = _defragmenter.Add(
            packet.Source, packet.Destination, (byte)packet.IpProtocol, packet.FragmentId, packet.FragmentOffset,
            packet.MoreFragments, frame[start..end], _origin.TimestampNs, out ReassembledDatagram datagram);
        if (status is DefragStatus.Malformed or DefragStatus.OverlapDiscarded)
        {
            Stats.CountMalformed(Reason("ip", status));
        }

        if (status != DefragStatus.Complete)
        {
            return;
        }

        using (datagram)
        {
            Stats.Reassembled++;
            ProcessTransport(packet.Source, packet.Destination, packet.IpProtocol, datagram.Payload);
        }
    }

    /// <summary>Reads the transport header of a reassembled datagram (the decoder saw only its first fragment).</summary>
    private void ProcessTransport(IpAddr source, IpAddr destination, IpProtocol protocol, ReadOnlySpan<byte> segment)
    {
        if (protocol == IpProtocol.Udp)
        {
            if (segment.Length < UdpHeaderLength)
            {
                Stats.CountMalformed("udp:truncated");
                return;
            }

            ushort sport = BinaryPrimitives.ReadUInt16BigEndian(segment);
            ushort dport = BinaryPrimitives.ReadUInt16BigEndian(segment[2..]);
            var flow = new FlowKey5(source, destination, sport, dport, protocol);
            ProcessUdp(in flow, PortClassifier.Classify(protocol, sport, dport), segment[UdpHeaderLength..]);
        }
        else if (protocol == IpProtocol.Tcp)
        {
            int dataOffset = segment.Length >= TcpHeaderMinLength ? (segment[12] >> 4) * 4 : 0;
            if (dataOffset < TcpHeaderMinLength || dataOffset > segment.Length)
            {
                Stats.CountMalformed("tcp:truncated");
                return;
            }

            ushort sport = BinaryPrimitives.ReadUInt16BigEndian(segment);
            ushort dport = BinaryPrimitives.ReadUInt16BigEndian(segment[2..]);
            var flow = new FlowKey5(source, destination, sport, dport, protocol);
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(segment[4..]);
            ProcessTcp(in flow, PortClassifier.Classify(protocol, sport, dport), seq, (TcpFlags)segment[13], segment[dataOffset..]);
        }
    }

    private void ProcessUdp(in FlowKey5 flow, PortClass portClass, ReadOnlySpan<byte> payload)
    {
        switch (portClass)
        {
            case PortClass.Dns:
                EmitDns(in flow, "udp53", payload);
                return;
            case PortClass.Mdns:
                EmitDns(in flow, "mdns", payload);
                return;
            case PortClass.Llmnr:
                EmitDns(in flow, "llmnr", payload);
                return;
            default:
                // QUIC may run on any port (DoQ on 853, HTTP/3 on 443, others elsewhere): the long header tells.
                if (QuicPacket.IsLikelyQuicInitial(payload))
                {
                    ProcessQuic(in flow, portClass, payload);
                }

                return;
        }
    }

    private void ProcessTcp(in FlowKey5 flow, PortClass portClass, uint sequence, TcpFlags flags, ReadOnlySpan<byte> payload)
    {
        _segments?.OnTcpSegment(_frameNumber, in _origin, in flow, flags, payload.Length);
        if (portClass == PortClass.Dns)
        {
            _dnsStreams.AddSegment(in flow, sequence, flags, payload, _origin.TimestampNs);
        }
        else if (portClass is PortClass.Dot or PortClass.Https)
        {
            _tlsStreams.AddSegment(in flow, sequence, flags, payload, _origin.TimestampNs);
        }
    }

    private void OnTcpDnsMessage(in FlowKey5 flow, ReadOnlySpan<byte> message, long timestampNs) => EmitDns(in flow, "tcp53", message);

    private bool OnTlsPrefix(in FlowKey5 key, ReadOnlySpan<byte> prefix, bool isFull, long timestampNs)
    {
        TlsRecordReader.TryGetClientHello(prefix, _helloScratch, out int helloLength, out TlsStreamStatus status);
        switch (status)
        {
            case TlsStreamStatus.NeedMoreData:
                if (isFull)
                {
                    Stats.CountMalformed("tls:hello-too-large");
                    return false;
                }

                return true;
            case TlsStreamStatus.Complete:
                break;
            case TlsStreamStatus.NotClientHello:
                return false; // the server's direction
            default:
                Stats.CountMalformed(Reason("tls", status));
                return false;
        }

        ReadOnlySpan<byte> hello = _helloScratch.AsSpan(0, helloLength);
        if (!TlsClientHello.TryRead(hello, out ClientHelloInfo info, out TlsError error))
        {
            Stats.CountMalformed(Reason("tls", error));
            return false;
        }

        Stats.TlsClientHellos++;
        string transport = PortClassifier.Classify(IpProtocol.Tcp, key.SourcePort, key.DestinationPort) == PortClass.Dot ? "dot" : "tls";
        _onObservation(new Observation(
            _frameNumber, _origin, key, ObservationKind.TlsClientHello, transport, null,
            info.ServerNameString(hello), info.AlpnList(hello), info.HasEch, 0));
        return false;
    }

    private void ProcessQuic(in FlowKey5 flow, PortClass portClass, ReadOnlySpan<byte> datagram)
    {
        if (!QuicInitialDecryptor.TryDecryptClientInitial(datagram, _scratch, out QuicInitialResult result, out QuicError error))
        {
            // A server's Initial, or a client's retransmission under new keys, does not decrypt with the client keys.
            Stats.CountMalformed(Reason("quic", error));
            return;
        }

        QuicInitialDecryptor.TryGetDestinationConnectionId(datagram, out ReadOnlySpan<byte> dcid);
        var hash = new HashCode();
        hash.AddBytes(dcid);
        var key = (flow, hash.ToHashCode());
        if (_quicReported.TryGetValue(key, out long last) && _origin.TimestampNs - last < QuicRepeatWindowNs)
        {
            _quicReported[key] = _origin.TimestampNs;
            Stats.QuicRepeats++;
            return;
        }

        if (!_quic.TryGetValue(key, out QuicCryptoAssembler? assembler))
        {
            if (_quic.Count >= MaxPendingQuicConnections)
            {
                _quic.Clear();
            }

            assembler = new QuicCryptoAssembler();
            _quic[key] = assembler;
        }

        QuicCryptoStatus status = assembler.AddFrames(_scratch.AsSpan(0, result.PlaintextLength));
        if (status == QuicCryptoStatus.NeedMoreData)
        {
            return;
        }

        _quic.Remove(key);
        if (_quicReported.Count >= MaxPendingQuicConnections)
        {
            _quicReported.Clear();
        }

        _quicReported[key] = _origin.TimestampNs;
        if (status != QuicCryptoStatus.Complete || !assembler.TryGetClientHello(out ReadOnlySpan<byte> hello))
        {
            Stats.CountMalformed(Reason("quic", status));
            return;
        }

        if (!TlsClientHello.TryRead(hello, out ClientHelloInfo info, out TlsError tlsError))
        {
            Stats.CountMalformed(Reason("quic-tls", tlsError));
            return;
        }

        Stats.QuicInitials++;
        string transport = portClass == PortClass.Doq || info.AlpnContains(hello, "doq"u8) ? "doq" : "quic";
        _onObservation(new Observation(
            _frameNumber, _origin, flow, ObservationKind.QuicInitial, transport, null,
            info.ServerNameString(hello), info.AlpnList(hello), info.HasEch, result.Version));
    }

    private void EmitDns(in FlowKey5 flow, string transport, ReadOnlySpan<byte> message)
    {
        if (!TryReadFacts(message, out DnsFacts? facts, out DnsError error))
        {
            // Non-DNS bytes on a DNS port are evidence too: counted with their reason, never dropped silently.
            Stats.CountMalformed(Reason("dns", error));
            return;
        }

        Stats.DnsMessages++;
        _onObservation(new Observation(_frameNumber, _origin, flow, ObservationKind.Dns, transport, facts, null, [], false, 0));
    }

    /// <summary>Reads a whole DNS message into facts; false when any part of it is malformed.</summary>
    public static bool TryReadFacts(ReadOnlySpan<byte> message, out DnsFacts? facts, out DnsError error)
    {
        facts = null;
        var reader = new DnsMessageReader(message);
        if (!reader.TryReadHeader(out DnsHeader header))
        {
            error = reader.Error == DnsError.None ? DnsError.Truncated : reader.Error;
            return false;
        }

        string? qname = null;
        ushort qtype = 0;
        while (reader.TryReadQuestion(out DnsQuestion q))
        {
            if (qname is null)
            {
                qname = q.Name.ToString();
                qtype = (ushort)q.Type;
            }
        }

        var answers = new List<DnsAnswer>();
        while (reader.Error == DnsError.None && reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Section == DnsSection.Answer)
            {
                IpAddr address = r.Type is DnsType.A or DnsType.AAAA && r.TryReadAddress(out IpAddr a) ? a : default;
                answers.Add(new DnsAnswer(r.Name.ToString(), (ushort)r.Type, r.Ttl, RenderData(in r)) { Address = address });
            }
        }

        if (reader.Error != DnsError.None)
        {
            error = reader.Error;
            return false;
        }

        error = DnsError.None;
        facts = new DnsFacts(header.Id, header.IsResponse, qname, qtype, (ushort)header.Rcode, header.Truncated, answers);
        return true;
    }

    private static string RenderData(in DnsRecord r)
    {
        switch (r.Type)
        {
            case DnsType.A:
            case DnsType.AAAA:
                return r.TryReadAddress(out IpAddr address) ? address.ToString() : "";
            case DnsType.CNAME:
            case DnsType.NS:
            case DnsType.PTR:
                return r.TryReadName(out DnsName target) ? target.ToString() : "";
            case DnsType.TXT:
                if (r.TryReadTxt(out DnsCharacterStrings strings))
                {
                    var sb = new StringBuilder(strings.TotalLength);
                    foreach (ReadOnlySpan<byte> s in strings)
                    {
                        sb.Append(Encoding.UTF8.GetString(s));
                    }

                    return sb.ToString();
                }

                return "";
            case DnsType.MX:
                return r.TryReadMx(out DnsMx mx) ? mx.Preference.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + mx.Exchange.ToString() : "";
            case DnsType.SOA:
                return r.TryReadSoa(out DnsSoa soa) ? soa.PrimaryServer.ToString() : "";
            default:
                return "";
        }
    }

    private static string Reason<T>(string layer, T value)
        where T : struct, Enum => layer + ":" + value.ToString();
}
