using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Decisions;

/// <summary>What the resolver does with a query.</summary>
public enum PolicyVerdict : byte
{
    /// <summary>Resolve upstream.</summary>
    Forward,

    /// <summary>Answer with a message the resolver writes itself (<see cref="ResolverDecider.TryWriteAnswer"/>).</summary>
    Answer,

    /// <summary>Send nothing: there is no header to answer to, or the packet is a response.</summary>
    Drop,
}

/// <summary>Why; one value per branch of <see cref="ResolverDecider.Decide(System.ReadOnlySpan{byte})"/>, for counters and the query log.</summary>
public enum DecisionReason : byte
{
    /// <summary>No list said anything: forwarded.</summary>
    Forwarded,

    /// <summary>On the allow list.</summary>
    Allowed,

    /// <summary>On neither list; default_action is allow.</summary>
    AllowedByDefault,

    /// <summary>On the block list.</summary>
    Blocked,

    /// <summary>On neither list of a non-empty allow list; default_action is block.</summary>
    BlockedByDefault,

    /// <summary>The exfiltration score of the name reached exfiltration.block_score.</summary>
    BlockedExfiltration,

    /// <summary>A canary name (DoH or Private Relay switch) answered NXDOMAIN.</summary>
    Canary,

    /// <summary>Answered from local records.</summary>
    LocalRecord,

    /// <summary>The name has local records, none of the asked type: NOERROR without answers.</summary>
    LocalNoData,

    /// <summary>mode is sinkhole-all.</summary>
    SinkholeAll,

    /// <summary>Shorter than a DNS header: dropped, nothing to answer with.</summary>
    TooShort,

    /// <summary>QR is set: a response is never answered (it could start a loop).</summary>
    NotAQuery,

    /// <summary>The message framing is broken (names, counts, lengths): FORMERR.</summary>
    Malformed,

    /// <summary>QDCOUNT is not 1 (RFC 9619): FORMERR.</summary>
    QuestionCount,

    /// <summary>OPCODE other than QUERY: NOTIMP (RFC 1035 §4.1.1).</summary>
    OpcodeNotImplemented,
}

/// <summary>Which synthesized message an <see cref="PolicyVerdict.Answer"/> stands for.</summary>
public enum AnswerKind : byte
{
    None,

    /// <summary>No answer records; <see cref="PolicyDecision.Rcode"/> says why.</summary>
    Rcode,

    /// <summary>A → the v4 sinkhole, AAAA → the v6 sinkhole, any other type NOERROR empty; AA set.</summary>
    Sinkhole,

    /// <summary>Local records of the group <see cref="PolicyDecision.LocalGroup"/>; AA set.</summary>
    Local,
}

/// <summary>A decision for one query; a plain value, so the per-query path allocates nothing.</summary>
public readonly record struct PolicyDecision(PolicyVerdict Verdict, DecisionReason Reason, AnswerKind Kind, DnsRcode Rcode, int LocalGroup)
{
    private static readonly string[] s_reasonTexts =
    [
        "forwarded",
        "allowed (allow list)",
        "allowed (not listed, default_action allow)",
        "blocked (block list)",
        "blocked (not on the allow list, default_action block)",
        "blocked (exfiltration score)",
        "canary name answered NXDOMAIN",
        "local record",
        "local name, no record of this type",
        "sinkholed (mode sinkhole-all)",
        "dropped: shorter than a DNS header",
        "dropped: a response, not a query",
        "FORMERR: malformed message",
        "FORMERR: QDCOUNT is not 1",
        "NOTIMP: opcode is not QUERY",
    ];

    /// <summary>A fixed string per reason for the query log; no formatting, no allocation.</summary>
    public string ReasonText => s_reasonTexts[(int)Reason];

    public static PolicyDecision Forward(DecisionReason reason) => new(PolicyVerdict.Forward, reason, AnswerKind.None, DnsRcode.NoError, -1);

    public static PolicyDecision Drop(DecisionReason reason) => new(PolicyVerdict.Drop, reason, AnswerKind.None, DnsRcode.NoError, -1);

    public static PolicyDecision Error(DecisionReason reason, DnsRcode rcode) => new(PolicyVerdict.Answer, reason, AnswerKind.Rcode, rcode, -1);

    public static PolicyDecision Sinkhole(DecisionReason reason) => new(PolicyVerdict.Answer, reason, AnswerKind.Sinkhole, DnsRcode.NoError, -1);

    public static PolicyDecision Local(DecisionReason reason, int group) => new(PolicyVerdict.Answer, reason, AnswerKind.Local, DnsRcode.NoError, group);

    public override string ToString() => $"{Verdict} {ReasonText}";
}
