using System.Buffers.Binary;

namespace DnsWarden.Wire.Dns;

/// <summary>
/// Walks a DNS message in place: header, then questions, then answer, authority and additional
/// records (RFC 1035 §4.1). Allocation-free; every failure leaves a reason in <see cref="Error"/>.
/// </summary>
/// <remarks>
/// <see cref="TryReadQuestion"/> and <see cref="TryReadRecord"/> return false both at the end of
/// their items (<see cref="Error"/> is <see cref="DnsError.None"/>) and on malformed input. Errors
/// are sticky. Reading a record first skips any questions not yet read.
/// </remarks>
public ref struct DnsMessageReader
{
    /// <summary>RFC 1035 §4.1.3: TYPE, CLASS, TTL, RDLENGTH after the owner name.</summary>
    private const int RecordFixedLength = 10;

    /// <summary>RFC 1035 §4.1.2: QTYPE and QCLASS after the name.</summary>
    private const int QuestionFixedLength = 4;

    private readonly ReadOnlySpan<byte> _message;
    private DnsHeader _header;
    private int _position;
    private int _questionsLeft;
    private int _answersLeft;
    private int _authorityLeft;
    private int _additionalLeft;
    private bool _headerRead;
    private DnsError _error;

    public DnsMessageReader(ReadOnlySpan<byte> message)
    {
        _message = message;
        _header = default;
        _position = 0;
        _questionsLeft = 0;
        _answersLeft = 0;
        _authorityLeft = 0;
        _additionalLeft = 0;
        _headerRead = false;
        _error = DnsError.None;
    }

    public readonly ReadOnlySpan<byte> Message => _message;

    /// <summary>Valid once <see cref="TryReadHeader"/> (or any later read) succeeded.</summary>
    public readonly DnsHeader Header => _header;

    public readonly DnsError Error => _error;

    /// <summary>Offset of the next unread byte.</summary>
    public readonly int Position => _position;

    /// <summary>True once the header and every counted question and record were read.</summary>
    public readonly bool IsComplete =>
        _headerRead && _error == DnsError.None && (_questionsLeft | _answersLeft | _authorityLeft | _additionalLeft) == 0;

    /// <summary>Bytes after the last counted record (padding or junk); meaningful when <see cref="IsComplete"/>.</summary>
    public readonly int TrailingBytes => _message.Length - _position;

    /// <summary>Section of the next record <see cref="TryReadRecord"/> will return.</summary>
    public readonly DnsSection NextSection =>
        _questionsLeft > 0 ? DnsSection.Question
        : _answersLeft > 0 ? DnsSection.Answer
        : _authorityLeft > 0 ? DnsSection.Authority
        : DnsSection.Additional;

    /// <summary>Reads and checks the whole message framing (names of owners and questions included).</summary>
    public static bool TryValidate(ReadOnlySpan<byte> message, out DnsError error)
    {
        var reader = new DnsMessageReader(message);
        while (reader.TryReadRecord(out _))
        {
        }

        error = reader.IsComplete ? DnsError.None : reader.Error;
        return reader.IsComplete;
    }

    public bool TryReadHeader(out DnsHeader header)
    {
        if (_headerRead)
        {
            header = _header;
            return true;
        }

        if (_error != DnsError.None || !DnsHeader.TryRead(_message, out header, out int consumed))
        {
            header = default;
            return Fail(DnsError.Truncated);
        }

        _header = header;
        _position = consumed;
        _questionsLeft = header.QuestionCount;
        _answersLeft = header.AnswerCount;
        _authorityLeft = header.AuthorityCount;
        _additionalLeft = header.AdditionalCount;
        _headerRead = true;
        return true;
    }

    public bool TryReadQuestion(out DnsQuestion question)
    {
        question = default;
        if (!TryReadHeader(out _) || _questionsLeft == 0)
        {
            return false;
        }

        if (!DnsName.TryRead(_message, _position, out DnsName name, out int consumed, out DnsError error))
        {
            return Fail(error);
        }

        int fixedAt = _position + consumed;
        if (_message.Length - fixedAt < QuestionFixedLength)
        {
            return Fail(DnsError.Truncated);
        }

        question = new DnsQuestion(
            name,
            (DnsType)BinaryPrimitives.ReadUInt16BigEndian(_message.Slice(fixedAt)),
            (DnsClass)BinaryPrimitives.ReadUInt16BigEndian(_message.Slice(fixedAt + 2)));
        _position = fixedAt + QuestionFixedLength;
        _questionsLeft--;
        return true;
    }

    public bool TryReadRecord(out DnsRecord record)
    {
        record = default;
        while (_questionsLeft > 0 || !_headerRead)
        {
            if (!TryReadQuestion(out _))
            {
                // Either the header is broken or a question is: the error is already recorded.
                if (_error != DnsError.None || !_headerRead)
                {
                    return false;
                }
            }
        }

        if (_error != DnsError.None)
        {
            return false;
        }

        DnsSection section;
        if (_answersLeft > 0)
        {
            section = DnsSection.Answer;
        }
        else if (_authorityLeft > 0)
        {
            section = DnsSection.Authority;
        }
        else if (_additionalLeft > 0)
        {
            section = DnsSection.Additional;
        }
        else
        {
            return false;
        }

        if (!DnsName.TryRead(_message, _position, out DnsName name, out int consumed, out DnsError error))
        {
            return Fail(error);
        }

        int fixedAt = _position + consumed;
        if (_message.Length - fixedAt < RecordFixedLength)
        {
            return Fail(DnsError.Truncated);
        }

        ReadOnlySpan<byte> f = _message.Slice(fixedAt, RecordFixedLength);
        int rdataLength = BinaryPrimitives.ReadUInt16BigEndian(f.Slice(8));
        int rdataOffset = fixedAt + RecordFixedLength;
        if (_message.Length - rdataOffset < rdataLength)
        {
            return Fail(DnsError.Truncated);
        }

        record = new DnsRecord(
            _message,
            name,
            (DnsType)BinaryPrimitives.ReadUInt16BigEndian(f),
            (DnsClass)BinaryPrimitives.ReadUInt16BigEndian(f.Slice(2)),
            BinaryPrimitives.ReadUInt32BigEndian(f.Slice(4)),
            rdataOffset,
            rdataLength,
            section);
        _position = rdataOffset + rdataLength;
        switch (section)
        {
            case DnsSection.Answer:
                _answersLeft--;
                break;
            case DnsSection.Authority:
                _authorityLeft--;
                break;
            default:
                _additionalLeft--;
                break;
        }

        return true;
    }

    private bool Fail(DnsError error)
    {
        if (_error == DnsError.None)
        {
            _error = error;
        }

        return false;
    }
}
