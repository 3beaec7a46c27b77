using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// <see cref="DnsMessageReader"/> over a whole message: header, questions, every record with every typed
/// reader, names formatted and re-encoded. A question that parsed must survive text → query → re-read unchanged.
/// </summary>
internal sealed class DnsFuzzer : IFuzzer
{
    public string Name => "Dns";

    public IReadOnlyList<byte[]> GetSeeds() => SeedCorpus.DnsMessages();

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        bool valid = DnsMessageReader.TryValidate(bytes, out DnsError validateError);
        var reader = new DnsMessageReader(bytes);
        if (!reader.TryReadHeader(out DnsHeader header))
        {
            FuzzAssert.True(!valid, "TryValidate accepted a message whose header does not read");
            return;
        }

        _ = header.ToString();
        FuzzAssert.True(header.Flags.ToString() is not null, "flags");
        int questions = 0;
        bool roundTripped = false;
        while (reader.TryReadQuestion(out DnsQuestion question))
        {
            questions++;
            CheckName(question.Name, bytes, "question");
            _ = question.ToString();
            if (!roundTripped)
            {
                roundTripped = true;
                RoundTrip(question, header.Id);
            }
        }

        int records = 0;
        while (reader.TryReadRecord(out DnsRecord record))
        {
            records++;
            CheckRecord(record, bytes);
        }

        FuzzAssert.True(questions <= header.QuestionCount, $"{questions} questions read, header says {header.QuestionCount}");
        FuzzAssert.True(records <= header.RecordCount, $"{records} records read, header says {header.RecordCount}");
        FuzzAssert.True(reader.Position >= 0 && reader.Position <= bytes.Length, $"Position {reader.Position} outside the message");
        FuzzAssert.True(
            reader.IsComplete == valid,
            $"reading to the end gives IsComplete={reader.IsComplete} ({reader.Error}) but TryValidate={valid} ({validateError})");
        if (reader.IsComplete)
        {
            FuzzAssert.True(questions == header.QuestionCount && records == header.RecordCount, "complete but counts short");
            FuzzAssert.True(reader.Error == DnsError.None, $"complete with error {reader.Error}");
        }
    }

    private static void RoundTrip(DnsQuestion question, ushort id)
    {
        string text = question.Name.ToString();
        Span<byte> query = stackalloc byte[512];
        bool written = DnsMessageWriter.TryWriteQuery(query, id, text, question.Type, recursionDesired: true, null, out int n);
        FuzzAssert.True(written, $"the formatted question name \"{text}\" does not encode back");

        Span<byte> direct = stackalloc byte[512];
        bool writtenDirect = DnsMessageWriter.TryWriteQuery(direct, id, DnsNameSource.FromName(question.Name), question.Type, true, null, out int m);
        FuzzAssert.True(writtenDirect, $"the parsed name \"{text}\" does not encode from the message");
        FuzzAssert.True(query.Slice(0, n).SequenceEqual(direct.Slice(0, m)), $"\"{text}\": text and name paths encode differently");

        var again = new DnsMessageReader(query.Slice(0, n));
        FuzzAssert.True(again.TryReadQuestion(out DnsQuestion reread), $"re-encoded query for \"{text}\" does not read: {again.Error}");
        FuzzAssert.True(reread.Type == question.Type && reread.Class == DnsClass.IN, "type or class changed");
        FuzzAssert.True(reread.Name.Equals(question.Name), $"\"{text}\" came back as \"{reread.Name.ToString()}\"");

        Span<byte> a = stackalloc byte[DnsName.MaxWireLength];
        Span<byte> b = stackalloc byte[DnsName.MaxWireLength];
        bool wroteA = question.Name.TryWriteUncompressed(a, out int la);
        bool wroteB = reread.Name.TryWriteUncompressed(b, out int lb);
        FuzzAssert.True(wroteA && wroteB, "uncompressed write");
        FuzzAssert.True(a.Slice(0, la).SequenceEqual(b.Slice(0, lb)), $"\"{text}\" changed its octets in the round trip");
        FuzzAssert.True(DnsMessageReader.TryValidate(query.Slice(0, n), out DnsError error), $"re-encoded query invalid: {error}");
    }

    private static void CheckName(DnsName name, ReadOnlySpan<byte> message, string where)
    {
        FuzzAssert.True(!name.IsEmpty, $"{where}: an empty name was returned as read");
        FuzzAssert.InRange(name.Offset, name.WireLengthInMessage, message.Length, where + " name");
        FuzzAssert.True(name.EncodedLength is >= 1 and <= DnsName.MaxWireLength, $"{where}: EncodedLength {name.EncodedLength}");

        int labels = 0;
        int encoded = 1;
        foreach (ReadOnlySpan<byte> label in name)
        {
            FuzzAssert.True(label.Length is >= 1 and <= DnsName.MaxLabelLength, $"{where}: label of {label.Length} bytes");
            labels++;
            encoded += 1 + label.Length;
        }

        FuzzAssert.True(labels == name.LabelCount, $"{where}: {labels} labels enumerated, LabelCount {name.LabelCount}");
        FuzzAssert.True(encoded == name.EncodedLength, $"{where}: labels add up to {encoded}, EncodedLength {name.EncodedLength}");

        int formatted = name.GetFormattedLength();
        FuzzAssert.True(formatted is >= 1 and <= DnsName.MaxFormattedLength, $"{where}: formatted length {formatted}");
        Span<char> chars = stackalloc char[DnsName.MaxFormattedLength];
        FuzzAssert.True(name.TryFormat(chars, out int charsWritten) && charsWritten == formatted, $"{where}: TryFormat wrote {charsWritten}, expected {formatted}");
        // A failed TryFormat may leave anything in its destination (as in .NET's ISpanFormattable), so probe a copy.
        Span<char> small = stackalloc char[formatted - 1];
        FuzzAssert.True(!name.TryFormat(small, out _), $"{where}: TryFormat fit into too small a buffer");
        Span<byte> utf8 = stackalloc byte[DnsName.MaxFormattedLength];
        FuzzAssert.True(name.TryFormatUtf8(utf8, out int bytesWritten) && bytesWritten == formatted, $"{where}: TryFormatUtf8 wrote {bytesWritten}");
        for (int i = 0; i < formatted; i++)
        {
            FuzzAssert.True(chars[i] == utf8[i] && chars[i] is > ' ' and < (char)0x7F, $"{where}: formatted text has 0x{(int)chars[i]:x2} at {i}");
        }

        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        FuzzAssert.True(name.TryWriteUncompressed(wire, out int wireLength) && wireLength == name.EncodedLength, $"{where}: uncompressed length {wireLength}");
        FuzzAssert.True(name.Equals(name), $"{where}: a name is not equal to itself");
        FuzzAssert.True(name.EqualsAscii(chars.Slice(0, formatted)) || chars.Slice(0, formatted).Contains('\\'), $"{where}: EqualsAscii of its own text failed");
        FuzzAssert.True(name.IsSubdomainOf(name), $"{where}: not a subdomain of itself");
        FuzzAssert.True(name.IsSubdomainOf("."), $"{where}: not under the root");
        _ = name.IsSubdomainOf("example.com");
        _ = name.GetHashCodeIgnoreCase();
    }

    private static void CheckRecord(DnsRecord record, ReadOnlySpan<byte> message)
    {
        CheckName(record.Name, message, "owner");
        FuzzAssert.InRange(record.RdataOffset, record.RdataLength, message.Length, "RDATA");
        ReadOnlySpan<byte> rdata = record.Rdata;
        _ = record.ToString();

        if (record.TryReadA(out IpAddr a))
        {
            FuzzAssert.True(a.IsV4 && record.RdataLength == 4, "A");
        }

        if (record.TryReadAaaa(out IpAddr aaaa))
        {
            FuzzAssert.True(record.RdataLength == 16, "AAAA");
            _ = aaaa.ToString();
        }

        _ = record.TryReadAddress(out _);
        if (record.TryReadName(out DnsName target))
        {
            CheckName(target, message, "rdata name");
        }

        if (record.TryReadTxt(out DnsCharacterStrings txt))
        {
            CheckStrings(txt, rdata.Length);
        }

        if (record.TryReadNull(out ReadOnlySpan<byte> data))
        {
            FuzzAssert.True(data.Length == record.RdataLength, "NULL length");
        }

        if (record.TryReadSoa(out DnsSoa soa))
        {
            CheckName(soa.PrimaryServer, message, "SOA mname");
            CheckName(soa.ResponsibleMailbox, message, "SOA rname");
            FuzzAssert.True(soa.NegativeTtl(record.Ttl) <= record.Ttl, "SOA negative TTL");
        }

        if (record.TryReadMx(out DnsMx mx))
        {
            CheckName(mx.Exchange, message, "MX exchange");
        }

        if (record.TryReadSrv(out DnsSrv srv))
        {
            CheckName(srv.Target, message, "SRV target");
        }

        if (record.TryReadSvcb(out DnsSvcb svcb))
        {
            CheckName(svcb.Target, message, "SVCB target");
            CheckSvcParams(svcb.Params, rdata.Length);
        }

        if (record.TryReadOpt(out DnsOpt opt))
        {
            _ = opt.GetRcode(default);
            int count = 0;
            foreach (DnsEdnsOption option in opt.Options)
            {
                count++;
                FuzzAssert.True(option.Data.Length <= rdata.Length, "EDNS option longer than RDATA");
                _ = opt.Options.TryGet(option.Code, out _);
            }

            FuzzAssert.True(count == opt.Options.Count, $"{count} EDNS options enumerated, Count {opt.Options.Count}");
        }

        // The static readers over the same bytes, whatever the record's type says.
        _ = DnsRdata.TryReadName(message, record.RdataOffset, record.RdataLength, out _, out _);
        _ = DnsSoa.TryRead(message, record.RdataOffset, record.RdataLength, out _, out _);
        _ = DnsMx.TryRead(message, record.RdataOffset, record.RdataLength, out _, out _);
        _ = DnsSrv.TryRead(message, record.RdataOffset, record.RdataLength, out _, out _);
        if (DnsSvcb.TryRead(message, record.RdataOffset, record.RdataLength, out DnsSvcb anySvcb, out _))
        {
            CheckName(anySvcb.Target, message, "SVCB target (any type)");
            CheckSvcParams(anySvcb.Params, rdata.Length);
        }

        for (int i = 0; i < 2; i++)
        {
            if (DnsCharacterStrings.TryRead(rdata, allowEmptyStrings: i == 0, out DnsCharacterStrings strings, out _))
            {
                CheckStrings(strings, rdata.Length);
            }
        }

        if (DnsEdnsOptions.TryRead(rdata, out DnsEdnsOptions options, out _))
        {
            int count = 0;
            foreach (DnsEdnsOption option in options)
            {
                count++;
                _ = option.KnownCode;
            }

            FuzzAssert.True(count == options.Count, "EDNS option count");
        }

        if (DnsSvcParams.TryRead(rdata, out DnsSvcParams parameters, out _))
        {
            CheckSvcParams(parameters, rdata.Length);
        }
    }

    private static void CheckStrings(DnsCharacterStrings strings, int rdataLength)
    {
        int count = 0;
        int total = 0;
        foreach (ReadOnlySpan<byte> s in strings)
        {
            count++;
            total += s.Length;
            FuzzAssert.True(s.Length <= 255, "character-string over 255 bytes");
        }

        FuzzAssert.True(count == strings.Count && total == strings.TotalLength, $"strings: {count}/{total} vs {strings.Count}/{strings.TotalLength}");
        FuzzAssert.True(total + count <= rdataLength, "strings larger than RDATA");
        Span<byte> concatenated = stackalloc byte[ushort.MaxValue];
        FuzzAssert.True(strings.TryCopyConcatenated(concatenated, out int n) && n == total, "TryCopyConcatenated");
        if (total > 0)
        {
            FuzzAssert.True(!strings.TryCopyConcatenated(concatenated.Slice(0, total - 1), out _), "TryCopyConcatenated fit into too small a buffer");
        }
    }

    private static void CheckSvcParams(DnsSvcParams parameters, int rdataLength)
    {
        int count = 0;
        foreach (DnsSvcParam p in parameters)
        {
            count++;
            FuzzAssert.True(p.Value.Length <= rdataLength, "SvcParam value longer than RDATA");
            FuzzAssert.True(parameters.Contains(p.Key), $"enumerated key {p.Key} not found by Contains");
        }

        FuzzAssert.True(count == parameters.Count, $"{count} SvcParams enumerated, Count {parameters.Count}");
        _ = parameters.HasEch;
        _ = parameters.HasNoDefaultAlpn;
        _ = parameters.TryGetEch(out _);
        _ = parameters.TryGetPort(out _);
        if (parameters.TryGetAlpn(out DnsCharacterStrings alpn))
        {
            CheckStrings(alpn, rdataLength);
        }

        if (parameters.TryGetIpv4Hint(out DnsAddressList v4))
        {
            foreach (IpAddr address in v4)
            {
                FuzzAssert.True(address.IsV4, "ipv4hint holds a non-IPv4 address");
            }
        }

        if (parameters.TryGetIpv6Hint(out DnsAddressList v6))
        {
            foreach (IpAddr address in v6)
            {
                _ = address;
            }

            FuzzAssert.True(v6.Count * 16 <= rdataLength, "ipv6hint count");
        }
    }
}
