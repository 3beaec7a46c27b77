using DnsWarden.Indicators;
using System.Globalization;
using System.Net;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Classify;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Flows;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Leak.Rules;

/// <summary>Counters of the rules, for the summary.</summary>
public sealed class DetectorStats
{
    public long DnsQueries { get; internal set; }

    public long DnsResponses { get; internal set; }

    public long EncryptedDnsFlows { get; internal set; }

    public long ConnectionStarts { get; internal set; }

    public long AnswersTracked { get; internal set; }
}

/// <summary>
/// The leak rules over observations and flows: Leak-A (plaintext DNS outside the safe path), Leak-B (a
/// proxy-required name outside the safe path), Leak-C (encrypted DNS outside approved egress), Leak-D (an
/// answer's address contacted over another egress than the DNS took), and the exfiltration indicator.
/// Single-threaded, on packet time; every table is bounded. docs/EVENTS.md documents the rules and severities.
/// </summary>
public sealed class LeakDetector : IFlowSink
{
    /// <summary>How long a query waits for its response (for the correlation of a transaction).</summary>
    private static readonly long s_pendingNs = TimeSpan.FromSeconds(10).Ticks * 100;

    /// <summary>A stub's upstream query and the stub's answer on loopback are tied when this close.</summary>
    private static readonly long s_stubLinkNs = TimeSpan.FromSeconds(5).Ticks * 100;

    /// <summary>An answer is remembered for its TTL, within these bounds.</summary>
    private static readonly long s_answerMinNs = TimeSpan.FromSeconds(30).Ticks * 100;

    private static readonly long s_answerMaxNs = TimeSpan.FromHours(1).Ticks * 100;

    private const int MaxTableEntries = 65536;

    /// <summary>How far (packet time) a connection may have been processed ahead of the answer it used.</summary>
    private static readonly long s_lateAnswerNs = TimeSpan.FromSeconds(2).Ticks * 100;

    /// <summary>
    /// How long (packet time) a stub's upstream event waits for the loopback query that caused it: live capture runs a
    /// thread per interface, so the loopback packet can be processed after the upstream one it caused.
    /// </summary>
    private static readonly long s_askerWaitNs = TimeSpan.FromMilliseconds(500).Ticks * 100;

    /// <summary>
    /// How far apart (packet time) the sightings of one query along a host-internal path may be: forwarding through a
    /// veth, a bridge and NAT takes microseconds; a client's retransmission comes after hundreds of milliseconds and on
    /// the interface already crossed, so it stays a query of its own.
    /// </summary>
    private static readonly long s_pathWindowNs = TimeSpan.FromMilliseconds(500).Ticks * 100;

    private readonly LeakPolicy _policy;
    private readonly RouteClassifier _routes;
    private readonly TransportClassifier _classifier;
    private readonly ExfiltrationDetector _exfiltration;
    private readonly GeoIpLookup? _geo;
    private readonly IProcessAttributor? _attributor;
    private readonly Action<LeakEvent> _emit;
    private readonly FlowTracker _flows;

    private readonly Dictionary<(FlowKey5 Flow, ushort Id), PendingQuery> _pending = [];
    private readonly Dictionary<string, PendingQuery> _upstreamByName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<IpAddr, AnswerRecord> _answers = [];
    private readonly HashSet<FlowKey5> _connectionsChecked = [];
    private readonly Dictionary<IpAddr, RecentConnection> _recentConnections = [];
    private readonly Dictionary<(string Name, ushort Type), LoopbackAsk> _loopbackAsks = [];
    private readonly List<HeldEvent> _held = [];
    private readonly QueryPathMerger<(ushort Id, string? QName, ushort QType), QueryHop> _paths = new(s_pathWindowNs);
    private List<IReadOnlyList<PathSighting<QueryHop>>> _pathsDone = [];
    private List<IReadOnlyList<PathSighting<QueryHop>>> _pathsSpare = [];
    private bool _stubSeen;
    private bool _virtualSeen;

    public LeakDetector(
        LeakPolicy policy, Action<LeakEvent> emit, GeoIpLookup? geo = null, IProcessAttributor? attributor = null, BaseDomains? baseDomains = null,
        IInterfaceTable? interfaces = null)
    {
        _policy = policy;
        _emit = emit;
        _geo = geo;
        _attributor = attributor;
        _routes = new RouteClassifier(policy, interfaces);
        _classifier = new TransportClassifier(policy.EncryptedDns.Endpoints);
        _exfiltration = new ExfiltrationDetector(policy.Exfiltration, baseDomains ?? BaseDomains.Default);
        _flows = new FlowTracker(this);
    }

    /// <summary>The segment observer to give the dissector.</summary>
    public FlowTracker Flows => _flows;

    public DetectorStats Stats { get; } = new();

    public RouteClassifier Routes => _routes;

    public void OnObservation(Observation o)
    {
        if (_held.Count > 0)
        {
            ReleaseHeld(o.Origin.TimestampNs - s_askerWaitNs);
        }

        Advance(o.Origin.TimestampNs);

        switch (o.Kind)
        {
            case ObservationKind.Dns when o.Dns is not null && o.Transport is "udp53" or "tcp53":
                if (o.Dns.IsResponse)
                {
                    OnDnsResponse(o, o.Dns);
                }
                else
                {
                    OnDnsQuery(o, o.Dns);
                }

                break;
            case ObservationKind.TlsClientHello:
                OnClientHello(o);
                break;
            case ObservationKind.QuicInitial:
                OnQuicInitial(o);
                break;
        }
    }

    /// <summary>Ends the run: every tracked flow is judged, and every event still waiting for its asker is written.</summary>
    public void Complete()
    {
        _flows.Complete();
        _paths.Flush(_pathsDone);
        EmitPaths();
        ReleaseHeld(long.MaxValue);
    }

    /// <summary>Packet time has reached <paramref name="ns"/> (any frame): the paths whose window has passed are judged.</summary>
    public void Advance(long ns)
    {
        if (_paths.OpenPaths > 0)
        {
            _paths.Expire(ns, _pathsDone);
            EmitPaths();
        }
    }

    /// <summary>Virtual sightings folded into a path that had already left the host (reported with it, not again).</summary>
    public long PathSightingsAbsorbed => _paths.Absorbed;

    private void OnDnsQuery(Observation o, DnsFacts dns)
    {
        Stats.DnsQueries++;
        FlowKey5 flow = o.Flow;
        RouteClassResult route = _routes.Classify(o.Origin.InterfaceName, o.Origin.LinkType);
        // Live: who sent the query is asked now, while its socket exists; Leak-D reports it later from here.
        (ProcessInfo? process, Attribution attribution) = Attribute(flow, o.Origin.TimestampNs);
        var pending = new PendingQuery(-o.FrameNumber, o.Origin.InterfaceName, route.Class, o.Origin.TimestampNs, o.Transport, flow, dns.QName)
        {
            Process = process,
            Attribution = attribution,
        };
        Remember(_pending, (flow, dns.Id), pending);
        if (route.Class == RouteClass.Loopback)
        {
            // A local stub is in use: from now on its upstream queries are remembered by name (see OnDnsResponse).
            _stubSeen = true;
            if (dns.QName is { } asked)
            {
                RememberAsk(asked, dns.QType, new LoopbackAsk(o.Origin.TimestampNs, o.FrameNumber, process, attribution));
            }
        }
        else if (_stubSeen && dns.QName is not null)
        {
            Remember(_upstreamByName, dns.QName, pending);
        }

        // One query crossing the host (veth, bridge, uplink) is one query: counted once for the exfiltration indicator,
        // judged once along its path.
        // Until a virtual interface shows up there is no path to merge, and a query is judged as it comes: a host
        // without containers pays nothing for paths.
        _virtualSeen |= route.Class == RouteClass.Virtual;
        bool onPath = _virtualSeen && route.Class != RouteClass.Loopback;
        (ushort, string?, ushort) pathKey = onPath ? (dns.Id, dns.QName?.ToLowerInvariant(), dns.QType) : default;
        bool laterSighting = onPath && _paths.IsLaterSighting(pathKey, o.Origin.InterfaceName, o.Origin.TimestampNs);
        if (!laterSighting && dns.QName is { } qname && _exfiltration.AddQuery(o.Origin.TimestampNs, qname, dns.QType) is { } figures)
        {
            EmitExfiltration(o, dns, route, pending.CorrelationId, figures);
        }

        QueryVerdict? verdict = Judge(o, dns, route, flow);
        if (!onPath)
        {
            if (verdict is not null)
            {
                Emit(o, flow, route, verdict.Type, verdict.Severity, o.Transport, Confidence.High, dns, verdict.Why, serverName: null,
                    provider: Provider(flow.Destination), pending.CorrelationId, (process, attribution));
            }

            return;
        }

        var hop = new QueryHop(o, dns, route, pending.CorrelationId, process, attribution, verdict);

        _paths.Add(pathKey, new PathSighting<QueryHop>(o.Origin.InterfaceName, route.Class == RouteClass.Virtual, o.Origin.TimestampNs, hop), _pathsDone);
        EmitPaths();
    }

    /// <summary>What a plaintext query on this hop would be: null when it is on the safe path (or an ordinary name under split).</summary>
    private QueryVerdict? Judge(Observation o, DnsFacts dns, RouteClassResult route, FlowKey5 flow)
    {
        if (IsSafePath(o.Origin, route, flow, encrypted: false, serverName: null))
        {
            return null;
        }

        bool proxyRequired = dns.QName is { } name && _policy.Split.IsProxyRequired(name);
        if (PlaintextRule.OffSafePath(_policy.Profile, route.Class, proxyRequired) is not { } finding)
        {
            return null;
        }

        (LeakType type, Severity severity) = finding;
        List<string> why = UnsafeReasons(o.Origin, route, flow, encrypted: false);
        why.Insert(0, type == LeakType.B
            ? "the name is proxy-required by the split policy but was resolved outside the safe path"
            : "plaintext DNS query outside the safe path");
        return new QueryVerdict(type, severity, why);
    }

    /// <summary>Judges the paths the merger completed: one event per query, at its most exposed hop, or none when it left by the safe path.</summary>
    private void EmitPaths()
    {
        if (_pathsDone.Count == 0)
        {
            return;
        }

        // Swapped, not copied: the list being read must not change under it.
        List<IReadOnlyList<PathSighting<QueryHop>>> done = _pathsDone;
        _pathsDone = _pathsSpare;
        foreach (IReadOnlyList<PathSighting<QueryHop>> path in done)
        {
            EmitPath(path);
        }

        done.Clear();
        _pathsSpare = done;
    }

    private void EmitPath(IReadOnlyList<PathSighting<QueryHop>> path)
    {
        if (path.Count == 1)
        {
            if (path[0].Hop.Verdict is { } single)
            {
                EmitHop(path[0].Hop, single.Why, path: null);
            }

            return;
        }

        // The most exposed hop: the worst unsafe hop out of the host; when the query never left (or its exit was not
        // captured), the last unsafe hop inside it. A query that left by the safe path (a tunnel) is no leak, whatever
        // the host-internal hops before it were.
        QueryHop? chosen = path.Any(p => !p.Virtual)
            ? path.Where(p => !p.Virtual && p.Hop.Verdict is not null).OrderBy(p => p.Hop.Verdict!.Severity).Select(p => p.Hop).FirstOrDefault()
            : path.LastOrDefault(p => p.Hop.Verdict is not null).Hop;
        if (chosen?.Verdict is not { } verdict)
        {
            return;
        }

        string[] names = [.. path.Select(p => p.Interface)];
        string[] classes = [.. path.Select(p => RouteClassifier.Name(p.Hop.Route.Class))];
        string crossed = string.Join(" > ", path.Select(p => $"{p.Interface} ({RouteClassifier.Name(p.Hop.Route.Class)})"));
        var why = new List<string>(verdict.Why)
        {
            $"one query seen along {crossed} within {s_pathWindowNs / 1_000_000} ms (same DNS ID and question; addresses and ports may change under NAT), judged at {chosen.Origin.InterfaceName}",
        };
        if (path.All(p => p.Virtual))
        {
            why.Add("seen only on host-internal interfaces: on its way through the host; where it left the host was not seen (capture the uplink too)");
        }

        // Who sent it is best known at the first hop (the sender's own side of the veth).
        QueryHop named = path.Select(p => p.Hop).FirstOrDefault(h => h.Process is not null) ?? chosen;
        EmitHop(chosen with { Process = named.Process, Attribution = named.Attribution }, why, names, classes);
    }

    private void EmitHop(QueryHop hop, List<string> why, string[]? path, string[]? classes = null)
    {
        QueryVerdict v = hop.Verdict!;
        Emit(hop.Observation, hop.Observation.Flow, hop.Route, v.Type, v.Severity, hop.Observation.Transport, Confidence.High, hop.Dns, why, serverName: null,
            provider: Provider(hop.Observation.Flow.Destination), hop.CorrelationId, (hop.Process, hop.Attribution), path, classes);
    }

    private void OnDnsResponse(Observation o, DnsFacts dns)
    {
        Stats.DnsResponses++;
        if (dns.QName is { } qname)
        {
            _exfiltration.AddResponse(o.Origin.TimestampNs, qname, dns.Rcode);
        }

        FlowKey5 queryFlow = o.Flow.Reversed;
        PendingQuery? query = _pending.Remove((queryFlow, dns.Id), out PendingQuery found) ? found : null;
        RouteClassResult route = _routes.Classify(o.Origin.InterfaceName, o.Origin.LinkType);

        // The DNS egress: where the query left the host. A stub on loopback forwarded it upstream; find that hop.
        PendingQuery egress;
        if (route.Class != RouteClass.Loopback)
        {
            egress = query ?? new PendingQuery(
                o.FrameNumber, o.Origin.InterfaceName, route.Class, o.Origin.TimestampNs, o.Transport, queryFlow, dns.QName);
        }
        else if (dns.QName is not null && _upstreamByName.TryGetValue(dns.QName, out PendingQuery upstream)
                 && o.Origin.TimestampNs - upstream.TimestampNs <= s_stubLinkNs)
        {
            egress = upstream with { CorrelationFrame = query?.CorrelationFrame ?? upstream.CorrelationFrame };
        }
        else
        {
            return; // answered on loopback and the upstream hop was not seen: no egress to compare
        }

        long now = o.Origin.TimestampNs;
        foreach (DnsAnswer a in dns.Answers)
        {
            if (a.Type is not ((ushort)DnsType.A or (ushort)DnsType.AAAA))
            {
                continue;
            }

            // The dissector fills Address; facts built elsewhere may carry only the text.
            IpAddr address = a.Address;
            if (address == IpAddr.None && !IpAddr.TryParse(a.Data, out address))
            {
                continue;
            }

            long ttlNs = Math.Clamp(a.Ttl * 1_000_000_000L, s_answerMinNs, s_answerMaxNs);
            if (_answers.Count >= MaxTableEntries)
            {
                SweepAnswers(now);
            }

            // The answer crossing back through the host (uplink, bridge, veth) keeps the egress of its way out.
            if (route.Class == RouteClass.Virtual && _answers.TryGetValue(address, out AnswerRecord outside)
                && outside.Egress.RouteClass != RouteClass.Virtual && now - outside.SeenNs <= s_pathWindowNs)
            {
                continue;
            }

            if (_answers.Count < MaxTableEntries)
            {
                _answers[address] = new AnswerRecord(egress, dns.QName ?? a.Name, dns.QType, now + ttlNs) { SeenNs = now };
                Stats.AnswersTracked++;

                // A connection to this address processed before its answer (another interface's capture thread ran
                // first) but started after it, by packet time: judge it now.
                if (_recentConnections.Remove(address, out RecentConnection early)
                    && early.Origin.TimestampNs >= now && early.Origin.TimestampNs - now <= s_lateAnswerNs)
                {
                    CheckConnection(early.Frame, early.Origin, early.Flow, early.Kind, early.ServerName);
                }
            }
        }
    }

    public void OnConnectionStart(long frameNumber, in FrameOrigin origin, in FlowKey5 clientFlow)
    {
        Stats.ConnectionStarts++;
        CheckConnection(frameNumber, origin, clientFlow, "tcp-syn", serverName: null);
    }

    private void CheckConnection(long frameNumber, FrameOrigin origin, FlowKey5 flow, string kind, string? serverName)
    {
        if (!_answers.TryGetValue(flow.Destination, out AnswerRecord answer) || answer.SeenNs > origin.TimestampNs)
        {
            // No answer yet, as far as processing order goes. Live capture runs a thread per interface, so the answer
            // may still be on its way from another interface: keep the connection a moment (see OnDnsResponse).
            if (_recentConnections.Count >= MaxTableEntries)
            {
                _recentConnections.Clear();
            }

            _recentConnections[flow.Destination] = new RecentConnection(frameNumber, origin, flow, kind, serverName);
            return;
        }

        if (origin.TimestampNs > answer.ExpiresNs)
        {
            _answers.Remove(flow.Destination);
            return;
        }

        RouteClassResult route = _routes.Classify(origin.InterfaceName, origin.LinkType);
        // A connection on a host-internal hop is compared where it leaves the host; an answer that never left it
        // (a resolver on a bridge) has no egress to compare, as a stub's on loopback.
        if (route.Class is RouteClass.Loopback or RouteClass.Virtual || answer.Egress.RouteClass == RouteClass.Virtual
            || string.Equals(origin.InterfaceName, answer.Egress.Interface, StringComparison.Ordinal))
        {
            return;
        }

        if (_connectionsChecked.Count >= MaxTableEntries)
        {
            _connectionsChecked.Clear();
        }

        if (!_connectionsChecked.Add(flow))
        {
            return; // a retransmitted SYN, or the hello of a connection whose SYN was judged
        }

        bool proxyRequired = answer.QName is { } q && _policy.Split.IsProxyRequired(q);
        PendingQuery dns = answer.Egress;
        var why = new List<string>
        {
            $"the answer's address was contacted over {origin.InterfaceName} ({RouteClassifier.Name(route.Class)}) but the DNS went over {dns.Interface} ({RouteClassifier.Name(dns.RouteClass)})",
        };
        if (proxyRequired)
        {
            why.Add("the name is proxy-required by the split policy");
        }

        ProcessInfo? process = dns.Process;
        Attribution attribution = dns.Attribution ?? Attribute(dns.Flow, dns.TimestampNs).Item2;
        _emit(new LeakEvent
        {
            Kind = "leak",
            Timestamp = ToTime(origin.TimestampNs),
            LeakType = LeakType.D,
            Severity = proxyRequired ? Severity.P1 : Severity.P2,
            Transport = dns.Transport,
            Confidence = Confidence.High,
            QName = answer.QName,
            QType = TypeName(answer.QType),
            Interface = dns.Interface,
            RouteClass = RouteClassifier.Name(dns.RouteClass),
            Source = Endpoint(dns.Flow.Source, dns.Flow.SourcePort),
            Destination = Endpoint(dns.Flow.Destination, dns.Flow.DestinationPort),
            Process = process,
            Attribution = attribution,
            Evidence = why,
            Frame = frameNumber,
            GeoIp = Geo(flow.Destination),
            CorrelationId = dns.CorrelationId,
            Connection = new ConnectionFacts(
                kind, origin.InterfaceName, RouteClassifier.Name(route.Class), Endpoint(flow.Destination, flow.DestinationPort), serverName, frameNumber),
        });
    }

    private void OnClientHello(Observation o)
    {
        TcpFlowState? state = _flows.OnClientHello(o.FrameNumber, o.Origin, o.Flow, o.ServerName, o.Alpn);
        if (state is null || !state.SynSeen)
        {
            CheckConnection(o.FrameNumber, o.Origin, o.Flow, "tls", o.ServerName);
        }

        Classification c = _classifier.ClassifyTls(o.Flow.Destination.ToIPAddress(), o.Flow.DestinationPort, o.ServerName, o.Alpn);
        if (c.Transport is null)
        {
            return; // maybe DoH by shape: judged when the flow ends
        }

        if (state is not null)
        {
            state.Decided = true;
        }

        JudgeEncrypted(o.FrameNumber, o.Origin, o.Flow, c, o.ServerName);
    }

    private void OnQuicInitial(Observation o)
    {
        CheckConnection(o.FrameNumber, o.Origin, o.Flow, "quic", o.ServerName);
        Classification c = _classifier.ClassifyQuic(o.Flow.Destination.ToIPAddress(), o.Flow.DestinationPort, o.ServerName, o.Alpn);
        if (c.Transport is not null)
        {
            JudgeEncrypted(o.FrameNumber, o.Origin, o.Flow, c, o.ServerName);
        }
    }

    public void OnFlowEnd(TcpFlowState flow)
    {
        if (flow.Decided)
        {
            return;
        }

        Classification c;
        if (flow.HelloSeen)
        {
            if (_classifier.Endpoints.TryMatchHost(flow.ServerName, out _))
            {
                return;
            }

            c = TransportClassifier.ClassifyShape(flow.Client.DestinationPort, flow.Alpn, flow.Shape);
        }
        else if (flow.Client.DestinationPort == TransportClassifier.DotPort && flow.SynSeen)
        {
            c = _classifier.ClassifyBareDot(flow.Client.Destination.ToIPAddress());
        }
        else
        {
            return;
        }

        if (c.Transport is not null)
        {
            FrameOrigin origin = flow.HelloSeen ? flow.HelloOrigin : flow.StartOrigin;
            long frame = flow.HelloSeen ? flow.HelloFrame : flow.StartFrame;
            JudgeEncrypted(frame, origin, flow.Client, c, flow.ServerName);
        }
    }

    private void JudgeEncrypted(long frame, FrameOrigin origin, FlowKey5 flow, Classification c, string? serverName)
    {
        Stats.EncryptedDnsFlows++;
        RouteClassResult route = _routes.Classify(origin.InterfaceName, origin.LinkType);
        if (IsSafePath(origin, route, flow, encrypted: true, serverName))
        {
            return;
        }

        List<string> why = UnsafeReasons(origin, route, flow, encrypted: true);
        why.Insert(0, $"encrypted DNS ({c.Transport}) outside approved egress");
        why.AddRange(c.Evidence);
        Severity severity = c.Confidence switch
        {
            Confidence.Low => Severity.P3,
            _ when route.Class == RouteClass.Virtual => Severity.P3, // inside the host: on its way out (docs/DECISIONS.md)
            Confidence.High when route.Class == RouteClass.Physical => Severity.P1,
            _ => Severity.P2,
        };
        var fakeObservation = new Observation(frame, origin, flow, ObservationKind.TlsClientHello, c.Transport!, null, serverName, [], false, 0);
        Emit(fakeObservation, flow, route, LeakType.C, severity, c.Transport!, c.Confidence, dns: null, why, serverName, c.Provider, correlation: null);
    }

    /// <summary>Whether a packet is on the safe path (docs/POLICY.md: route class, interface, resolver, approved egress, process).</summary>
    private bool IsSafePath(FrameOrigin origin, RouteClassResult route, FlowKey5 flow, bool encrypted, string? serverName)
    {
        if (_policy.IsSafeInterface(origin.InterfaceName, route.Class))
        {
            return true;
        }

        if (_policy.SafeResolvers.Count > 0 || (encrypted && (_policy.EncryptedDns.ApprovedEgress.Count > 0 || _policy.EncryptedDns.ApprovedHosts.Count > 0)))
        {
            IPAddress dst = flow.Destination.ToIPAddress();
            if (_policy.IsSafeResolver(dst, flow.DestinationPort)
                || (encrypted && _policy.IsApprovedEncryptedEgress(dst, flow.DestinationPort, serverName)))
            {
                return true;
            }
        }

        if (_policy.AllowedProcesses.Count > 0)
        {
            (ProcessInfo? process, _) = Attribute(flow, origin.TimestampNs);
            return _policy.IsAllowedProcess(process?.Name, flow.DestinationPort);
        }

        return false;
    }

    /// <summary>Why a packet is not on the safe path, in words, built only for an event.</summary>
    private List<string> UnsafeReasons(FrameOrigin origin, RouteClassResult route, FlowKey5 flow, bool encrypted)
    {
        string profile = Profiles.Name(_policy.Profile);
        return
        [
            $"interface {origin.InterfaceName} is {RouteClassifier.Name(route.Class)} ({route.Reason}), not a safe route class or safe interface in {profile}",
            encrypted
                ? $"destination {Endpoint(flow.Destination, flow.DestinationPort)} is not approved encrypted-DNS egress"
                : $"destination {Endpoint(flow.Destination, flow.DestinationPort)} is not a safe resolver",
        ];
    }

    private void Emit(
        Observation o, FlowKey5 flow, RouteClassResult route, LeakType type, Severity severity, string transport, Confidence confidence,
        DnsFacts? dns, List<string> why, string? serverName, string? provider, string? correlation,
        (ProcessInfo? Process, Attribution Attribution)? attributed = null, string[]? path = null, string[]? pathClasses = null)
    {
        (ProcessInfo? process, Attribution attribution) = attributed ?? Attribute(flow, o.Origin.TimestampNs);
        EmitForAsker(new LeakEvent
        {
            Kind = "leak",
            Timestamp = ToTime(o.Origin.TimestampNs),
            LeakType = type,
            Severity = severity,
            Transport = transport,
            Confidence = confidence,
            QName = dns?.QName,
            QType = dns is null ? null : TypeName(dns.QType),
            Interface = o.Origin.InterfaceName,
            RouteClass = RouteClassifier.Name(route.Class),
            Source = Endpoint(flow.Source, flow.SourcePort),
            Destination = Endpoint(flow.Destination, flow.DestinationPort),
            Process = process,
            Attribution = attribution,
            Evidence = why,
            Frame = o.FrameNumber,
            ServerName = serverName,
            Provider = provider,
            GeoIp = Geo(flow.Destination),
            CorrelationId = correlation,
            Path = path,
            PathRouteClasses = pathClasses,
        }, dns?.QName, dns?.QType ?? 0, o.Origin.TimestampNs);
    }

    private void EmitExfiltration(Observation o, DnsFacts dns, RouteClassResult route, string correlation, ExfiltrationFigures figures)
    {
        (ProcessInfo? process, Attribution attribution) = Attribute(o.Flow, o.Origin.TimestampNs);
        EmitForAsker(new LeakEvent
        {
            Kind = "exfiltration",
            Timestamp = ToTime(o.Origin.TimestampNs),
            LeakType = null,
            Severity = figures.Score >= 80 ? Severity.P1 : Severity.P2,
            Transport = o.Transport,
            Confidence = figures.Score >= 80 ? Confidence.High : Confidence.Medium,
            QName = dns.QName,
            QType = TypeName(dns.QType),
            Interface = o.Origin.InterfaceName,
            RouteClass = RouteClassifier.Name(route.Class),
            Source = Endpoint(o.Flow.Source, o.Flow.SourcePort),
            Destination = Endpoint(o.Flow.Destination, o.Flow.DestinationPort),
            Process = process,
            Attribution = attribution,
            Evidence =
            [
                $"{figures.UniqueSubdomains} unique names under {figures.BaseDomain} in {figures.WindowSeconds:0.#} s; score {figures.Score} ≥ {_policy.Exfiltration.ScoreThreshold}",
            ],
            Frame = o.FrameNumber,
            GeoIp = Geo(o.Flow.Destination),
            CorrelationId = correlation,
            Exfiltration = figures,
        }, dns.QName, dns.QType, o.Origin.TimestampNs);
    }

    /// <summary>
    /// Writes an event, naming the process behind a local stub when the event's sender is one: the loopback query for
    /// the same name and type that came before it. When that query has not been processed yet, the event waits for it
    /// (at most <see cref="s_askerWaitNs"/> of packet time, or the end of the run).
    /// </summary>
    private void EmitForAsker(LeakEvent e, string? qname, ushort qtype, long ns)
    {
        if (e.Process is not { } sender || qname is null || !LocalResolvers.IsLocalResolver(sender))
        {
            _emit(e);
            return;
        }

        if (FindAsker(qname, qtype, ns) is { } asker)
        {
            _emit(e with { OnBehalfOf = asker });
            return;
        }

        if (_held.Count >= MaxTableEntries)
        {
            ReleaseHeld(long.MaxValue);
        }

        _held.Add(new HeldEvent(e, qname, qtype, ns));
    }

    private OnBehalfOf? FindAsker(string qname, ushort qtype, long ns)
    {
        if (!_loopbackAsks.TryGetValue((qname.ToLowerInvariant(), qtype), out LoopbackAsk ask)
            || ask.Ns > ns + s_askerWaitNs || ns - ask.Ns > s_stubLinkNs)
        {
            return null;
        }

        Attribution attribution = ask.Attribution;
        if (ask.OtherAskers > 0)
        {
            string why = $"{ask.OtherAskers + 1} processes asked the stub for this name and type within {s_stubLinkNs / 1_000_000_000} s: the latest before the upstream query is named";
            attribution = attribution with
            {
                Confidence = attribution.Confidence > Confidence.Medium ? Confidence.Medium : attribution.Confidence,
                Reason = attribution.Reason is null ? why : attribution.Reason + "; " + why,
            };
        }

        return new OnBehalfOf(ask.Process, attribution, ask.Frame);
    }

    private void RememberAsk(string qname, ushort qtype, LoopbackAsk ask)
    {
        (string, ushort) key = (qname.ToLowerInvariant(), qtype);
        if (_loopbackAsks.TryGetValue(key, out LoopbackAsk previous) && ask.Ns - previous.Ns <= s_stubLinkNs
            && previous.Process?.Pid != ask.Process?.Pid)
        {
            ask = ask with { OtherAskers = previous.OtherAskers + 1 };
        }

        if (_loopbackAsks.Count >= MaxTableEntries && !_loopbackAsks.ContainsKey(key))
        {
            _loopbackAsks.Clear();
        }

        _loopbackAsks[key] = ask;
        for (int i = 0; i < _held.Count; i++)
        {
            HeldEvent held = _held[i];
            if (string.Equals(held.QName, qname, StringComparison.OrdinalIgnoreCase) && held.QType == qtype && FindAsker(qname, qtype, held.Ns) is { } asker)
            {
                _held.RemoveAt(i--);
                _emit(held.Event with { OnBehalfOf = asker });
            }
        }
    }

    /// <summary>Writes the waiting events older than <paramref name="beforeNs"/>, saying that no loopback query named their asker.</summary>
    private void ReleaseHeld(long beforeNs)
    {
        while (_held.Count > 0 && _held[0].Ns < beforeNs)
        {
            HeldEvent held = _held[0];
            _held.RemoveAt(0);
            _emit(held.Event with
            {
                OnBehalfOf = new OnBehalfOf(null, new Attribution(Confidence.None,
                    "no query for this name and type was seen on loopback before the stub sent it (capture lo to see who asked; or the stub asked on its own)"), 0),
            });
        }
    }

    private (ProcessInfo?, Attribution) Attribute(in FlowKey5 flow, long timestampNs) =>
        _attributor is null ? (null, Attribution.FromFile) : _attributor.Attribute(in flow, timestampNs);

    private GeoInfo? Geo(IpAddr address) => _geo?.Lookup(address.ToIPAddress());

    private string? Provider(IpAddr address) =>
        _classifier.Endpoints.TryMatchAddress(address.ToIPAddress(), out string p) ? p : null;

    private void SweepAnswers(long now)
    {
        foreach (KeyValuePair<IpAddr, AnswerRecord> kv in _answers)
        {
            if (kv.Value.ExpiresNs < now)
            {
                _answers.Remove(kv.Key);
            }
        }

        if (_answers.Count >= MaxTableEntries)
        {
            _answers.Clear(); // every entry still live: drop them rather than grow (counted as tracked, not lost evidence)
        }
    }

    private static void Remember<TKey>(Dictionary<TKey, PendingQuery> table, TKey key, PendingQuery value)
        where TKey : notnull
    {
        if (table.Count >= MaxTableEntries)
        {
            long cutoff = value.TimestampNs - s_pendingNs;
            foreach (KeyValuePair<TKey, PendingQuery> kv in table)
            {
                if (kv.Value.TimestampNs < cutoff)
                {
                    table.Remove(kv.Key);
                }
            }

            if (table.Count >= MaxTableEntries)
            {
                table.Clear();
            }
        }

        table[key] = value;
    }

    internal static DateTimeOffset ToTime(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);

    internal static string Endpoint(IpAddr address, ushort port) =>
        address.IsV4
            ? address.ToString() + ":" + port.ToString(CultureInfo.InvariantCulture)
            : "[" + address.ToString() + "]:" + port.ToString(CultureInfo.InvariantCulture);

    internal static string TypeName(ushort type) =>
        Enum.IsDefined((DnsType)type) ? ((DnsType)type).ToString() : "TYPE" + type.ToString(CultureInfo.InvariantCulture);

    /// <param name="CorrelationFrame">The frame the transaction is named after: negative for a query ("q" + frame), positive for a response seen without its query ("r" + frame).</param>
    private readonly record struct PendingQuery(
        long CorrelationFrame, string Interface, RouteClass RouteClass, long TimestampNs, string Transport, FlowKey5 Flow, string? QName)
    {
        /// <summary>Who sent the query, asked at query time (live capture only).</summary>
        public ProcessInfo? Process { get; init; }

        public Attribution? Attribution { get; init; }

        public string CorrelationId => CorrelationFrame < 0
            ? "q" + (-CorrelationFrame).ToString(CultureInfo.InvariantCulture)
            : "r" + CorrelationFrame.ToString(CultureInfo.InvariantCulture);
    }

    private readonly record struct AnswerRecord(PendingQuery Egress, string? QName, ushort QType, long ExpiresNs)
    {
        /// <summary>Packet time of the response that carried the answer.</summary>
        public long SeenNs { get; init; }
    }

    private readonly record struct RecentConnection(long Frame, FrameOrigin Origin, FlowKey5 Flow, string Kind, string? ServerName);

    /// <summary>A query seen on loopback: who asked a local stub for a name. <paramref name="OtherAskers"/> counts other processes that asked the same shortly before.</summary>
    private readonly record struct LoopbackAsk(long Ns, long Frame, ProcessInfo? Process, Attribution Attribution, int OtherAskers = 0);

    private readonly record struct HeldEvent(LeakEvent Event, string QName, ushort QType, long Ns);

    /// <summary>What the rules make of a plaintext query on one hop.</summary>
    private sealed record QueryVerdict(LeakType Type, Severity Severity, List<string> Why);

    /// <summary>One sighting of a plaintext query, judged, waiting to be reported with the rest of its path.</summary>
    private sealed record QueryHop(
        Observation Observation, DnsFacts Dns, RouteClassResult Route, string CorrelationId, ProcessInfo? Process, Attribution Attribution, QueryVerdict? Verdict)
    {
        public FrameOrigin Origin => Observation.Origin;
    }
}
