using DnsWarden.Wire.Dns;

namespace DnsWarden.Resolver.Engine;

/// <summary>
/// The query the engine sends upstream, rebuilt from the client's parsed question rather than passed on as the
/// client wrote it: the client's bytes beyond the question (extra records, EDNS options such as Client Subnet or
/// cookies, padding) would otherwise reach the upstream — kilobytes per query of a channel nobody inspects.
/// </summary>
public static class UpstreamQuery
{
    /// <summary>
    /// The EDNS UDP payload size offered upstream at most: DNS Flag Day 2020's 1,232 bytes, which avoids IP
    /// fragmentation (RFC 9715); a larger answer comes truncated and is asked again over TCP.
    /// </summary>
    public const ushort MaxUdpPayloadSize = DnsMessageWriter.DefaultEdnsUdpPayloadSize;

    /// <summary>Header, the longest name, type and class, and an OPT without options: every rebuilt query fits.</summary>
    public const int MaxLength = DnsHeader.Length + DnsName.MaxWireLength + 4 + 11;

    /// <summary>
    /// Writes the upstream query for <paramref name="query"/> (a query the policy forwards: one question, opcode
    /// QUERY): the client's ID (upstreams put a fresh one on the wire), RD, CD and AD as sent (RFC 4035 §3.2.2,
    /// RFC 6840 §5.7), the question as asked (its case kept, the name uncompressed), and — only when the client sent
    /// EDNS — an OPT of version 0 with the client's payload size clamped to 512–<see cref="MaxUdpPayloadSize"/>, the
    /// DO bit as sent (RFC 3225) and no options. False when the query has no readable question.
    /// </summary>
    public static bool TryWrite(ReadOnlySpan<byte> query, Span<byte> destination, out int written)
    {
        written = 0;
        var reader = new DnsMessageReader(query);
        if (!reader.TryReadHeader(out DnsHeader header) || header.IsResponse || header.QuestionCount != 1
            || !reader.TryReadQuestion(out DnsQuestion question))
        {
            return false;
        }

        bool edns = false;
        ushort payload = 0;
        bool dnssecOk = false;
        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (record.Type == DnsType.OPT && record.TryReadOpt(out DnsOpt opt))
            {
                edns = true;
                payload = Math.Clamp(opt.UdpPayloadSize, DnsOpt.MinimumUdpPayloadSize, MaxUdpPayloadSize);
                dnssecOk = opt.DnssecOk;
                break; // RFC 6891 §6.1.1: one OPT; a second is the client's problem, not ours to pass on.
            }
        }

        DnsHeaderFlags flags = header.Flags & (DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.CheckingDisabled | DnsHeaderFlags.AuthenticData);
        var writer = new DnsMessageWriter(destination);
        if (!writer.TryWriteHeader(header.Id, flags) || !writer.TryWriteQuestion(question.Name, question.Type, question.Class))
        {
            return false;
        }

        if (edns && !writer.TryWriteOpt(payload, dnssecOk))
        {
            return false;
        }

        return writer.TryFinish(out written);
    }
}
