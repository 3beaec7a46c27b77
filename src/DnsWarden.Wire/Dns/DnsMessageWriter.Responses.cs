namespace DnsWarden.Wire.Dns;

public ref partial struct DnsMessageWriter
{
    /// <summary>
    /// Writes a whole query: header (RD as asked), one question, and an OPT record when
    /// <paramref name="ednsUdpPayloadSize"/> is given (RFC 6891 §6.2.3).
    /// </summary>
    public static bool TryWriteQuery(
        Span<byte> destination, ushort id, scoped DnsNameSource name, DnsType type, bool recursionDesired, ushort? ednsUdpPayloadSize, out int bytesWritten)
    {
        var writer = new DnsMessageWriter(destination);
        bytesWritten = 0;
        DnsHeaderFlags flags = recursionDesired ? DnsHeaderFlags.RecursionDesired : DnsHeaderFlags.None;
        if (!writer.TryWriteHeader(id, flags) || !writer.TryWriteQuestion(name, type))
        {
            return false;
        }

        if (ednsUdpPayloadSize is ushort size && !writer.TryWriteOpt(size))
        {
            return false;
        }

        return writer.TryFinish(out bytesWritten);
    }

    /// <summary>
    /// Starts a response to <paramref name="query"/>: same ID, OPCODE, RD and CD (RFC 1035 §4.1.1,
    /// RFC 4035 §3.1.6), QR and RA set, the questions copied as they were asked (case kept for
    /// 0x20-randomising clients). If the query had OPT, <see cref="TryFinish"/> echoes one with the
    /// DO bit copied (RFC 6891 §7, RFC 3225 §3). Follow with answers and <see cref="TryFinish"/>.
    /// </summary>
    public bool TryBeginResponse(
        scoped ReadOnlySpan<byte> query,
        DnsRcode rcode,
        bool authoritative = false,
        ushort udpPayloadSize = DefaultEdnsUdpPayloadSize)
    {
        if (_headerWritten)
        {
            return Fail(DnsError.InvalidState);
        }

        var reader = new DnsMessageReader(query);
        if (!reader.TryReadHeader(out DnsHeader q))
        {
            return Fail(reader.Error);
        }

        if (q.IsResponse)
        {
            return Fail(DnsError.NotAQuery);
        }

        // Check the whole query first (and find its OPT) so a malformed one gets no half-built answer.
        bool hasOpt = false;
        bool dnssecOk = false;
        while (reader.TryReadRecord(out DnsRecord r))
        {
            if (r.Type == DnsType.OPT && r.Section == DnsSection.Additional && DnsOpt.TryRead(r, out DnsOpt opt, out _))
            {
                hasOpt = true;
                dnssecOk = opt.DnssecOk;
            }
        }

        if (!reader.IsComplete)
        {
            return Fail(reader.Error);
        }

        DnsHeaderFlags flags = DnsHeaderFlags.Response | DnsHeaderFlags.RecursionAvailable
            | (q.Flags & (DnsHeaderFlags.RecursionDesired | DnsHeaderFlags.CheckingDisabled))
            | (authoritative ? DnsHeaderFlags.AuthoritativeAnswer : DnsHeaderFlags.None);
        if (!TryWriteHeader(q.Id, flags, q.Opcode, rcode))
        {
            return false;
        }

        var questions = new DnsMessageReader(query);
        while (questions.TryReadQuestion(out DnsQuestion question))
        {
            if (!TryWriteQuestion(DnsNameSource.FromName(question.Name), question.Type, question.Class))
            {
                return false;
            }
        }

        _echoOpt = hasOpt;
        _echoDnssecOk = dnssecOk;
        _echoUdpPayloadSize = udpPayloadSize;
        return true;
    }

    /// <summary>A complete answerless response with <paramref name="rcode"/> (REFUSED, SERVFAIL, NXDOMAIN, FORMERR…).</summary>
    public static bool TryWriteErrorResponse(ReadOnlySpan<byte> query, Span<byte> destination, DnsRcode rcode, out int bytesWritten)
    {
        var writer = new DnsMessageWriter(destination);
        bytesWritten = 0;
        return writer.TryBeginResponse(query, rcode) && writer.TryFinish(out bytesWritten);
    }

    /// <summary>
    /// As <see cref="TryWriteErrorResponse(ReadOnlySpan{byte}, Span{byte}, DnsRcode, out int)"/>, saying why with an
    /// Extended DNS Error (RFC 8914) when the query had OPT.
    /// </summary>
    public static bool TryWriteErrorResponse(ReadOnlySpan<byte> query, Span<byte> destination, DnsRcode rcode, DnsExtendedError reason, string? extraText, out int bytesWritten)
    {
        var writer = new DnsMessageWriter(destination);
        bytesWritten = 0;
        if (!writer.TryBeginResponse(query, rcode))
        {
            return false;
        }

        writer.SetExtendedError(reason, extraText);
        return writer.TryFinish(out bytesWritten);
    }

    public static bool TryWriteRefused(ReadOnlySpan<byte> query, Span<byte> destination, out int bytesWritten) =>
        TryWriteErrorResponse(query, destination, DnsRcode.Refused, out bytesWritten);

    public static bool TryWriteServFail(ReadOnlySpan<byte> query, Span<byte> destination, out int bytesWritten) =>
        TryWriteErrorResponse(query, destination, DnsRcode.ServFail, out bytesWritten);

    /// <summary>NXDOMAIN without SOA (not negatively cacheable, RFC 2308 §5).</summary>
    public static bool TryWriteNxDomain(ReadOnlySpan<byte> query, Span<byte> destination, out int bytesWritten) =>
        TryWriteErrorResponse(query, destination, DnsRcode.NxDomain, out bytesWritten);

    /// <summary>NXDOMAIN with the zone's SOA in the authority section so resolvers can cache it (RFC 2308 §3).</summary>
    public static bool TryWriteNxDomain(
        ReadOnlySpan<byte> query,
        Span<byte> destination,
        scoped DnsNameSource zone,
        uint soaTtl,
        scoped DnsNameSource primaryServer,
        scoped DnsNameSource responsibleMailbox,
        uint serial,
        uint refresh,
        uint retry,
        uint expire,
        uint minimum,
        out int bytesWritten)
    {
        var writer = new DnsMessageWriter(destination);
        bytesWritten = 0;
        return writer.TryBeginResponse(query, DnsRcode.NxDomain, authoritative: true)
            && writer.TryWriteSoa(DnsSection.Authority, zone, soaTtl, primaryServer, responsibleMailbox, serial, refresh, retry, expire, minimum)
            && writer.TryFinish(out bytesWritten);
    }
}
