using System.Buffers.Binary;

namespace DnsWarden.Wire.Dns;

/// <summary>The EDNS(0) OPT pseudo-record (RFC 6891 §6.1).</summary>
public readonly ref struct DnsOpt
{
    /// <summary>RFC 6891 §6.1.4: the DO bit (RFC 3225) is the top bit of the flags.</summary>
    private const ushort DnssecOkFlag = 0x8000;

    /// <summary>RFC 6891 §6.2.5: values below 512 are treated as 512.</summary>
    public const ushort MinimumUdpPayloadSize = 512;

    private DnsOpt(ushort udpPayloadSize, uint ttl, DnsEdnsOptions options)
    {
        UdpPayloadSize = udpPayloadSize;
        ExtendedRcode = (byte)(ttl >> 24);
        Version = (byte)(ttl >> 16);
        Flags = (ushort)ttl;
        Options = options;
    }

    /// <summary>Requestor's UDP payload size as sent (the CLASS field).</summary>
    public ushort UdpPayloadSize { get; }

    /// <summary>Upper 8 bits of the 12-bit RCODE (RFC 6891 §6.1.3).</summary>
    public byte ExtendedRcode { get; }

    public byte Version { get; }

    public ushort Flags { get; }

    public bool DnssecOk => (Flags & DnssecOkFlag) != 0;

    public DnsEdnsOptions Options { get; }

    /// <summary>Combines the header's 4 bits with <see cref="ExtendedRcode"/>.</summary>
    public DnsRcode GetRcode(DnsHeader header) => (DnsRcode)((ExtendedRcode << 4) | (int)header.Rcode);

    public static bool TryRead(DnsRecord record, out DnsOpt opt, out DnsError error)
    {
        opt = default;
        if (record.Type != DnsType.OPT)
        {
            error = DnsError.WrongType;
            return false;
        }

        // RFC 6891 §6.1.2: the owner name is the root.
        if (!record.Name.IsRoot)
        {
            error = DnsError.BadOpt;
            return false;
        }

        if (!DnsEdnsOptions.TryRead(record.Rdata, out DnsEdnsOptions options, out error))
        {
            return false;
        }

        opt = new DnsOpt((ushort)record.Class, record.Ttl, options);
        return true;
    }
}

/// <summary>One EDNS option (RFC 6891 §6.1.2).</summary>
public readonly ref struct DnsEdnsOption
{
    internal DnsEdnsOption(ushort code, ReadOnlySpan<byte> data)
    {
        Code = code;
        Data = data;
    }

    public ushort Code { get; }

    public EdnsOptionCode KnownCode => (EdnsOptionCode)Code;

    public ReadOnlySpan<byte> Data { get; }
}

/// <summary>The options carried in OPT RDATA, checked to fill it exactly.</summary>
public readonly ref struct DnsEdnsOptions
{
    /// <summary>RFC 6891 §6.1.2: OPTION-CODE and OPTION-LENGTH, 16 bits each.</summary>
    private const int OptionHeaderLength = 4;

    private readonly ReadOnlySpan<byte> _data;

    private DnsEdnsOptions(ReadOnlySpan<byte> data, int count)
    {
        _data = data;
        Count = count;
    }

    public int Count { get; }

    public ReadOnlySpan<byte> RawData => _data;

    public static bool TryRead(ReadOnlySpan<byte> data, out DnsEdnsOptions options, out DnsError error)
    {
        options = default;
        int pos = 0;
        int count = 0;
        while (pos < data.Length)
        {
            if (data.Length - pos < OptionHeaderLength
                || data.Length - pos - OptionHeaderLength < BinaryPrimitives.ReadUInt16BigEndian(data.Slice(pos + 2)))
            {
                error = DnsError.BadOpt;
                return false;
            }

            pos += OptionHeaderLength + BinaryPrimitives.ReadUInt16BigEndian(data.Slice(pos + 2));
            count++;
        }

        options = new DnsEdnsOptions(data, count);
        error = DnsError.None;
        return true;
    }

    public bool TryGet(ushort code, out ReadOnlySpan<byte> data)
    {
        foreach (DnsEdnsOption o in this)
        {
            if (o.Code == code)
            {
                data = o.Data;
                return true;
            }
        }

        data = default;
        return false;
    }

    public Enumerator GetEnumerator() => new(_data);

    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;
        private ushort _code;
        private ReadOnlySpan<byte> _value;

        internal Enumerator(ReadOnlySpan<byte> data)
        {
            _data = data;
            _position = 0;
            _code = 0;
            _value = default;
        }

        public readonly DnsEdnsOption Current => new(_code, _value);

        public bool MoveNext()
        {
            if (_position >= _data.Length)
            {
                return false;
            }

            _code = BinaryPrimitives.ReadUInt16BigEndian(_data.Slice(_position));
            int length = BinaryPrimitives.ReadUInt16BigEndian(_data.Slice(_position + 2));
            _value = _data.Slice(_position + OptionHeaderLength, length);
            _position += OptionHeaderLength + length;
            return true;
        }
    }
}
