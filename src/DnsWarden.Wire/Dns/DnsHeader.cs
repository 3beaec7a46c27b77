using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace DnsWarden.Wire.Dns;

/// <summary>The fixed 12-byte DNS message header (RFC 1035 §4.1.1).</summary>
public readonly struct DnsHeader : IEquatable<DnsHeader>
{
    /// <summary>RFC 1035 §4.1.1: ID, flags and four 16-bit counts.</summary>
    public const int Length = 12;

    private const int OpcodeShift = 11;
    private const ushort OpcodeMask = 0x7800;
    private const ushort RcodeMask = 0x000F;

    public DnsHeader(ushort id, ushort flags, ushort questionCount, ushort answerCount, ushort authorityCount, ushort additionalCount)
    {
        Id = id;
        RawFlags = flags;
        QuestionCount = questionCount;
        AnswerCount = answerCount;
        AuthorityCount = authorityCount;
        AdditionalCount = additionalCount;
    }

    public ushort Id { get; }

    /// <summary>The whole second 16-bit word: QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE.</summary>
    public ushort RawFlags { get; }

    public ushort QuestionCount { get; }

    public ushort AnswerCount { get; }

    public ushort AuthorityCount { get; }

    public ushort AdditionalCount { get; }

    public DnsHeaderFlags Flags => (DnsHeaderFlags)(RawFlags & ~(OpcodeMask | RcodeMask));

    public bool IsResponse => (RawFlags & (ushort)DnsHeaderFlags.Response) != 0;

    public DnsOpcode Opcode => (DnsOpcode)((RawFlags & OpcodeMask) >> OpcodeShift);

    public bool AuthoritativeAnswer => (RawFlags & (ushort)DnsHeaderFlags.AuthoritativeAnswer) != 0;

    public bool Truncated => (RawFlags & (ushort)DnsHeaderFlags.Truncated) != 0;

    public bool RecursionDesired => (RawFlags & (ushort)DnsHeaderFlags.RecursionDesired) != 0;

    public bool RecursionAvailable => (RawFlags & (ushort)DnsHeaderFlags.RecursionAvailable) != 0;

    public bool AuthenticData => (RawFlags & (ushort)DnsHeaderFlags.AuthenticData) != 0;

    public bool CheckingDisabled => (RawFlags & (ushort)DnsHeaderFlags.CheckingDisabled) != 0;

    /// <summary>The low 4 bits of the response code; the EDNS OPT record may extend it (RFC 6891 §6.1.3).</summary>
    public DnsRcode Rcode => (DnsRcode)(RawFlags & RcodeMask);

    /// <summary>Total records after the question section.</summary>
    public int RecordCount => AnswerCount + AuthorityCount + AdditionalCount;

    /// <summary>Builds the flags word; only the low 4 bits of <paramref name="rcode"/> fit the header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ComposeFlags(DnsHeaderFlags flags, DnsOpcode opcode, DnsRcode rcode) =>
        (ushort)(((ushort)flags & ~(OpcodeMask | RcodeMask)) | (((int)opcode << OpcodeShift) & OpcodeMask) | ((ushort)rcode & RcodeMask));

    public static bool TryRead(ReadOnlySpan<byte> src, out DnsHeader header, out int bytesConsumed)
    {
        if (src.Length < Length)
        {
            header = default;
            bytesConsumed = 0;
            return false;
        }

        header = new DnsHeader(
            BinaryPrimitives.ReadUInt16BigEndian(src),
            BinaryPrimitives.ReadUInt16BigEndian(src.Slice(2)),
            BinaryPrimitives.ReadUInt16BigEndian(src.Slice(4)),
            BinaryPrimitives.ReadUInt16BigEndian(src.Slice(6)),
            BinaryPrimitives.ReadUInt16BigEndian(src.Slice(8)),
            BinaryPrimitives.ReadUInt16BigEndian(src.Slice(10)));
        bytesConsumed = Length;
        return true;
    }

    public bool TryWrite(Span<byte> dst, out int bytesWritten)
    {
        if (dst.Length < Length)
        {
            bytesWritten = 0;
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(dst, Id);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), RawFlags);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(4), QuestionCount);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), AnswerCount);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(8), AuthorityCount);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(10), AdditionalCount);
        bytesWritten = Length;
        return true;
    }

    public bool Equals(DnsHeader other) =>
        Id == other.Id && RawFlags == other.RawFlags && QuestionCount == other.QuestionCount && AnswerCount == other.AnswerCount
        && AuthorityCount == other.AuthorityCount && AdditionalCount == other.AdditionalCount;

    public override bool Equals(object? obj) => obj is DnsHeader other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Id, RawFlags, QuestionCount, AnswerCount, AuthorityCount, AdditionalCount);

    public override string ToString() =>
        $"id={Id} {(IsResponse ? "response" : "query")} opcode={Opcode} rcode={Rcode} flags={Flags} qd={QuestionCount} an={AnswerCount} ns={AuthorityCount} ar={AdditionalCount}";

    public static bool operator ==(DnsHeader left, DnsHeader right) => left.Equals(right);

    public static bool operator !=(DnsHeader left, DnsHeader right) => !left.Equals(right);
}
