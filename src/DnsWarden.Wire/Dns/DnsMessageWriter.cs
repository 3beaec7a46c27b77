using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Dns;

/// <summary>
/// Builds a DNS message into a caller's buffer with name compression (RFC 1035 §4.1.4) and no
/// allocation. Sections must be written in order; counts in the header follow each record.
/// </summary>
/// <remarks>
/// A failed call leaves the message as it was before the call (the partial item is rolled back)
/// and records the reason in <see cref="Error"/>. A record can also be built piecewise with
/// <see cref="TryBeginRecord"/>, the <c>TryWriteRdata…</c> methods and <see cref="TryEndRecord"/>.
/// </remarks>
public ref partial struct DnsMessageWriter
{
    /// <summary>Names remembered as compression targets; later suffixes beyond this are written in full.</summary>
    public const int CompressionSlots = 32;

    /// <summary>DNS Flag Day 2020 recommendation, avoiding IP fragmentation.</summary>
    public const ushort DefaultEdnsUdpPayloadSize = 1232;

    /// <summary>RFC 1035 §4.1.4: pointers carry 14-bit offsets.</summary>
    private const int MaxPointerOffset = 0x3FFF;

    /// <summary>TYPE, CLASS, TTL, RDLENGTH (RFC 1035 §4.1.3).</summary>
    private const int RecordFixedLength = 10;

    /// <summary>RFC 6891 §6.1.3: DO is the top bit of the OPT flags in the TTL field.</summary>
    private const uint OptDnssecOk = 0x8000;

    private readonly Span<byte> _buffer;
    private int _position;
    private DnsSection _section;
    private bool _headerWritten;
    private int _recordStart;
    private int _recordOffsetCount;
    private DnsSection _recordPreviousSection;
    private int _rdlengthAt;
    private OffsetTable _offsets;
    private int _offsetCount;
    private DnsError _error;
    private byte _extendedRcode;
    private bool _optWritten;
    private bool _echoOpt;
    private bool _echoDnssecOk;
    private ushort _echoUdpPayloadSize;
    private int _echoExtendedError;
    private string? _echoExtendedErrorText;

    public DnsMessageWriter(Span<byte> destination)
    {
        _buffer = destination;
        _position = 0;
        _section = DnsSection.Question;
        _headerWritten = false;
        _recordStart = -1;
        _recordOffsetCount = 0;
        _recordPreviousSection = DnsSection.Question;
        _rdlengthAt = -1;
        _offsets = default;
        _offsetCount = 0;
        _error = DnsError.None;
        _extendedRcode = 0;
        _optWritten = false;
        _echoOpt = false;
        _echoDnssecOk = false;
        _echoUdpPayloadSize = 0;
        _echoExtendedError = -1;
        _echoExtendedErrorText = null;
    }

    public readonly int BytesWritten => _position;

    /// <summary>The reason of the last failed call.</summary>
    public readonly DnsError Error => _error;

    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer.Slice(0, _position);

    /// <summary>Starts the message; counts start at zero and grow with each item written.</summary>
    public bool TryWriteHeader(ushort id, DnsHeaderFlags flags, DnsOpcode opcode = DnsOpcode.Query, DnsRcode rcode = DnsRcode.NoError)
    {
        if (_headerWritten)
        {
            return Fail(DnsError.InvalidState);
        }

        var header = new DnsHeader(id, DnsHeader.ComposeFlags(flags, opcode, rcode), 0, 0, 0, 0);
        if (!header.TryWrite(_buffer, out _position))
        {
            return Fail(DnsError.BufferTooSmall);
        }

        // RFC 6891 §6.1.3: RCODEs above 15 keep their upper 8 bits in OPT.
        _extendedRcode = (byte)((int)rcode >> 4);
        _headerWritten = true;
        return true;
    }

    public bool TryWriteQuestion(scoped DnsNameSource name, DnsType type, DnsClass @class = DnsClass.IN)
    {
        if (!_headerWritten || _recordStart >= 0 || _section != DnsSection.Question)
        {
            return Fail(DnsError.InvalidState);
        }

        int start = _position;
        int offsets = _offsetCount;
        if (!TryWriteName(name, compress: true) || !TryWriteUInt16((ushort)type) || !TryWriteUInt16((ushort)@class)
            || !TryIncrementCount(DnsSection.Question))
        {
            return Rollback(start, offsets);
        }

        return true;
    }

    /// <summary>Writes owner, TYPE, CLASS, TTL and reserves RDLENGTH; follow with RDATA writes and <see cref="TryEndRecord"/>.</summary>
    public bool TryBeginRecord(DnsSection section, scoped DnsNameSource name, DnsType type, DnsClass @class, uint ttl)
    {
        if (!_headerWritten || _recordStart >= 0 || section == DnsSection.Question || section < _section)
        {
            return Fail(DnsError.InvalidState);
        }

        int start = _position;
        int offsets = _offsetCount;
        if (!TryWriteName(name, compress: true))
        {
            return Rollback(start, offsets);
        }

        if (_buffer.Length - _position < RecordFixedLength)
        {
            return Rollback(start, offsets, DnsError.BufferTooSmall);
        }

        Span<byte> f = _buffer.Slice(_position, RecordFixedLength);
        BinaryPrimitives.WriteUInt16BigEndian(f, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(f.Slice(2), (ushort)@class);
        BinaryPrimitives.WriteUInt32BigEndian(f.Slice(4), ttl);
        _rdlengthAt = _position + 8;
        _position += RecordFixedLength;
        _recordStart = start;
        _recordOffsetCount = offsets;
        _recordPreviousSection = _section;
        _section = section;
        return true;
    }

    /// <summary>
    /// Writes a name into RDATA. Compress only for the RFC 1035 types (CNAME, NS, PTR, SOA, MX):
    /// RFC 3597 §4 forbids it for others.
    /// </summary>
    public bool TryWriteRdataName(scoped DnsNameSource name, bool compress) =>
        RequireRecord() && (TryWriteName(name, compress) || AbortRecord());

    public bool TryWriteRdata(scoped ReadOnlySpan<byte> bytes)
    {
        if (!RequireRecord())
        {
            return false;
        }

        if (!bytes.TryCopyTo(_buffer.Slice(_position)))
        {
            _error = DnsError.BufferTooSmall;
            return AbortRecord();
        }

        _position += bytes.Length;
        return true;
    }

    public bool TryWriteRdataUInt16(ushort value) => RequireRecord() && (TryWriteUInt16(value) || AbortRecord());

    public bool TryWriteRdataUInt32(uint value) => RequireRecord() && (TryWriteUInt32(value) || AbortRecord());

    /// <summary>A &lt;character-string&gt; (RFC 1035 §3.3): up to 255 octets after a length octet.</summary>
    public bool TryWriteRdataCharacterString(scoped ReadOnlySpan<byte> value)
    {
        if (value.Length > byte.MaxValue)
        {
            _error = DnsError.BadRdata;
            return _recordStart >= 0 && AbortRecord();
        }

        return RequireRecord() && (TryWriteByte((byte)value.Length) || AbortRecord()) && TryWriteRdata(value);
    }

    /// <summary>Fills in RDLENGTH and counts the record in its section.</summary>
    public bool TryEndRecord()
    {
        if (!RequireRecord())
        {
            return false;
        }

        int rdlength = _position - _rdlengthAt - 2;
        if (rdlength > ushort.MaxValue)
        {
            _error = DnsError.BadRdata;
            return AbortRecord();
        }

        if (!TryIncrementCount(_section))
        {
            return AbortRecord();
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.Slice(_rdlengthAt), (ushort)rdlength);
        _recordStart = -1;
        _rdlengthAt = -1;
        return true;
    }

    /// <summary>A record with RDATA given as raw octets (RFC 3597 style).</summary>
    public bool TryWriteRecord(DnsSection section, scoped DnsNameSource name, DnsType type, DnsClass @class, uint ttl, scoped ReadOnlySpan<byte> rdata) =>
        TryBeginRecord(section, name, type, @class, ttl) && TryWriteRdata(rdata) && TryEndRecord();

    /// <summary>A record (RFC 1035 §3.4.1); the address must be IPv4.</summary>
    public bool TryWriteA(DnsSection section, scoped DnsNameSource name, uint ttl, IpAddr address)
    {
        if (!address.IsV4)
        {
            return Fail(DnsError.BadRdata);
        }

        return TryBeginRecord(section, name, DnsType.A, DnsClass.IN, ttl) && TryWriteRdataUInt32(address.V4) && TryEndRecord();
    }

    /// <summary>AAAA record (RFC 3596 §2.2); an IPv4 address is written IPv4-mapped.</summary>
    public bool TryWriteAaaa(DnsSection section, scoped DnsNameSource name, uint ttl, IpAddr address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.IsV4)
        {
            bytes.Clear();
            bytes[10] = 0xFF;
            bytes[11] = 0xFF;
            BinaryPrimitives.WriteUInt32BigEndian(bytes.Slice(12), address.V4);
        }
        else
        {
            address.TryWriteBytes(bytes, out _);
        }

        return TryWriteRecord(section, name, DnsType.AAAA, DnsClass.IN, ttl, bytes);
    }

    /// <summary>CNAME, NS, PTR (target compressed, RFC 1035 §3.3) or DNAME (uncompressed, RFC 6672 §2.5).</summary>
    public bool TryWriteNameRecord(DnsSection section, scoped DnsNameSource name, DnsType type, uint ttl, scoped DnsNameSource target)
    {
        if (type is not (DnsType.CNAME or DnsType.NS or DnsType.PTR or DnsType.DNAME))
        {
            return Fail(DnsError.WrongType);
        }

        return TryBeginRecord(section, name, type, DnsClass.IN, ttl) && TryWriteRdataName(target, compress: type != DnsType.DNAME) && TryEndRecord();
    }

    public bool TryWriteCname(DnsSection section, scoped DnsNameSource name, uint ttl, scoped DnsNameSource target) =>
        TryWriteNameRecord(section, name, DnsType.CNAME, ttl, target);

    public bool TryWritePtr(DnsSection section, scoped DnsNameSource name, uint ttl, scoped DnsNameSource target) =>
        TryWriteNameRecord(section, name, DnsType.PTR, ttl, target);

    public bool TryWriteNs(DnsSection section, scoped DnsNameSource name, uint ttl, scoped DnsNameSource target) =>
        TryWriteNameRecord(section, name, DnsType.NS, ttl, target);

    /// <summary>TXT (RFC 1035 §3.3.14): <paramref name="text"/> split into 255-octet character-strings.</summary>
    public bool TryWriteTxt(DnsSection section, scoped DnsNameSource name, uint ttl, scoped ReadOnlySpan<byte> text)
    {
        if (!TryBeginRecord(section, name, DnsType.TXT, DnsClass.IN, ttl))
        {
            return false;
        }

        do
        {
            int chunk = Math.Min(text.Length, byte.MaxValue);
            if (!TryWriteRdataCharacterString(text.Slice(0, chunk)))
            {
                return false;
            }

            text = text.Slice(chunk);
        }
        while (!text.IsEmpty);

        return TryEndRecord();
    }

    /// <summary>NULL (RFC 1035 §3.3.10): raw octets.</summary>
    public bool TryWriteNull(DnsSection section, scoped DnsNameSource name, uint ttl, scoped ReadOnlySpan<byte> data) =>
        TryWriteRecord(section, name, DnsType.NULL, DnsClass.IN, ttl, data);

    /// <summary>SOA (RFC 1035 §3.3.13); for negative answers put it in the authority section (RFC 2308 §3).</summary>
    public bool TryWriteSoa(
        DnsSection section,
        scoped DnsNameSource zone,
        uint ttl,
        scoped DnsNameSource primaryServer,
        scoped DnsNameSource responsibleMailbox,
        uint serial,
        uint refresh,
        uint retry,
        uint expire,
        uint minimum) =>
        TryBeginRecord(section, zone, DnsType.SOA, DnsClass.IN, ttl)
        && TryWriteRdataName(primaryServer, compress: true)
        && TryWriteRdataName(responsibleMailbox, compress: true)
        && TryWriteRdataUInt32(serial)
        && TryWriteRdataUInt32(refresh)
        && TryWriteRdataUInt32(retry)
        && TryWriteRdataUInt32(expire)
        && TryWriteRdataUInt32(minimum)
        && TryEndRecord();

    /// <summary>MX (RFC 1035 §3.3.9).</summary>
    public bool TryWriteMx(DnsSection section, scoped DnsNameSource name, uint ttl, ushort preference, scoped DnsNameSource exchange) =>
        TryBeginRecord(section, name, DnsType.MX, DnsClass.IN, ttl)
        && TryWriteRdataUInt16(preference)
        && TryWriteRdataName(exchange, compress: true)
        && TryEndRecord();

    /// <summary>
    /// The EDNS(0) OPT record (RFC 6891 §6.1.2) in the additional section, carrying the upper RCODE
    /// bits given to <see cref="TryWriteHeader"/>. <paramref name="options"/> is the encoded option
    /// list (see <see cref="TryWriteEdnsOption"/>).
    /// </summary>
    public bool TryWriteOpt(ushort udpPayloadSize, bool dnssecOk = false, scoped ReadOnlySpan<byte> options = default, byte version = 0)
    {
        if (_optWritten)
        {
            return Fail(DnsError.InvalidState);
        }

        uint ttl = ((uint)_extendedRcode << 24) | ((uint)version << 16) | (dnssecOk ? OptDnssecOk : 0);
        if (!TryWriteRecord(DnsSection.Additional, DnsNameSource.FromUtf8("."u8), DnsType.OPT, (DnsClass)udpPayloadSize, ttl, options))
        {
            return false;
        }

        _optWritten = true;
        return true;
    }

    /// <summary>Encodes one EDNS option (RFC 6891 §6.1.2) for <see cref="TryWriteOpt"/>.</summary>
    public static bool TryWriteEdnsOption(Span<byte> destination, ushort code, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        bytesWritten = 0;
        if (data.Length > ushort.MaxValue || destination.Length < 4 + data.Length)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, code);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)data.Length);
        data.CopyTo(destination.Slice(4));
        bytesWritten = 4 + data.Length;
        return true;
    }

    /// <summary>
    /// Puts an Extended DNS Error (RFC 8914) with <paramref name="code"/> and an optional short
    /// <paramref name="extraText"/> (UTF-8, cut to <see cref="MaxExtendedErrorText"/> bytes) in the OPT that
    /// <see cref="TryFinish"/> echoes. A response to a query without OPT gets none (RFC 6891 §7), so a client that
    /// did not ask for EDNS never sees it.
    /// </summary>
    public void SetExtendedError(DnsExtendedError code, string? extraText = null)
    {
        _echoExtendedError = (int)code;
        _echoExtendedErrorText = extraText;
    }

    /// <summary>The most EXTRA-TEXT bytes <see cref="SetExtendedError"/> writes: a reason, not a report.</summary>
    public const int MaxExtendedErrorText = 64;

    /// <summary>
    /// Completes the message: adds the OPT a response must echo (RFC 6891 §7) if none was written,
    /// with the Extended DNS Error set by <see cref="SetExtendedError"/>, and checks no record is left open.
    /// </summary>
    public bool TryFinish(out int bytesWritten)
    {
        bytesWritten = 0;
        if (!_headerWritten || _recordStart >= 0)
        {
            return Fail(DnsError.InvalidState);
        }

        if (!_optWritten && _echoOpt && !TryWriteEchoedOpt())
        {
            return false;
        }

        // An extended RCODE cannot be expressed without OPT (RFC 6891 §6.1.3).
        if (_extendedRcode != 0 && !_optWritten)
        {
            return Fail(DnsError.InvalidState);
        }

        bytesWritten = _position;
        return true;
    }

    private bool TryWriteEchoedOpt()
    {
        if (_echoExtendedError < 0)
        {
            return TryWriteOpt(_echoUdpPayloadSize, _echoDnssecOk);
        }

        // OPTION-CODE, OPTION-LENGTH, INFO-CODE, EXTRA-TEXT (RFC 8914 §2).
        Span<byte> option = stackalloc byte[6 + MaxExtendedErrorText];
        int text = 0;
        if (_echoExtendedErrorText is { Length: > 0 } extra)
        {
            System.Text.Encoding.UTF8.TryGetBytes(extra.AsSpan(0, Math.Min(extra.Length, MaxExtendedErrorText)), option[6..], out text);
        }

        BinaryPrimitives.WriteUInt16BigEndian(option, (ushort)EdnsOptionCode.ExtendedDnsError);
        BinaryPrimitives.WriteUInt16BigEndian(option[2..], (ushort)(2 + text));
        BinaryPrimitives.WriteUInt16BigEndian(option[4..], (ushort)_echoExtendedError);
        return TryWriteOpt(_echoUdpPayloadSize, _echoDnssecOk, option[..(6 + text)]);
    }

    private bool TryWriteName(scoped DnsNameSource source, bool compress)
    {
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        if (!source.TryEncode(wire, out int length, out DnsError error))
        {
            return Fail(error);
        }

        wire = wire.Slice(0, length);
        int literal = length;
        int pointer = -1;
        if (compress)
        {
            // The first label start whose suffix was already written gives the longest match.
            for (int at = 0; wire[at] != 0; at += 1 + wire[at])
            {
                int hit = FindWrittenSuffix(wire.Slice(at));
                if (hit >= 0)
                {
                    literal = at;
                    pointer = hit;
                    break;
                }
            }
        }

        int total = literal + (pointer >= 0 ? 2 : 0);
        if (_buffer.Length - _position < total)
        {
            return Fail(DnsError.BufferTooSmall);
        }

        wire.Slice(0, literal).CopyTo(_buffer.Slice(_position));
        for (int at = 0; at < literal && wire[at] != 0; at += 1 + wire[at])
        {
            Remember(_position + at);
        }

        if (pointer >= 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buffer.Slice(_position + literal), (ushort)((DnsName.PointerTag << 8) | pointer));
        }

        _position += total;
        return true;
    }

    private readonly int FindWrittenSuffix(ReadOnlySpan<byte> suffix)
    {
        for (int i = 0; i < _offsetCount; i++)
        {
            if (WrittenNameEquals(_offsets[i], suffix))
            {
                return _offsets[i];
            }
        }

        return -1;
    }

    /// <summary>Compares a name this writer wrote (pointers included) with uncompressed wire labels.</summary>
    private readonly bool WrittenNameEquals(int offset, ReadOnlySpan<byte> wire)
    {
        int p = offset;
        int w = 0;
        int hops = 0;
        while (true)
        {
            byte b = _buffer[p];
            if ((b & DnsName.PointerTag) == DnsName.PointerTag)
            {
                if (++hops > DnsName.MaxPointerHops)
                {
                    return false;
                }

                p = ((b & ~DnsName.PointerTag) << 8) | _buffer[p + 1];
                continue;
            }

            if (b != wire[w])
            {
                return false;
            }

            if (b == 0)
            {
                return true;
            }

            if (!DnsName.LabelEquals(_buffer.Slice(p + 1, b), wire.Slice(w + 1, b)))
            {
                return false;
            }

            p += 1 + b;
            w += 1 + b;
        }
    }

    private void Remember(int offset)
    {
        if (offset <= MaxPointerOffset && _offsetCount < CompressionSlots)
        {
            _offsets[_offsetCount++] = (ushort)offset;
        }
    }

    private bool TryIncrementCount(DnsSection section)
    {
        Span<byte> slot = _buffer.Slice(4 + (2 * (int)section), 2);
        ushort count = BinaryPrimitives.ReadUInt16BigEndian(slot);
        if (count == ushort.MaxValue)
        {
            return Fail(DnsError.TooManyRecords);
        }

        BinaryPrimitives.WriteUInt16BigEndian(slot, (ushort)(count + 1));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryWriteByte(byte value)
    {
        if (_position >= _buffer.Length)
        {
            return Fail(DnsError.BufferTooSmall);
        }

        _buffer[_position++] = value;
        return true;
    }

    private bool TryWriteUInt16(ushort value)
    {
        if (!BinaryPrimitives.TryWriteUInt16BigEndian(_buffer.Slice(_position), value))
        {
            return Fail(DnsError.BufferTooSmall);
        }

        _position += 2;
        return true;
    }

    private bool TryWriteUInt32(uint value)
    {
        if (!BinaryPrimitives.TryWriteUInt32BigEndian(_buffer.Slice(_position), value))
        {
            return Fail(DnsError.BufferTooSmall);
        }

        _position += 4;
        return true;
    }

    private bool RequireRecord() => _recordStart >= 0 || Fail(DnsError.InvalidState);

    /// <summary>Drops the open record so the message stays well-formed after a failure.</summary>
    private bool AbortRecord()
    {
        _position = _recordStart;
        _offsetCount = _recordOffsetCount;
        _section = _recordPreviousSection;
        _recordStart = -1;
        _rdlengthAt = -1;
        return false;
    }

    private bool Rollback(int position, int offsetCount, DnsError error = DnsError.None)
    {
        _position = position;
        _offsetCount = offsetCount;
        return error == DnsError.None ? false : Fail(error);
    }

    private bool Fail(DnsError error)
    {
        _error = error;
        return false;
    }

    [InlineArray(CompressionSlots)]
    private struct OffsetTable
    {
        private ushort _element0;
    }
}
