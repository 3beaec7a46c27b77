using System.Buffers.Binary;

namespace DnsWarden.Wire.Dns;

/// <summary>Shared RDATA field readers.</summary>
public static class DnsRdata
{
    /// <summary>
    /// Reads a name at <paramref name="rdataOffset"/> that must fill the RDATA exactly (CNAME, NS,
    /// PTR: RFC 1035 §3.3). Compression pointers may reach earlier parts of the message.
    /// </summary>
    public static bool TryReadName(ReadOnlySpan<byte> message, int rdataOffset, int rdataLength, out DnsName name, out DnsError error)
    {
        if (!TryReadNameField(message, rdataOffset, rdataOffset + rdataLength, allowCompression: true, out name, out int consumed, out error))
        {
            return false;
        }

        if (consumed != rdataLength)
        {
            name = default;
            error = DnsError.BadRdata;
            return false;
        }

        return true;
    }

    /// <summary>A name that must start and end inside RDATA; running off the RDATA is malformed RDATA.</summary>
    internal static bool TryReadNameField(
        ReadOnlySpan<byte> message, int offset, int rdataEnd, bool allowCompression, out DnsName name, out int consumed, out DnsError error)
    {
        if (offset < 0 || rdataEnd > message.Length || offset >= rdataEnd)
        {
            name = default;
            consumed = 0;
            error = DnsError.BadRdata;
            return false;
        }

        if (!DnsName.TryRead(message, offset, rdataEnd, allowCompression, out name, out consumed, out error))
        {
            if (error == DnsError.Truncated)
            {
                error = DnsError.BadRdata;
            }

            return false;
        }

        return true;
    }
}

/// <summary>
/// A run of &lt;character-string&gt;s (RFC 1035 §3.3: one length octet then that many octets), as in
/// TXT RDATA or the SVCB alpn value.
/// </summary>
public readonly ref struct DnsCharacterStrings
{
    private readonly ReadOnlySpan<byte> _data;

    private DnsCharacterStrings(ReadOnlySpan<byte> data, int count, int totalLength)
    {
        _data = data;
        Count = count;
        TotalLength = totalLength;
    }

    public int Count { get; }

    /// <summary>Sum of the string lengths: the size of the strings concatenated.</summary>
    public int TotalLength { get; }

    /// <summary>The raw octets, length bytes included.</summary>
    public ReadOnlySpan<byte> RawData => _data;

    /// <summary>At least one string; the strings must fill <paramref name="data"/> exactly.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, bool allowEmptyStrings, out DnsCharacterStrings strings, out DnsError error)
    {
        strings = default;
        if (data.IsEmpty)
        {
            error = DnsError.BadRdata;
            return false;
        }

        int pos = 0;
        int count = 0;
        int total = 0;
        while (pos < data.Length)
        {
            int length = data[pos];
            if ((length == 0 && !allowEmptyStrings) || data.Length - pos - 1 < length)
            {
                error = DnsError.BadRdata;
                return false;
            }

            pos += 1 + length;
            total += length;
            count++;
        }

        strings = new DnsCharacterStrings(data, count, total);
        error = DnsError.None;
        return true;
    }

    /// <summary>Concatenates the strings, as TXT consumers (SPF, DKIM) expect.</summary>
    public bool TryCopyConcatenated(Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (destination.Length < TotalLength)
        {
            return false;
        }

        foreach (ReadOnlySpan<byte> s in this)
        {
            s.CopyTo(destination.Slice(bytesWritten));
            bytesWritten += s.Length;
        }

        return true;
    }

    public Enumerator GetEnumerator() => new(_data);

    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;
        private ReadOnlySpan<byte> _current;

        internal Enumerator(ReadOnlySpan<byte> data)
        {
            _data = data;
            _position = 0;
            _current = default;
        }

        public readonly ReadOnlySpan<byte> Current => _current;

        public bool MoveNext()
        {
            if (_position >= _data.Length)
            {
                return false;
            }

            int length = _data[_position];
            _current = _data.Slice(_position + 1, length);
            _position += 1 + length;
            return true;
        }
    }
}

/// <summary>SOA RDATA (RFC 1035 §3.3.13); <see cref="Minimum"/> bounds negative caching (RFC 2308 §5).</summary>
public readonly ref struct DnsSoa
{
    /// <summary>SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: five 32-bit fields after the two names.</summary>
    private const int FixedLength = 20;

    private DnsSoa(DnsName primaryServer, DnsName responsibleMailbox, uint serial, uint refresh, uint retry, uint expire, uint minimum)
    {
        PrimaryServer = primaryServer;
        ResponsibleMailbox = responsibleMailbox;
        Serial = serial;
        Refresh = refresh;
        Retry = retry;
        Expire = expire;
        Minimum = minimum;
    }

    /// <summary>MNAME.</summary>
    public DnsName PrimaryServer { get; }

    /// <summary>RNAME.</summary>
    public DnsName ResponsibleMailbox { get; }

    public uint Serial { get; }

    public uint Refresh { get; }

    public uint Retry { get; }

    public uint Expire { get; }

    public uint Minimum { get; }

    /// <summary>RFC 2308 §5: a negative answer is cached for the lesser of the SOA's own TTL and MINIMUM.</summary>
    public uint NegativeTtl(uint soaRecordTtl) => Math.Min(soaRecordTtl, Minimum);

    public static bool TryRead(ReadOnlySpan<byte> message, int rdataOffset, int rdataLength, out DnsSoa soa, out DnsError error)
    {
        soa = default;
        int end = rdataOffset + rdataLength;
        if (!DnsRdata.TryReadNameField(message, rdataOffset, end, allowCompression: true, out DnsName mname, out int n1, out error)
            || !DnsRdata.TryReadNameField(message, rdataOffset + n1, end, allowCompression: true, out DnsName rname, out int n2, out error))
        {
            return false;
        }

        int at = rdataOffset + n1 + n2;
        if (end - at != FixedLength)
        {
            error = DnsError.BadRdata;
            return false;
        }

        ReadOnlySpan<byte> f = message.Slice(at, FixedLength);
        soa = new DnsSoa(
            mname,
            rname,
            BinaryPrimitives.ReadUInt32BigEndian(f),
            BinaryPrimitives.ReadUInt32BigEndian(f.Slice(4)),
            BinaryPrimitives.ReadUInt32BigEndian(f.Slice(8)),
            BinaryPrimitives.ReadUInt32BigEndian(f.Slice(12)),
            BinaryPrimitives.ReadUInt32BigEndian(f.Slice(16)));
        return true;
    }
}

/// <summary>MX RDATA (RFC 1035 §3.3.9).</summary>
public readonly ref struct DnsMx
{
    private DnsMx(ushort preference, DnsName exchange)
    {
        Preference = preference;
        Exchange = exchange;
    }

    public ushort Preference { get; }

    public DnsName Exchange { get; }

    public static bool TryRead(ReadOnlySpan<byte> message, int rdataOffset, int rdataLength, out DnsMx mx, out DnsError error)
    {
        mx = default;
        if (rdataLength < 3 || rdataOffset + rdataLength > message.Length)
        {
            error = DnsError.BadRdata;
            return false;
        }

        if (!DnsRdata.TryReadName(message, rdataOffset + 2, rdataLength - 2, out DnsName exchange, out error))
        {
            return false;
        }

        mx = new DnsMx(BinaryPrimitives.ReadUInt16BigEndian(message.Slice(rdataOffset)), exchange);
        return true;
    }
}

/// <summary>SRV RDATA (RFC 2782).</summary>
public readonly ref struct DnsSrv
{
    private const int FixedLength = 6;

    private DnsSrv(ushort priority, ushort weight, ushort port, DnsName target)
    {
        Priority = priority;
        Weight = weight;
        Port = port;
        Target = target;
    }

    public ushort Priority { get; }

    public ushort Weight { get; }

    public ushort Port { get; }

    public DnsName Target { get; }

    public static bool TryRead(ReadOnlySpan<byte> message, int rdataOffset, int rdataLength, out DnsSrv srv, out DnsError error)
    {
        srv = default;
        if (rdataLength <= FixedLength || rdataOffset + rdataLength > message.Length)
        {
            error = DnsError.BadRdata;
            return false;
        }

        // RFC 2782 forbids compressing Target, but RFC 3597 §4 asks receivers to accept it anyway.
        if (!DnsRdata.TryReadName(message, rdataOffset + FixedLength, rdataLength - FixedLength, out DnsName target, out error))
        {
            return false;
        }

        ReadOnlySpan<byte> f = message.Slice(rdataOffset, FixedLength);
        srv = new DnsSrv(
            BinaryPrimitives.ReadUInt16BigEndian(f),
            BinaryPrimitives.ReadUInt16BigEndian(f.Slice(2)),
            BinaryPrimitives.ReadUInt16BigEndian(f.Slice(4)),
            target);
        return true;
    }
}
