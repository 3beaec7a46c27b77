using System.Net;
using System.Text;
using DnsWarden.Policy;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Decisions;

/// <summary>
/// Applies a <see cref="ResolverPolicy"/> to one query at a time: forward it, drop it, or answer it with a message
/// written by <see cref="TryWriteAnswer"/>. Immutable after construction, so one instance serves every thread.
/// </summary>
/// <remarks>
/// Order (docs/RESOLVER.md): no header → drop; a response → drop; broken framing → FORMERR; opcode not QUERY →
/// NOTIMP; QDCOUNT not 1 → FORMERR; canary → NXDOMAIN; local records; sinkhole-all; block list (or exfiltration
/// score) → block_action; allow list / default_action; forward.
/// </remarks>
public sealed class ResolverDecider
{
    private readonly ResolverPolicy _policy;
    private readonly NameMatcher _allow;
    private readonly NameMatcher _block;
    private readonly NameMatcher _privateAnswers;
    private readonly HashSet<string> _canaries = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _localNames = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<LocalAnswer[]> _localGroups = [];
    private readonly IpAddr _sinkholeV4;
    private readonly IpAddr _sinkholeV6;
    private readonly PolicyDecision _blockDecision;
    private readonly PolicyDecision _blockByDefaultDecision;
    private readonly PolicyDecision _blockExfiltrationDecision;

    /// <param name="defaultSinkholeV4">The sinkhole A when the policy names none (null: <see cref="ResolverPolicy.DefaultSinkholeV4"/>).</param>
    public ResolverDecider(ResolverPolicy policy, IPAddress? defaultSinkholeV4 = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _policy = policy;
        _allow = new NameMatcher(policy.Allow);
        _block = new NameMatcher(policy.Block);
        _privateAnswers = new NameMatcher(policy.PrivateAnswers);
        foreach (string canary in policy.Canaries)
        {
            _canaries.Add(canary.TrimEnd('.'));
        }

        var groups = new List<List<LocalAnswer>>();
        foreach (LocalRecord record in policy.LocalRecords)
        {
            string name = record.Name.TrimEnd('.');
            if (!_localNames.TryGetValue(name, out int group))
            {
                group = groups.Count;
                _localNames.Add(name, group);
                groups.Add([]);
            }

            groups[group].Add(new LocalAnswer(record));
        }

        foreach (List<LocalAnswer> g in groups)
        {
            _localGroups.Add([.. g]);
        }

        _sinkholeV4 = IpAddr.FromIPAddress(policy.SinkholeV4 ?? defaultSinkholeV4 ?? ResolverPolicy.DefaultSinkholeV4);
        _sinkholeV6 = IpAddr.FromIPAddress(policy.SinkholeV6);
        _blockDecision = BlockDecision(policy.BlockAction, DecisionReason.Blocked);
        _blockByDefaultDecision = BlockDecision(policy.BlockAction, DecisionReason.BlockedByDefault);
        _blockExfiltrationDecision = BlockDecision(policy.BlockAction, DecisionReason.BlockedExfiltration);
    }

    public ResolverPolicy Policy => _policy;

    /// <summary>Decides without an exfiltration score.</summary>
    public PolicyDecision Decide(ReadOnlySpan<byte> query) => Decide(query, -1);

    /// <summary>
    /// Decides for <paramref name="query"/>; <paramref name="exfiltrationScore"/> is the name's current score
    /// (0–100) from the tracker, negative when unknown. Never throws and never allocates.
    /// </summary>
    public PolicyDecision Decide(ReadOnlySpan<byte> query, int exfiltrationScore)
    {
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadHeader(out DnsHeader header))
        {
            return PolicyDecision.Drop(DecisionReason.TooShort);
        }

        if (header.IsResponse)
        {
            return PolicyDecision.Drop(DecisionReason.NotAQuery);
        }

        while (reader.TryReadRecord(out _))
        {
        }

        if (!reader.IsComplete)
        {
            return PolicyDecision.Error(DecisionReason.Malformed, DnsRcode.FormErr);
        }

        if (header.Opcode != DnsOpcode.Query)
        {
            return PolicyDecision.Error(DecisionReason.OpcodeNotImplemented, DnsRcode.NotImp);
        }

        // RFC 9619 §2: a QUERY carries exactly one question.
        if (header.QuestionCount != 1)
        {
            return PolicyDecision.Error(DecisionReason.QuestionCount, DnsRcode.FormErr);
        }

        var questions = new DnsMessageReader(query);
        if (!questions.TryReadQuestion(out DnsQuestion question))
        {
            return PolicyDecision.Error(DecisionReason.Malformed, DnsRcode.FormErr);
        }

        Span<char> buffer = stackalloc char[NameMatcher.MaxKeyLength];
        if (!NameMatcher.TryGetKey(question.Name, buffer, out int length))
        {
            return PolicyDecision.Error(DecisionReason.Malformed, DnsRcode.FormErr);
        }

        ReadOnlySpan<char> name = buffer.Slice(0, length);
        if (_canaries.Count != 0 && _canaries.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name))
        {
            return PolicyDecision.Error(DecisionReason.Canary, DnsRcode.NxDomain);
        }

        if (_localNames.Count != 0 && _localNames.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out int group))
        {
            return PolicyDecision.Local(HasLocalAnswer(group, question.Type) ? DecisionReason.LocalRecord : DecisionReason.LocalNoData, group);
        }

        if (_policy.Mode == ResolverMode.SinkholeAll)
        {
            return PolicyDecision.Sinkhole(DecisionReason.SinkholeAll);
        }

        if (_block.Matches(name))
        {
            return _blockDecision;
        }

        if (exfiltrationScore >= 0 && _policy.Exfiltration.BlockScore is int limit && exfiltrationScore >= limit)
        {
            return _blockExfiltrationDecision;
        }

        if (_allow.IsEmpty)
        {
            return PolicyDecision.Forward(DecisionReason.Forwarded);
        }

        if (_allow.Matches(name))
        {
            return PolicyDecision.Forward(DecisionReason.Allowed);
        }

        return _policy.DefaultAction == ResolverDefaultAction.Allow ? PolicyDecision.Forward(DecisionReason.AllowedByDefault) : _blockByDefaultDecision;
    }

    /// <summary>
    /// The decision once the name's exfiltration score is known: a forward becomes <c>block_action</c> when the score
    /// reached <c>exfiltration.block_score</c>; any other decision stands. The engine scores only what the policy
    /// would forward, so it decides first and asks this after.
    /// </summary>
    public PolicyDecision WithExfiltrationScore(PolicyDecision decision, int exfiltrationScore) =>
        decision.Verdict == PolicyVerdict.Forward && exfiltrationScore >= 0 && _policy.Exfiltration.BlockScore is int limit && exfiltrationScore >= limit
            ? _blockExfiltrationDecision
            : decision;

    /// <summary>
    /// True when <c>private_answers</c> names the query's question: its forwarded answer may keep private, loopback
    /// and own addresses. Matches the name as asked (not a CNAME's target). Allocates nothing.
    /// </summary>
    public bool AllowsPrivateAnswers(ReadOnlySpan<byte> query)
    {
        if (_privateAnswers.IsEmpty)
        {
            return false;
        }

        var reader = new DnsMessageReader(query);
        Span<char> buffer = stackalloc char[NameMatcher.MaxKeyLength];
        return reader.TryReadQuestion(out DnsQuestion question)
            && NameMatcher.TryGetKey(question.Name, buffer, out int length)
            && _privateAnswers.Matches(buffer.Slice(0, length));
    }

    /// <summary>
    /// Writes the response an <see cref="PolicyVerdict.Answer"/> decision stands for: same ID, RD (and CD) copied,
    /// RA set, the question echoed as asked, OPT echoed when the query had one (RFC 6891 §7), AA for local and
    /// sinkhole answers. A query too broken to echo gets a bare header with its ID and opcode (RFC 1035 §4.1.1).
    /// False for Forward/Drop decisions and when <paramref name="destination"/> is too small.
    /// </summary>
    public bool TryWriteAnswer(ReadOnlySpan<byte> query, PolicyDecision decision, Span<byte> destination, out int written)
    {
        written = 0;
        if (decision.Verdict != PolicyVerdict.Answer)
        {
            return false;
        }

        var writer = new DnsMessageWriter(destination);
        switch (decision.Kind)
        {
            case AnswerKind.Rcode:
                if (writer.TryBeginResponse(query, decision.Rcode))
                {
                    if (ExtendedErrorOf(decision.Reason) is (DnsExtendedError code, string text))
                    {
                        writer.SetExtendedError(code, text);
                    }

                    return (decision.Rcode != DnsRcode.NxDomain || !IsPolicyAnswer(decision.Reason) || TryWriteNegativeSoa(query, ref writer))
                        && writer.TryFinish(out written);
                }

                return TryWriteBareHeader(query, decision.Rcode, destination, out written);
            case AnswerKind.Sinkhole:
                writer.SetExtendedError(DnsExtendedError.ForgedAnswer, "sinkhole: " + decision.ReasonText);
                return TryWriteSinkhole(query, ref writer, out written);
            case AnswerKind.Local when decision.LocalGroup >= 0 && decision.LocalGroup < _localGroups.Count:
                return TryWriteLocal(query, _localGroups[decision.LocalGroup], ref writer, out written);
            default:
                return false;
        }
    }

    /// <summary>Why a refusal the policy made is one (RFC 8914), for clients and their logs; null for protocol errors.</summary>
    private static (DnsExtendedError Code, string Text)? ExtendedErrorOf(DecisionReason reason) => reason switch
    {
        DecisionReason.Blocked => (DnsExtendedError.Blocked, "on the block list"),
        DecisionReason.BlockedByDefault => (DnsExtendedError.Blocked, "not on the allow list"),
        DecisionReason.BlockedExfiltration => (DnsExtendedError.Blocked, "exfiltration score"),
        _ => null,
    };

    /// <summary>An answer the policy chose (not a protocol error): its NXDOMAIN carries an SOA so it can be cached.</summary>
    private static bool IsPolicyAnswer(DecisionReason reason) =>
        reason is DecisionReason.Blocked or DecisionReason.BlockedByDefault or DecisionReason.BlockedExfiltration or DecisionReason.Canary;

    /// <summary>
    /// The SOA a synthesised NXDOMAIN carries in its authority section (RFC 2308 §3), owned by the name asked for, so
    /// resolvers and stubs cache the refusal for <see cref="ResolverPolicy.SinkholeTtl"/> seconds (the SOA's TTL and
    /// MINIMUM, RFC 2308 §5) instead of asking again at once.
    /// </summary>
    private bool TryWriteNegativeSoa(ReadOnlySpan<byte> query, ref DnsMessageWriter writer)
    {
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadQuestion(out DnsQuestion q))
        {
            return true;
        }

        uint ttl = _policy.SinkholeTtl;
        return writer.TryWriteSoa(
            DnsSection.Authority, q.Name, ttl, DnsNameSource.FromUtf8("localhost."u8), DnsNameSource.FromUtf8("nobody.invalid."u8),
            serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: ttl);
    }

    private bool TryWriteSinkhole(ReadOnlySpan<byte> query, ref DnsMessageWriter writer, out int written)
    {
        written = 0;
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadQuestion(out DnsQuestion q) || !writer.TryBeginResponse(query, DnsRcode.NoError, authoritative: true))
        {
            return false;
        }

        uint ttl = _policy.SinkholeTtl;
        bool ok = q.Class != DnsClass.IN || q.Type switch
        {
            DnsType.A => writer.TryWriteA(DnsSection.Answer, q.Name, ttl, _sinkholeV4),
            DnsType.AAAA => writer.TryWriteAaaa(DnsSection.Answer, q.Name, ttl, _sinkholeV6),
            _ => true,
        };
        return ok && writer.TryFinish(out written);
    }

    private static bool TryWriteLocal(ReadOnlySpan<byte> query, LocalAnswer[] group, ref DnsMessageWriter writer, out int written)
    {
        written = 0;
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadQuestion(out DnsQuestion q) || !writer.TryBeginResponse(query, DnsRcode.NoError, authoritative: true))
        {
            return false;
        }

        DnsType answerType = AnswerType(group, q.Type);
        if (q.Class is DnsClass.IN or DnsClass.ANY)
        {
            foreach (LocalAnswer a in group)
            {
                if (a.Type != answerType)
                {
                    continue;
                }

                bool ok = a.Type switch
                {
                    DnsType.A => writer.TryWriteA(DnsSection.Answer, q.Name, a.Ttl, a.Address),
                    DnsType.AAAA => writer.TryWriteAaaa(DnsSection.Answer, q.Name, a.Ttl, a.Address),
                    DnsType.CNAME => writer.TryWriteCname(DnsSection.Answer, q.Name, a.Ttl, DnsNameSource.FromText(a.Target)),
                    _ => writer.TryWriteTxt(DnsSection.Answer, q.Name, a.Ttl, a.Text),
                };
                if (!ok)
                {
                    return false;
                }
            }
        }

        return writer.TryFinish(out written);
    }

    /// <summary>
    /// RFC 1034 §3.6.2: a name with a CNAME has no other data, so the CNAME answers every type (the chain is not
    /// followed: the client asks again for the target).
    /// </summary>
    private static DnsType AnswerType(LocalAnswer[] group, DnsType asked)
    {
        if (asked != DnsType.CNAME)
        {
            foreach (LocalAnswer a in group)
            {
                if (a.Type == DnsType.CNAME)
                {
                    return DnsType.CNAME;
                }
            }
        }

        return asked;
    }

    private bool HasLocalAnswer(int group, DnsType asked)
    {
        LocalAnswer[] answers = _localGroups[group];
        DnsType type = AnswerType(answers, asked);
        foreach (LocalAnswer a in answers)
        {
            if (a.Type == type)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Header only: the query's ID, opcode and RD, QR and RA set, no sections.</summary>
    private static bool TryWriteBareHeader(ReadOnlySpan<byte> query, DnsRcode rcode, Span<byte> destination, out int written)
    {
        written = 0;
        if (!DnsHeader.TryRead(query, out DnsHeader q, out _))
        {
            return false;
        }

        var writer = new DnsMessageWriter(destination);
        DnsHeaderFlags flags = DnsHeaderFlags.Response | DnsHeaderFlags.RecursionAvailable | (q.Flags & DnsHeaderFlags.RecursionDesired);
        return writer.TryWriteHeader(q.Id, flags, q.Opcode, rcode) && writer.TryFinish(out written);
    }

    private static PolicyDecision BlockDecision(ResolverBlockAction action, DecisionReason reason) => action switch
    {
        ResolverBlockAction.Refused => PolicyDecision.Error(reason, DnsRcode.Refused),
        ResolverBlockAction.Sinkhole => PolicyDecision.Sinkhole(reason),
        _ => PolicyDecision.Error(reason, DnsRcode.NxDomain),
    };

    /// <summary>A local record in wire-ready form.</summary>
    private sealed class LocalAnswer
    {
        public LocalAnswer(LocalRecord record)
        {
            Ttl = record.Ttl;
            switch (record.Type)
            {
                case LocalRecordType.A:
                    Type = DnsType.A;
                    Address = IpAddr.FromIPAddress(record.Address ?? System.Net.IPAddress.Parse(record.Value));
                    break;
                case LocalRecordType.AAAA:
                    Type = DnsType.AAAA;
                    Address = IpAddr.FromIPAddress(record.Address ?? System.Net.IPAddress.Parse(record.Value));
                    break;
                case LocalRecordType.CNAME:
                    Type = DnsType.CNAME;
                    Target = record.Value;
                    break;
                default:
                    Type = DnsType.TXT;
                    Text = Encoding.UTF8.GetBytes(record.Value);
                    break;
            }
        }

        public DnsType Type { get; }

        public uint Ttl { get; }

        public IpAddr Address { get; }

        public string Target { get; } = "";

        public byte[] Text { get; } = [];
    }
}
